"""The people around one order, read from the records, and whom a role means for it when a notification is made."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import records
from handlers.context import SYSTEM, Context
from rules.recipients import ORDER_ROLES, Recipient, choose
from storage import models


@dataclass(frozen=True)
class Circle:
    """The people around one order that `choose` picks from."""

    social_worker: models.Person | None
    manager: models.Person | None
    iro: models.Person | None
    people: list[models.Person]

    def choose(self, role: str, legal_address: str | None = None) -> list[Recipient]:
        return choose(role, self.social_worker, self.manager, self.iro, self.people, legal_address)


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
