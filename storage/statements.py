"""The statements whose SQL differs between SQLite and PostgreSQL, each behind one call, so no caller asks which."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import CTE, String, Table, bindparam, func, select, true, update
from sqlalchemy import cast as sql_cast
from sqlalchemy import insert as plain_insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models
from storage.database import insert_at_commit

POSTGRESQL = "postgresql"
SQLITE = "sqlite"


def dialect(session: AsyncSession) -> str:
    """The name of the database the session talks to: "postgresql" or "sqlite"."""
    return session.get_bind().dialect.name


def table(model: type[models.Base]) -> Table:
    """The Core table behind a model, for statements that need no ORM objects."""
    return cast(Table, model.__table__)


def insert(session: AsyncSession, target: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say what to do on a conflict (ON CONFLICT …), in the session's dialect."""
    return postgresql.insert(target) if dialect(session) == POSTGRESQL else sqlite.insert(target)


_CHILDREN = table(models.Child)
# Built once: each call only binds its values, so SQLAlchemy finds the compiled form in its cache at once. Its values
# are named, as they must be for the CTE below (an INSERT in a CTE would otherwise want one for every column).
_NEW_CHILD = {
    name: module.insert(_CHILDREN)
    .values({c: bindparam(c, type_=_CHILDREN.c[c].type) for c in ("local_id", "name", "date_of_birth")})
    .on_conflict_do_nothing(index_elements=["local_id"])
    .returning(_CHILDREN.c.id)
    for name, module in ((POSTGRESQL, postgresql), (SQLITE, sqlite))
}


_COUNTERS = table(models.ReferenceCounter)
# The year's next order number, its row locked until the transaction ends; no row comes back before the year's first.
_TAKE_NUMBER = (
    update(_COUNTERS)
    .where(_COUNTERS.c.year == bindparam("wanted_year"))
    .values(last=_COUNTERS.c.last + 1)
    .returning(_COUNTERS.c.last)
)
# PostgreSQL: both in one statement, each a CTE (a child known already, or a year without its row, gives NULL), with
# the order when the child is new (_NEW_CHILD_NUMBER_AND_ORDER, below).
_NEW_CHILD_CTE = _NEW_CHILD[POSTGRESQL].cte("new_child")
_TAKEN_CTE = _TAKE_NUMBER.cte("taken")


def reference(year: int, number: int) -> str:
    """An order's reference: the year and its number in it (SO-2026-0001); _REFERENCE writes it as this does."""
    return f"SO-{year}-{number:04d}"


async def add_child_and_take_number(
    session: AsyncSession, values: dict[str, Any], year: int, order: Mapping[str, Any],
    steps: Sequence[Mapping[str, Any]],
) -> tuple[int | None, int | None, int | None]:  # fmt: skip
    """A child seen for the first time written, in the statement that finds them new (one known already is left as
    it is), and the year's next order number taken (its counter locked until the transaction ends): the new child's
    id or None, the number or None (the year has no counter yet: nothing was taken), and the id of the order written
    with them, or None.

    On PostgreSQL one statement, not two: a round trip fewer on every order saved. That statement also writes
    `order` (ORDER_COLUMNS but its reference and its child) and its `steps` when the child is new and a number was
    taken: an order for a child never seen cannot have an open twin, and the reference is
    the number's (`reference`). Then the order costs no round trip of its own. Otherwise (and on SQLite) the order
    is not written here: the caller writes it with add_order_unless_open.
    """
    if dialect(session) == POSTGRESQL:
        params = {**values, **order, **_step_arrays(steps), "wanted_year": year}
        row = (await session.execute(_NEW_CHILD_NUMBER_AND_ORDER, params)).one()
        return row[0], row[1], row[2]
    created: int | None = await session.scalar(_NEW_CHILD[SQLITE], values)
    number: int | None = await session.scalar(_TAKE_NUMBER, {"wanted_year": year})
    return created, number, None


_CONVERSATIONS = table(models.ConversationReference)


async def keep_conversation(session: AsyncSession, conversation_id: str, values: dict[str, Any]) -> None:
    """Store this conversation's reference with `values`, made or replaced in one statement (an upsert), so two
    first turns at once both land."""
    statement = insert(session, _CONVERSATIONS).values(conversation_id=conversation_id, **values)
    await session.execute(statement.on_conflict_do_update(index_elements=["conversation_id"], set_=values))


_ORDERS = table(models.Order)
_MILESTONES = table(models.Milestone)
# A new order's columns as the save writes them, each a parameter of its own name.
ORDER_COLUMNS = ("reference", "child_id", "order_type", "made", "commenced", "last_day", "court", "other_orders",
                 "conditions", "procedure_id", "status", "ended_on", "end_reason", "social_worker_id", "notes",
                 "created_at", "updated_at", "form_id")  # fmt: skip
# A new order's step (a milestone row) but for its order's id.
STEP_COLUMNS = ("key", "occurrence", "title", "owner_role", "due", "preferred_by", "waiting_on", "source", "state",
                "done_on", "done_by_id", "updated_at")  # fmt: skip
_OPEN = _ORDERS.alias("open_order")
# A new order, written only when no open order of the same child, type and day made exists (then no row comes
# back): the look for one and the write in one statement.
_NEW_ORDER_UNLESS_OPEN = (
    plain_insert(_ORDERS)
    .from_select(
        ORDER_COLUMNS,
        select(*(bindparam(name, type_=_ORDERS.c[name].type) for name in ORDER_COLUMNS)).where(
            ~select(_OPEN.c.id)
            .where(
                _OPEN.c.child_id == bindparam("child_id"),
                _OPEN.c.order_type == bindparam("order_type"),
                _OPEN.c.made == bindparam("made"),
                _OPEN.c.status == "open",
            )
            .exists()
        ),
    )
    .returning(_ORDERS.c.id)
)
_NEW_STEPS = plain_insert(_MILESTONES)


def _steps_of(new_order: CTE) -> CTE:
    """The steps of the order `new_order` writes, against its new id: each column one array parameter, unnested."""
    return (
        plain_insert(_MILESTONES)
        .from_select(
            ["order_id", *STEP_COLUMNS],
            select(new_order.c.id, *(
                func.unnest(bindparam(f"steps_{c}", type_=postgresql.ARRAY(_MILESTONES.c[c].type)))
                for c in STEP_COLUMNS
            )),
        )
        .cte("steps")
    )  # fmt: skip


# PostgreSQL: the same, and the order's steps written against its new id in the same statement, each column of the
# steps one array parameter unnested in step (so the statement is one shape, and compiled once, for any number).
_NEW_ORDER = _NEW_ORDER_UNLESS_OPEN.cte("new_order")
_NEW_ORDER_AND_STEPS = select(_NEW_ORDER.c.id).add_cte(_steps_of(_NEW_ORDER))


def _step_arrays(steps: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """The steps' columns, each one array parameter (see _steps_of)."""
    return {f"steps_{c}": [step[c] for step in steps] for c in STEP_COLUMNS}


# PostgreSQL: the child and the year's number, and when the child is new and a number was
# taken, the order (its reference written from the number as `reference` writes it) with its steps.
_NUMBER_TEXT = sql_cast(_TAKEN_CTE.c.last, String)
_REFERENCE = func.concat("SO-", sql_cast(bindparam("wanted_year"), String), "-",
                         func.lpad(_NUMBER_TEXT, func.greatest(4, func.length(_NUMBER_TEXT)), "0"))  # fmt: skip
_ORDER_FOR_NEW_CHILD = (
    plain_insert(_ORDERS)
    .from_select(
        ORDER_COLUMNS,
        select(*(_REFERENCE if name == "reference" else _NEW_CHILD_CTE.c.id if name == "child_id"
                 else bindparam(name, type_=_ORDERS.c[name].type) for name in ORDER_COLUMNS))
        .select_from(_NEW_CHILD_CTE)
        .join(_TAKEN_CTE, true()),
    )
    .returning(_ORDERS.c.id)
    .cte("order_for_new_child")
)  # fmt: skip
_NEW_CHILD_NUMBER_AND_ORDER = select(
    select(_NEW_CHILD_CTE.c.id).scalar_subquery(), select(_TAKEN_CTE.c.last).scalar_subquery(),
    select(_ORDER_FOR_NEW_CHILD.c.id).scalar_subquery(),
).add_cte(_steps_of(_ORDER_FOR_NEW_CHILD))  # fmt: skip


async def add_order_unless_open(session: AsyncSession, order: Mapping[str, Any],
                                steps: Sequence[Mapping[str, Any]]) -> int | None:  # fmt: skip
    """Write a new order (ORDER_COLUMNS) and its steps (STEP_COLUMNS each), unless an open order of the same child,
    type and day made exists: the new order's id, or None when it exists (and nothing is written).

    On PostgreSQL in one statement, not two: a round trip fewer on every order saved, and one row of arrays for the
    steps rather than a row of values for each. On SQLite, in a part of a batch, the steps are left for the batch's
    commit (storage.database.insert_at_commit).
    """
    if dialect(session) == POSTGRESQL:
        new: int | None = await session.scalar(_NEW_ORDER_AND_STEPS, {**order, **_step_arrays(steps)})
        return new
    order_id: int | None = await session.scalar(_NEW_ORDER_UNLESS_OPEN, order)
    if order_id is not None:
        # In the mail poll's batch, the steps of all its orders go in one statement as it commits.
        await insert_at_commit(session, _NEW_STEPS, [{"order_id": order_id, **step} for step in steps])
    return order_id
