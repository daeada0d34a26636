"""Reading the directory: the people someone may be, and one person by id."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from storage.database import Database
from storage.models import Person


async def active_people(database: Database) -> list[Person]:
    """Everyone active in the directory, by name."""
    async with database.read() as session:
        return list((await session.scalars(select(Person).where(Person.active.is_(True)).order_by(Person.name))).all())


@dataclass(frozen=True)
class Listed:
    """One active person of the directory, as a list of choices needs them: no more columns than these."""

    id: int
    name: str
    roles: tuple[str, ...]
    team: str | None


async def listed(database: Database) -> list[Listed]:
    """Everyone active in the directory, by name, in four columns (a page's choices: teams, IROs)."""
    statement = select(Person.id, Person.name, Person.roles, Person.team).where(Person.active.is_(True))
    async with database.read() as session:
        rows = (await session.execute(statement.order_by(Person.name, Person.id))).all()
    return [Listed(row.id, row.name, tuple(row.roles or ()), row.team) for row in rows]


async def active_person(database: Database, person_id: int) -> Person | None:
    """The active person with this id; None for an unknown or departed one."""
    async with database.read() as session:
        person = await session.get(Person, person_id)
    return person if person is not None and person.active else None
