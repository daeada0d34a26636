"""What the channels show of an order: plain values, no database objects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import Context
from handlers.records import load
from rules.initials import initials
from rules.timeline import Milestone as PlannedStep
from storage import models


@dataclass(frozen=True)
class StepView:
    key: str
    occurrence: int
    title: str
    owner: str
    due: date | None
    preferred_by: date | None
    waiting_on: str | None
    state: str
    done_on: date | None
    overdue: bool


@dataclass(frozen=True)
class OrderView:
    reference: str
    child_local_id: str
    child_name: str
    child_initials: str
    order_type: str
    made: date
    commenced: date
    last_day: date
    procedure_id: str
    status: str
    ended_on: date | None
    end_reason: str | None
    court: str
    other_orders: str
    conditions: str
    social_worker: str | None
    iro: str | None
    steps: tuple[StepView, ...]
    social_worker_id: int | None = None
    iro_id: int | None = None
    # What people call the procedure (its title), where the view was made with the procedures at hand.
    procedure_title: str = ""
    # The Teams ids of the people on the order (its social worker and IRO) who have chatted with sobot: the people
    # its cards refresh for when they open them.
    viewers: tuple[str, ...] = ()

    def open_steps(self) -> list[StepView]:
        return [s for s in self.steps if s.state in ("open", "waiting")]

    def next_steps(self, count: int) -> list[StepView]:
        return [s for s in self.open_steps() if s.due is not None][:count]

    @property
    def overdue_count(self) -> int:
        return sum(1 for s in self.steps if s.overdue)


def step_view(row: models.Milestone, today: date) -> StepView:
    overdue = row.state == "open" and row.due is not None and row.due < today
    return StepView(row.key, row.occurrence, row.title, row.owner_role, row.due, row.preferred_by, row.waiting_on,
                    row.state, row.done_on, overdue)  # fmt: skip


def planned_step_view(step: PlannedStep, today: date) -> StepView:
    """A step of a timeline as its stored row will show it (see records.add_milestones)."""
    overdue = step.state == "open" and step.due is not None and step.due < today
    return StepView(step.key, step.occurrence, step.title, step.owner, step.due, step.preferred_by, step.waiting_on,
                    step.state, step.done_on, overdue)  # fmt: skip


def ordered(steps: Iterable[StepView]) -> tuple[StepView, ...]:
    """By due date (undated last), then key and occurrence: the order every channel shows steps in."""
    return tuple(sorted(steps, key=lambda s: (s.due is None, s.due or date.max, s.key, s.occurrence)))


def sorted_steps(rows: list[models.Milestone], today: date) -> tuple[StepView, ...]:
    return ordered(step_view(row, today) for row in rows)


async def teams_ids(session: AsyncSession, person_ids: Iterable[int | None]) -> tuple[str, ...]:
    """The Teams ids (the ids Teams gives users in a bot's conversations) of these people, where they have a chat
    with sobot, in the order given: each chat's stored reference names its user."""
    wanted = [person_id for person_id in dict.fromkeys(person_ids) if person_id is not None]
    if not wanted:
        return ()
    rows = await session.execute(
        select(models.ConversationReference.person_id, models.ConversationReference.reference).where(
            models.ConversationReference.person_id.in_(wanted),
            models.ConversationReference.kind == "personal",
            models.ConversationReference.stale.is_(False),
        )
    )
    found: dict[int, str] = {}
    for person_id, reference in rows:
        user = reference.get("user") if isinstance(reference, dict) else None
        if isinstance(user, dict) and isinstance(user.get("id"), str) and user["id"]:
            found.setdefault(person_id, user["id"])
    return tuple(dict.fromkeys(found[p] for p in wanted if p in found))


async def order_view(ctx: Context, session: AsyncSession, order: models.Order) -> OrderView:
    await load(session, order, "milestones", "allocations", "child", "social_worker")
    active = next((a for a in order.allocations if a.active), None)
    iro = None
    if active is not None:
        await load(session, active, "iro")
        iro = active.iro.name
    return OrderView(
        reference=order.reference,
        child_local_id=order.child.local_id,
        child_name=order.child.name,
        child_initials=initials(order.child.name),
        order_type=order.order_type,
        made=order.made,
        commenced=order.commenced,
        last_day=order.last_day,
        procedure_id=order.procedure_id,
        status=order.status,
        ended_on=order.ended_on,
        end_reason=order.end_reason,
        court=order.court or "",
        other_orders=order.other_orders or "",
        conditions=order.conditions or "",
        social_worker=order.social_worker.name if order.social_worker else None,
        iro=iro,
        steps=sorted_steps(list(order.milestones), ctx.today()),
        social_worker_id=order.social_worker_id,
        iro_id=active.iro_id if active else None,
        procedure_title=procedure.title if (procedure := ctx.procedures.get(order.procedure_id)) else "",
        viewers=await teams_ids(session, (order.social_worker_id, active.iro_id if active else None)),
    )
