"""The oversight figures' reads: steps due and done, first allocations, what is overdue, orders ending, as plain rows.

Each read takes the same narrowing (the social worker's team, the procedure) and returns grouped counts or one
row per order, never whole orders with their relations, so a large authority's figures cost a few statements.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, Select, case, cast, exists, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import Allocation, Child, Event, Milestone, Order, Person
from storage.statements import POSTGRESQL, dialect

_WORKER = aliased(Person, name="social_worker")
_S = TypeVar("_S", bound=Select[*tuple[Any, ...]])

# States of a step that was asked for: a waived step (its order ended) or one still waiting on an event is not.
_ASKED = ("open", "done")


@dataclass(frozen=True)
class Narrowing:
    """Which orders the figures are of: those of one team's social workers, of one procedure, or every one."""

    team: str | None = None
    procedure: str | None = None


def _narrowed(query: _S, narrowing: Narrowing) -> _S:
    """The query (which already selects from orders) joined to the social worker and narrowed as asked."""
    query = query.outerjoin(_WORKER, Order.social_worker_id == _WORKER.id)
    if narrowing.team is not None:
        query = query.where(_WORKER.team == narrowing.team)
    if narrowing.procedure is not None:
        query = query.where(Order.procedure_id == narrowing.procedure)
    return query


@dataclass(frozen=True)
class StepsDue:
    """Of one team's orders under one procedure: the steps due in a span, and how many were done by their due day."""

    team: str | None
    procedure: str
    due: int
    on_time: int


async def steps_due(session: AsyncSession, first: date, last: date, narrowing: Narrowing) -> list[StepsDue]:
    """Steps that were asked for and fell due from `first` to `last`, by team and procedure, with those done on or
    before their due day."""
    on_time = func.sum(case(((Milestone.state == "done") & (Milestone.done_on <= Milestone.due), 1), else_=0))
    query = _narrowed(
        select(_WORKER.team, Order.procedure_id, func.count(), on_time)
        .select_from(Milestone)
        .join(Order, Milestone.order_id == Order.id),
        narrowing,
    ).where(Milestone.due >= first, Milestone.due <= last, Milestone.state.in_(_ASKED))
    rows = await session.execute(query.group_by(_WORKER.team, Order.procedure_id))
    return [StepsDue(team, procedure, int(due), int(done or 0)) for team, procedure, due, done in rows]


@dataclass(frozen=True)
class FirstAllocations:
    """How many orders of one procedure made on one day had their first IRO allocated on one day (None: not yet)."""

    procedure: str
    made: date
    allocated_on: date | None  # the day in the council's time zone
    orders: int


async def first_allocations(
    session: AsyncSession, first: date, last: date, narrowing: Narrowing, zone: str
) -> list[FirstAllocations]:
    """The orders made from `first` to `last`, counted by procedure, day made and the day (in `zone`) of their first
    allocation (a reallocation is later).

    PostgreSQL counts them itself, so a large authority's year comes back as a few thousand rows; SQLite, which
    knows no time zones, hands back each order's first instant and they are counted here.
    """
    earliest = (
        select(Allocation.order_id, func.min(Allocation.allocated_at).label("at"))
        .group_by(Allocation.order_id)
        .subquery()
    )

    def made_in_span(*columns: Any) -> Select[*tuple[Any, ...]]:
        query = select(Order.procedure_id, Order.made, *columns).select_from(Order)
        query = query.outerjoin(earliest, earliest.c.order_id == Order.id)
        return _narrowed(query, narrowing).where(Order.made >= first, Order.made <= last)

    if dialect(session) == POSTGRESQL:
        on = cast(func.timezone(zone, earliest.c.at), Date)
        rows = await session.execute(made_in_span(on, func.count()).group_by(Order.procedure_id, Order.made, on))
        return [FirstAllocations(procedure, made, allocated_on, int(n)) for procedure, made, allocated_on, n in rows]
    where = ZoneInfo(zone)
    counted: Counter[tuple[str, date, date | None]] = Counter()
    for procedure, made, at in await session.execute(made_in_span(earliest.c.at)):
        counted[procedure, made, _aware(at).astimezone(where).date() if at is not None else None] += 1
    return [FirstAllocations(procedure, made, on, n) for (procedure, made, on), n in counted.items()]


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


async def overdue_by_due_day(session: AsyncSession, today: date, narrowing: Narrowing) -> dict[date, int]:
    """Open steps of open orders due before `today`, counted by their due day."""
    query = _narrowed(
        select(Milestone.due, func.count()).select_from(Milestone).join(Order, Milestone.order_id == Order.id),
        narrowing,
    ).where(Milestone.state == "open", Milestone.due < today, Order.status == "open")
    rows = await session.execute(query.group_by(Milestone.due))
    return {due: int(count) for due, count in rows if due is not None}


@dataclass(frozen=True)
class Ending:
    """An open order whose last day falls in the span, and whether its procedure's decision event is recorded."""

    reference: str
    child_name: str
    procedure: str
    team: str | None
    last_day: date
    decided: bool


@dataclass(frozen=True)
class EndingCount:
    """How many open orders of one procedure end in the span, with their decision recorded or not."""

    procedure: str
    decided: bool
    orders: int


def _decided(decisions: Mapping[str, str]) -> ColumnElement[bool]:
    """Whether the order's procedure's decision event (`decisions`: procedure → event kind) is recorded for it."""
    if not decisions:
        return false()
    kind = case(dict(decisions), value=Order.procedure_id, else_=None)
    return exists().where(Event.order_id == Order.id, Event.kind == kind)


def _ending(query: _S, first: date, last: date, narrowing: Narrowing) -> _S:
    return _narrowed(query, narrowing).where(Order.status == "open", Order.last_day >= first, Order.last_day <= last)


async def orders_ending(
    session: AsyncSession, first: date, last: date, narrowing: Narrowing, decisions: Mapping[str, str], most: int
) -> list[Ending]:
    """The first `most` open orders whose last day is from `first` to `last`, soonest first, each with whether the
    decision event its procedure asks for (`decisions`: procedure → event kind) is recorded."""
    query = _ending(
        select(Order.reference, Child.name, Order.procedure_id, _WORKER.team, Order.last_day, _decided(decisions))
        .select_from(Order)
        .join(Child, Order.child_id == Child.id),
        first, last, narrowing,
    )  # fmt: skip
    rows = await session.execute(query.order_by(Order.last_day, Order.reference).limit(most))
    return [Ending(reference, child, procedure, team, last_day, bool(decided))
            for reference, child, procedure, team, last_day, decided in rows]  # fmt: skip


async def orders_ending_counts(
    session: AsyncSession, first: date, last: date, narrowing: Narrowing, decisions: Mapping[str, str]
) -> list[EndingCount]:
    """How many open orders end from `first` to `last`, by procedure and whether their decision is recorded."""
    each = _ending(
        select(Order.procedure_id.label("procedure"), _decided(decisions).label("decided")).select_from(Order),
        first, last, narrowing,
    ).subquery()  # fmt: skip
    rows = await session.execute(
        select(each.c.procedure, each.c.decided, func.count()).group_by(each.c.procedure, each.c.decided)
    )
    return [EndingCount(procedure, bool(decided), int(count)) for procedure, decided, count in rows]


async def teams(session: AsyncSession) -> list[str]:
    """The teams of the social workers that orders name, by name."""
    query = select(_WORKER.team).select_from(Order).join(_WORKER, Order.social_worker_id == _WORKER.id)
    found = await session.scalars(query.where(_WORKER.team.is_not(None)).distinct())
    return sorted(team for team in found if team)
