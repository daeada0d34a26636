"""Reading the directory: the people someone may be, and one person by id."""

from __future__ import annotations

from sqlalchemy import select

from storage.database import Database
from storage.models import Person


async def active_people(database: Database) -> list[Person]:
    """Everyone active in the directory, by name."""
    async with database.read() as session:
        return list((await session.scalars(select(Person).where(Person.active.is_(True)).order_by(Person.name))).all())


async def active_person(database: Database, person_id: int) -> Person | None:
    """The active person with this id; None for an unknown or departed one."""
    async with database.read() as session:
        person = await session.get(Person, person_id)
    return person if person is not None and person.active else None
