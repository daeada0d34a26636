"""Who someone is: matching a Teams or mail identity to the directory, and the IROs with their loads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, bindparam, func, select, update

from handlers.context import Actor, Context
from handlers.kept import Kept
from handlers.records import PEOPLE
from storage import models, people


@dataclass(frozen=True)
class PersonView:
    id: int
    name: str
    email: str
    roles: tuple[str, ...]
    team: str | None

    def has(self, role: str) -> bool:
        return role in self.roles

    @property
    def actor(self) -> Actor:
        return Actor(self.name, self.email)


def person_view(person: models.Person | Row[*tuple[Any, ...]]) -> PersonView:
    """A person as handlers pass them around, from the ORM object or a row of its columns."""
    return PersonView(person.id, person.name, person.email, tuple(person.roles), person.team)


# Every turn asks this, so the statements are built once and read only the columns a PersonView needs.
_COLUMNS = (PEOPLE.c.id, PEOPLE.c.name, PEOPLE.c.email, PEOPLE.c.roles, PEOPLE.c.team, PEOPLE.c.active,
            PEOPLE.c.entra_id)  # fmt: skip
_BY_ENTRA_ID = select(*_COLUMNS).where(PEOPLE.c.entra_id == bindparam("wanted"))
_BY_EMAIL = select(*_COLUMNS).where(PEOPLE.c.email == bindparam("wanted"))


# How long a process trusts what it read of a person (or of the unit's channel) before reading it again: a change
# to the directory, someone leaving included, reaches every running sobot within this time.
TRUSTED_FOR = timedelta(minutes=1)


async def identify(
    ctx: Context, entra_id: str | None, email: str | None, known: Kept[str, PersonView] | None = None
) -> PersonView | None:
    """The directory's person for this Entra object id, else this email; None for a stranger.

    With `known`, a person recognised by Entra object id in the last TRUSTED_FOR is not read again. Strangers are
    not kept: someone just added to the directory is recognised on their next turn.
    """
    now = ctx.clock.now()
    if known is not None and entra_id:
        kept = known.get(entra_id, now)
        if kept is not None:
            return kept[0]
    async with ctx.database.read() as session:
        person = None
        if entra_id:
            person = (await session.execute(_BY_ENTRA_ID, {"wanted": entra_id})).first()
        if person is None and email:
            person = (await session.execute(_BY_EMAIL, {"wanted": email.strip().lower()})).first()
        if person is None or not person.active:
            return None
        if entra_id and person.entra_id is None:
            # First sight in Teams: remember the object id so a changed email still matches.
            await session.execute(update(PEOPLE).where(PEOPLE.c.id == person.id).values(entra_id=entra_id))
    found = person_view(person)
    if known is not None and entra_id:
        known.keep(entra_id, found, now)
    return found


def independent(iro: int, social_worker: int | None, social_worker_manager: int | None) -> bool:
    """Whether an IRO may review an order: never when they are its social worker or that worker's manager."""
    return social_worker is None or iro not in (social_worker, social_worker_manager)


@dataclass(frozen=True)
class IroLoad:
    person: PersonView
    open_orders: int
    manages: frozenset[int] = frozenset()  # the people whose manager they are

    def independent_of(self, social_worker: int | None) -> bool:
        """Whether they may be the IRO of an order with this social worker."""
        return independent(self.person.id, social_worker, self.person.id if social_worker in self.manages else None)


async def iro_loads(ctx: Context) -> list[IroLoad]:
    """Every active IRO with the number of open orders allocated to them, fewest first, and whom they manage."""
    async with ctx.database.session() as session:
        rows = await session.execute(
            select(models.Allocation.iro_id, func.count())
            .join(models.Order, models.Allocation.order_id == models.Order.id)
            .where(models.Allocation.active.is_(True), models.Order.status == "open")
            .group_by(models.Allocation.iro_id)
        )
        counts: dict[int, int] = {iro_id: count for iro_id, count in rows}
        people = (await session.scalars(select(models.Person))).all()
        managed: dict[int, set[int]] = {}
        for p in people:
            if p.manager_id is not None:
                managed.setdefault(p.manager_id, set()).add(p.id)
        loads = [IroLoad(person_view(p), counts.get(p.id, 0), frozenset(managed.get(p.id, ())))
                 for p in people if p.active and "iro" in p.roles]  # fmt: skip
    return sorted(loads, key=lambda load: (load.open_orders, load.person.name))


async def unit_members(ctx: Context) -> list[str]:
    """The email of each active person with the safeguarding_unit role: by default, who is asked to allocate."""
    async with ctx.database.read() as session:
        people = (await session.scalars(select(models.Person).order_by(models.Person.email))).all()
    return [p.email for p in people if p.active and "safeguarding_unit" in p.roles]


async def directory(ctx: Context) -> list[PersonView]:
    """Everyone active in the directory, by name: whom local mode lets one be."""
    return [person_view(p) for p in await people.active_people(ctx.database)]


async def person_by_id(ctx: Context, person_id: int) -> PersonView | None:
    """The active person with this id, or None (unknown, or no longer active)."""
    found = await people.active_person(ctx.database, person_id)
    return person_view(found) if found is not None else None
