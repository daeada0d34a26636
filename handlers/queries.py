"""Questions about many orders at once: the list, what is overdue, the tracker Legal keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select, true
from sqlalchemy.orm import aliased, selectinload

from handlers.context import Context
from handlers.directory import PersonView
from handlers.views import sorted_steps
from rules.initials import initials
from storage import models


def _orders_with_people() -> Select[models.Order]:
    """Orders with what their summaries show: the child, the steps, the social worker and the IROs."""
    return select(models.Order).options(
        selectinload(models.Order.child),
        selectinload(models.Order.social_worker),
        selectinload(models.Order.milestones),
        selectinload(models.Order.allocations).selectinload(models.Allocation.iro),
    )


@dataclass(frozen=True)
class OrderSummary:
    """One line of the tracker of every order."""

    reference: str
    child_initials: str
    order_type: str
    made: date
    last_day: date
    procedure_id: str
    status: str
    iro: str | None
    social_worker: str | None
    next_step: str | None
    next_due: date | None
    overdue_count: int


async def order_summaries(
    ctx: Context, *, overdue_only: bool = False, include_ended: bool = False, of: PersonView | None = None
) -> list[OrderSummary]:
    """Every order (open ones unless `include_ended`; only `of` this person's when given), by reference;
    `overdue_only` keeps those with a late step."""
    today = ctx.today()
    query = _orders_with_people().order_by(models.Order.reference)
    if not include_ended:
        query = query.where(models.Order.status == "open")
    if of is not None:
        query = query.where(_works_on(of))
    async with ctx.database.session() as session:
        orders = (await session.scalars(query)).all()
        summaries = []
        for order in orders:
            steps = sorted_steps(list(order.milestones), today)
            overdue = sum(1 for s in steps if s.overdue)
            if overdue_only and not overdue:
                continue
            upcoming = next((s for s in steps if s.state == "open" and s.due is not None), None)
            iro = next((a.iro.name for a in order.allocations if a.active), None)
            summaries.append(
                OrderSummary(
                    reference=order.reference,
                    child_initials=initials(order.child.name),
                    order_type=order.order_type,
                    made=order.made,
                    last_day=order.last_day,
                    procedure_id=order.procedure_id,
                    status=order.status,
                    iro=iro,
                    social_worker=order.social_worker.name if order.social_worker else None,
                    next_step=upcoming.title if upcoming else None,
                    next_due=upcoming.due if upcoming else None,
                    overdue_count=overdue,
                )
            )
        return summaries


# Roles that oversee every order rather than their own.
OVERSIGHT_ROLES = {"safeguarding_unit", "service_manager", "head_of_service", "legal", "senior_reviewing_officer"}


@dataclass(frozen=True)
class DueStep:
    reference: str
    child_initials: str
    key: str
    occurrence: int
    title: str
    owner: str
    due: date
    overdue: bool


def _works_on(person: PersonView) -> ColumnElement[bool]:
    """The orders this person works on, as SQL: as social worker, IRO, the social worker's manager, or overseer."""
    if OVERSIGHT_ROLES & set(person.roles):
        return true()
    return or_(
        models.Order.social_worker_id == person.id,
        models.Order.social_worker_id.in_(select(models.Person.id).where(models.Person.manager_id == person.id)),
        exists().where(models.Allocation.order_id == models.Order.id, models.Allocation.active.is_(True),
                       models.Allocation.iro_id == person.id),
    )  # fmt: skip


async def my_orders(ctx: Context, person: PersonView) -> list[OrderSummary]:
    return await order_summaries(ctx, of=person)


async def due_steps(
    ctx: Context, person: PersonView, *, until: date | None, overdue_only: bool = False
) -> list[DueStep]:
    """Open steps of this person's orders: overdue ones, and (unless `overdue_only`) those due by `until`.

    Read as rows of the steps in range (an index range on state and due date), never whole orders.
    """
    today = ctx.today()
    last = today - timedelta(days=1) if overdue_only or until is None else max(until, today - timedelta(days=1))
    async with ctx.database.session() as session:
        rows = await session.execute(
            select(models.Milestone.key, models.Milestone.occurrence, models.Milestone.title,
                   models.Milestone.owner_role, models.Milestone.due, models.Order.reference, models.Child.name)
            .join(models.Order, models.Milestone.order_id == models.Order.id)
            .join(models.Child, models.Order.child_id == models.Child.id)
            .where(models.Milestone.state == "open", models.Milestone.due <= last, models.Order.status == "open",
                   _works_on(person))
        )  # fmt: skip
        found = [
            DueStep(reference, initials(child), key, occurrence, title, owner, due, due < today)
            for key, occurrence, title, owner, due, reference, child in rows
            if due is not None
        ]
    return sorted(found, key=lambda s: (s.due, s.reference, s.key))


# Who gets a morning digest, and of which orders: managers of their team's, IROs of their own.
DIGEST_ROLES = ("team_manager", "service_manager", "head_of_service", "iro")


def _digest_readers(readers: list[models.Person], manager_id: int | None, team: str | None,
                    iro_id: int | None, has_social_worker: bool) -> list[int]:  # fmt: skip
    found = []
    for person in readers:
        roles = person.roles
        same_team = bool(person.team) and team == person.team
        if (
            ("iro" in roles and iro_id == person.id)
            or ("team_manager" in roles and has_social_worker and (manager_id == person.id or same_team))
            or (("service_manager" in roles or "head_of_service" in roles) and (same_team or not person.team))
        ):
            found.append(person.id)
    return found


async def digests(ctx: Context, until: date) -> dict[int, list[DueStep]]:
    """Each digest reader's overdue steps and those due by `until`, by person id; nobody with nothing to read.

    Read as plain rows of the open steps due by `until` (an index range), never whole orders, so a large
    authority's morning costs what is due, not everything it holds.
    """
    today = ctx.today()
    social_worker = aliased(models.Person)
    async with ctx.database.session() as session:
        readers = [
            p for p in (await session.scalars(select(models.Person).where(models.Person.active.is_(True)))).all()
            if set(p.roles) & set(DIGEST_ROLES)
        ]  # fmt: skip
        if not readers:
            return {}
        rows = await session.stream(
            select(models.Milestone.key, models.Milestone.occurrence, models.Milestone.title,
                   models.Milestone.owner_role, models.Milestone.due, models.Order.reference, models.Child.name,
                   models.Order.social_worker_id, social_worker.manager_id, social_worker.team,
                   models.Allocation.iro_id)
            .join(models.Order, models.Milestone.order_id == models.Order.id)
            .join(models.Child, models.Order.child_id == models.Child.id)
            .outerjoin(social_worker, models.Order.social_worker_id == social_worker.id)
            .outerjoin(models.Allocation, and_(models.Allocation.order_id == models.Order.id,
                                               models.Allocation.active.is_(True)))
            .where(models.Milestone.state == "open", models.Milestone.due <= until, models.Order.status == "open")
        )  # fmt: skip
        found: dict[int, list[DueStep]] = {}
        async for key, occurrence, title, owner, due, reference, child, sw_id, manager_id, team, iro_id in rows:
            if due is None:
                continue
            step = DueStep(reference, initials(child), key, occurrence, title, owner, due, due < today)
            for person_id in _digest_readers(readers, manager_id, team, iro_id, sw_id is not None):
                found.setdefault(person_id, []).append(step)
    return {pid: sorted(steps, key=lambda s: (s.due, s.reference, s.key)) for pid, steps in found.items()}
