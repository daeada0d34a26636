"""The statements that bring a council's orders in many at a time: a block of references, and rows in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models
from storage.statements import table

ORDERS = table(models.Order)
CHILDREN = table(models.Child)
COUNTERS = table(models.ReferenceCounter)
_TAKE_BLOCK = (
    update(COUNTERS)
    .where(COUNTERS.c.year == bindparam("wanted"))
    .values(last=COUNTERS.c.last + bindparam("count"))
    .returning(COUNTERS.c.last)
)
_NEW_CHILDREN = insert(CHILDREN).returning(CHILDREN.c.id, CHILDREN.c.local_id, sort_by_parameter_order=True)
_NEW_ORDERS = insert(ORDERS).returning(ORDERS.c.id, sort_by_parameter_order=True)
# Rows written per statement: each is one statement under the database's statement timeout, however long the file.
CHUNK = 1000


def _chunks(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [list(rows[start : start + CHUNK]) for start in range(0, len(rows), CHUNK)]


async def take_order_numbers(session: AsyncSession, year: int, count: int) -> int:
    """The first of `count` consecutive order numbers of `year`, held by this transaction until it ends."""
    for _ in range(3):
        last = await session.scalar(_TAKE_BLOCK, {"wanted": year, "count": count})
        if last is not None:
            return int(last) - count + 1
        try:
            async with session.begin_nested():
                await session.execute(insert(COUNTERS).values(year=year, last=count))
            return 1
        except IntegrityError:
            continue  # another session made the year's row first: take the block from it
    raise RuntimeError(f"could not take {count} order numbers for {year}")


async def add_children(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Write children seen for the first time: each one's id by local ID."""
    made: dict[str, int] = {}
    for chunk in _chunks(rows):
        made.update({local_id: child_id for child_id, local_id in await session.execute(_NEW_CHILDREN, chunk)})
    return made


async def add_orders(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Write new orders: their ids, in the order of `rows`."""
    ids: list[int] = []
    for chunk in _chunks(rows):
        ids += (await session.scalars(_NEW_ORDERS, chunk)).all()
    return ids


async def add_rows(session: AsyncSession, model: type[models.Base], rows: Sequence[dict[str, Any]]) -> None:
    """Write rows of one table in one statement (events, allocations, extensions, milestones, audit lines)."""
    for chunk in _chunks(rows):
        await session.execute(insert(table(model)), chunk)


async def orders_known(session: AsyncSession) -> list[Any]:
    """Every order's reference, council reference, last import's digest, child ID, type and day made: what a
    new row is matched against."""
    found = await session.execute(
        select(ORDERS.c.id, ORDERS.c.reference, ORDERS.c.council_reference, ORDERS.c.import_fingerprint,
               ORDERS.c.order_type, ORDERS.c.made, ORDERS.c.status, CHILDREN.c.local_id)
        .join(CHILDREN, CHILDREN.c.id == ORDERS.c.child_id)
    )  # fmt: skip
    return list(found.all())


async def children_known(session: AsyncSession) -> list[Any]:
    """Every child's id, local ID, name and date of birth."""
    found = await session.execute(select(CHILDREN.c.id, CHILDREN.c.local_id, CHILDREN.c.name,
                                         CHILDREN.c.date_of_birth))  # fmt: skip
    return list(found.all())
