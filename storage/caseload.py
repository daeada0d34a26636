"""The caseload's one query: the orders a viewer may see, filtered, sorted and a page at a time, with each one's
next step and overdue count; and the choices its filters offer.

Who may see which orders is decided above (handlers/caseload.py, from the permission table) and arrives here as a
Seeing; this module only turns it, and the filters, into SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import aliased

from storage.database import Database
from storage.models import Allocation, Child, Milestone, Order, Person


@dataclass(frozen=True)
class Seeing:
    """Which orders one person may see: all of them, or those they are linked to or their team's."""

    person_id: int
    every: bool = False
    as_social_worker: bool = False
    as_manager: bool = False  # of the order's social worker
    as_iro: bool = False
    team: str | None = None
    team_procedures: tuple[str, ...] = ()  # the procedures that give one of the person's team roles a step


@dataclass(frozen=True)
class Filters:
    """What the caseload is narrowed to. Dates arrive worked out (working days are the calendar's business)."""

    team: str | None = None
    procedure: str | None = None
    iro_id: int | None = None
    unallocated: bool = False
    overdue: bool = False
    due_by: date | None = None  # an open step due from today up to this day
    ending_by: date | None = None  # the last day from today up to this day
    status: str = "open"  # open, ended or all
    search: str | None = None  # a reference (whole, or its start) or a child's ID (whole)
    sort: str = "reference"
    descending: bool = True
    ids: Sequence[int] = field(default=())


@dataclass(frozen=True)
class CaseloadRow:
    reference: str
    child_local_id: str
    child_name: str
    order_type: str
    procedure_id: str
    status: str
    made: date
    last_day: date
    social_worker: str | None
    social_worker_id: int | None
    social_worker_manager_id: int | None
    team: str | None
    iro: str | None
    iro_id: int | None
    next_step: str | None
    next_due: date | None
    overdue_count: int


SORTS = ("reference", "made", "last_day", "next_due", "overdue", "social_worker", "team", "iro")

_WORKER = aliased(Person, name="social_worker")
_IRO = aliased(Person, name="iro")
_ACTIVE = aliased(Allocation, name="active_allocation")


def _next_open(today: date) -> Select[*tuple[Any, ...]]:
    return (select(Milestone.title, Milestone.due)
            .where(Milestone.order_id == Order.id, Milestone.state == "open", Milestone.due.is_not(None))
            .order_by(Milestone.due, Milestone.key, Milestone.occurrence).limit(1))  # fmt: skip


def _seen(seeing: Seeing) -> ColumnElement[bool]:
    if seeing.every:
        return true()
    ways: list[ColumnElement[bool]] = []
    if seeing.as_social_worker:
        ways.append(Order.social_worker_id == seeing.person_id)
    if seeing.as_manager:
        ways.append(_WORKER.manager_id == seeing.person_id)
    if seeing.as_iro:
        ways.append(_ACTIVE.iro_id == seeing.person_id)
    if seeing.team and seeing.team_procedures:
        ways.append(and_(_WORKER.team == seeing.team, Order.procedure_id.in_(seeing.team_procedures)))
    return or_(*ways) if ways else false()


def _filtered(seeing: Seeing, filters: Filters, today: date) -> list[ColumnElement[bool]]:
    where = [_seen(seeing)]
    if filters.status in ("open", "ended"):
        where.append(Order.status == filters.status)
    if filters.team:
        where.append(_WORKER.team == filters.team)
    if filters.procedure:
        where.append(Order.procedure_id == filters.procedure)
    if filters.iro_id is not None:
        where.append(_ACTIVE.iro_id == filters.iro_id)
    if filters.unallocated:
        where.append(_ACTIVE.id.is_(None))
    if filters.overdue:
        where.append(exists().where(Milestone.order_id == Order.id, Milestone.state == "open", Milestone.due < today))
    if filters.due_by is not None:
        where.append(exists().where(Milestone.order_id == Order.id, Milestone.state == "open",
                                    Milestone.due >= today, Milestone.due <= filters.due_by))  # fmt: skip
    if filters.ending_by is not None:
        where.append(and_(Order.last_day >= today, Order.last_day <= filters.ending_by))
    if filters.search:
        wanted = filters.search.strip()
        where.append(or_(Order.reference.startswith(wanted.upper(), autoescape=True), Child.local_id == wanted))
    return where


def _statement(seeing: Seeing, filters: Filters, today: date) -> Select[*tuple[Any, ...]]:
    next_title = _next_open(today).with_only_columns(Milestone.title).scalar_subquery()
    next_due = _next_open(today).with_only_columns(Milestone.due).scalar_subquery()
    overdue = (select(func.count()).select_from(Milestone)
               .where(Milestone.order_id == Order.id, Milestone.state == "open", Milestone.due < today)
               .scalar_subquery())  # fmt: skip
    sort_by: dict[str, Any] = {
        "reference": Order.reference, "made": Order.made, "last_day": Order.last_day, "next_due": next_due,
        "overdue": overdue, "social_worker": _WORKER.name, "team": _WORKER.team, "iro": _IRO.name,
    }  # fmt: skip
    key = sort_by.get(filters.sort, Order.reference)
    first = key.desc().nulls_last() if filters.descending else key.asc().nulls_last()
    then = Order.reference.desc() if filters.descending else Order.reference.asc()
    return (
        select(Order.reference, Child.local_id, Child.name, Order.order_type, Order.procedure_id, Order.status,
               Order.made, Order.last_day, _WORKER.name, _WORKER.id, _WORKER.manager_id, _WORKER.team, _IRO.name,
               _IRO.id, next_title, next_due, overdue)
        .join(Child, Order.child_id == Child.id)
        .outerjoin(_WORKER, Order.social_worker_id == _WORKER.id)
        .outerjoin(_ACTIVE, and_(_ACTIVE.order_id == Order.id, _ACTIVE.active.is_(True)))
        .outerjoin(_IRO, _ACTIVE.iro_id == _IRO.id)
        .where(*_filtered(seeing, filters, today))
        .order_by(first, then)
    )  # fmt: skip


def _count(seeing: Seeing, filters: Filters, today: date) -> Select[*tuple[Any, ...]]:
    return (
        select(func.count()).select_from(Order)
        .join(Child, Order.child_id == Child.id)
        .outerjoin(_WORKER, Order.social_worker_id == _WORKER.id)
        .outerjoin(_ACTIVE, and_(_ACTIVE.order_id == Order.id, _ACTIVE.active.is_(True)))
        .where(*_filtered(seeing, filters, today))
    )  # fmt: skip


async def caseload(database: Database, seeing: Seeing, filters: Filters, today: date, *, offset: int = 0,
                   limit: int | None = None) -> tuple[list[CaseloadRow], int]:  # fmt: skip
    """One page of the orders `seeing` lets its person see, narrowed by `filters` (every row when `limit` is None),
    and how many there are in all."""
    statement = _statement(seeing, filters, today).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    async with database.read() as session:
        found: list[tuple[Any, ...]] = [tuple(row) for row in await session.execute(statement)]
        rows = [CaseloadRow(*values) for values in found]
        total = int(await session.scalar(_count(seeing, filters, today)) or 0)
    return rows, total


async def teams(database: Database) -> list[str]:
    """Every team a social worker of an order is in, by name: what the team filter offers."""
    async with database.read() as session:
        found = await session.scalars(
            select(Person.team).join(Order, Order.social_worker_id == Person.id)
            .where(Person.team.is_not(None)).distinct().order_by(Person.team)
        )  # fmt: skip
        return [team for team in found if team]
