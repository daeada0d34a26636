"""Who a role is for one order, when a notification is made: the people to tell, or nobody (said aloud)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import records
from handlers.context import SYSTEM, Context
from storage import models

# Roles held by many people: those in the social worker's team are told when there are any, else all of them.
TEAM_ROLES = {"service_manager", "head_of_service", "practice_manager", "family_support_worker", "cp_chair",
              "senior_reviewing_officer"}  # fmt: skip


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str
    person_id: int | None = None


def choose(
    role: str,
    social_worker: models.Person | None,
    manager: models.Person | None,
    iro: models.Person | None,
    people: list[models.Person],
    legal_address: str | None,
) -> list[Recipient]:
    """The people `role` means for an order with this social worker, manager and IRO (pure)."""

    def of(person: models.Person | None) -> list[Recipient]:
        return [Recipient(person.name, person.email, person.id)] if person is not None and person.active else []

    if role == "social_worker":
        return of(social_worker)
    if role == "team_manager":
        return of(manager)
    if role == "iro":
        return of(iro)
    holders = [p for p in people if p.active and role in p.roles]
    if role == "legal":
        found = [Recipient(p.name, p.email, p.id) for p in holders]
        return found or ([Recipient("Legal", legal_address)] if legal_address else [])
    if role in TEAM_ROLES and social_worker is not None and social_worker.team:
        in_team = [p for p in holders if p.team == social_worker.team]
        holders = in_team or holders
    return [Recipient(p.name, p.email, p.id) for p in sorted(holders, key=lambda p: p.name)]


@dataclass(frozen=True)
class Circle:
    """The people around one order that `choose` picks from."""

    social_worker: models.Person | None
    manager: models.Person | None
    iro: models.Person | None
    people: list[models.Person]

    def choose(self, role: str, legal_address: str | None = None) -> list[Recipient]:
        return choose(role, self.social_worker, self.manager, self.iro, self.people, legal_address)


# The roles `choose` answers from the order itself; any other needs the directory's holders of it.
ORDER_ROLES = {"social_worker", "team_manager", "iro"}


async def circle(session: AsyncSession, order: models.Order, roles: set[str]) -> Circle:
    """The order's social worker, their manager, its IRO, and (when `roles` asks for more) the directory."""
    social_worker = order.social_worker
    manager = None
    if social_worker is not None and social_worker.manager_id is not None:
        manager = await session.get(models.Person, social_worker.manager_id)
    iro = next((a.iro for a in order.allocations if a.active), None)
    people = list((await session.scalars(select(models.Person))).all()) if roles - ORDER_ROLES else []
    return Circle(social_worker, manager, iro, people)


async def recipients(ctx: Context, reference: str, role: str, legal_address: str | None = None) -> list[Recipient]:
    """The people to tell for `role` on this order; an empty answer is audited, so nobody is skipped in silence."""
    async with ctx.database.session() as session:
        order = await records.order(session, reference)
        found = (await circle(session, order, {role})).choose(role, legal_address)
        if not found:
            records.audit(session, ctx, SYSTEM, "notify.nobody", order.reference, {"role": role})
        return found
