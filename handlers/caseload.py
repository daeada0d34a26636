"""The caseload: every order a person may see under the permission table, narrowed, sorted and paged, and the
tracker of the same view for export. The child's full name only to people linked to the order; initials elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from handlers import records
from handlers.context import Context
from handlers.directory import PersonView, iro_loads
from handlers.errors import NotFound
from handlers.permissions import TABLE, Scope, procedure_roles
from rules.dates import add_months
from rules.initials import initials
from rules.procedures import Procedure
from storage import caseload as stored
from storage.caseload import SORTS, Filters, Seeing

PAGE_SIZE = 50
# "Ending within 3 months": the tracker Legal keeps asks what is decided for these.
ENDING_MONTHS = 3
STATUSES = ("open", "ended", "all")

__all__ = ["ENDING_MONTHS", "PAGE_SIZE", "SORTS", "STATUSES", "Caseload", "CaseloadLine", "CaseloadQuery",
           "Choices", "caseload", "choices", "export", "seeing", "shows_full_name"]  # fmt: skip


def seeing(person: PersonView, procedures: Mapping[str, Procedure]) -> Seeing:
    """Which orders the permission table lets this person see ("order.view"), for the caseload's query (pure)."""
    every = linked_sw = linked_tm = linked_iro = False
    team_roles: set[str] = set()
    for role in person.roles:
        scope = TABLE.get(role, {}).get("order.view")
        if scope is Scope.EVERY:
            every = True
        elif scope is Scope.LINKED:
            linked_sw |= role == "social_worker"
            linked_tm |= role == "team_manager"
            linked_iro |= role == "iro"
        elif scope is Scope.TEAM:
            team_roles.add(role)
    team_procedures = tuple(sorted(pid for pid, p in procedures.items() if team_roles & procedure_roles(p)))
    return Seeing(person.id, every, linked_sw, linked_tm, linked_iro, person.team if team_procedures else None,
                  team_procedures)  # fmt: skip


def shows_full_name(person: PersonView, social_worker_id: int | None, manager_id: int | None,
                    iro_id: int | None) -> bool:  # fmt: skip
    """Whether this person is linked to the order (its social worker, their manager, its IRO), and so may read the
    child's full name (pure)."""
    return (
        (social_worker_id == person.id and person.has("social_worker"))
        or (manager_id == person.id and person.has("team_manager"))
        or (iro_id == person.id and person.has("iro"))
    )


@dataclass(frozen=True)
class CaseloadQuery:
    """What the viewer asked the caseload for."""

    team: str | None = None
    procedure: str | None = None
    iro_id: int | None = None
    unallocated: bool = False
    overdue: bool = False
    due_within: int | None = None  # working days from today
    ending_soon: bool = False  # within ENDING_MONTHS
    status: str = "open"
    search: str | None = None
    sort: str = "reference"
    descending: bool = True
    page: int = 1


@dataclass(frozen=True)
class CaseloadLine:
    reference: str
    child: str  # the full name to people linked to the order, else initials
    full_name: bool
    order_type: str
    procedure_id: str
    procedure: str
    status: str
    social_worker: str | None
    team: str | None
    iro: str | None
    made: date
    last_day: date
    next_step: str | None
    next_due: date | None
    overdue_count: int


@dataclass(frozen=True)
class Caseload:
    lines: list[CaseloadLine]
    total: int
    page: int
    pages: int
    query: CaseloadQuery
    today: date


def _search(text: str | None) -> str | None:
    """A reference however it is typed ("so-2026-7"), else the words as typed (a child's ID, or a reference's start)."""
    if not text or not text.strip():
        return None
    try:
        return records.normalise_reference(text)
    except NotFound:
        return text.strip()


def _filters(ctx: Context, query: CaseloadQuery, today: date) -> Filters:
    due_by = ctx.calendar.add_working_days(today, query.due_within) if query.due_within else None
    return Filters(
        team=query.team, procedure=query.procedure, iro_id=query.iro_id, unallocated=query.unallocated,
        overdue=query.overdue, due_by=due_by, ending_by=add_months(today, ENDING_MONTHS) if query.ending_soon else None,
        status=query.status if query.status in STATUSES else "open",
        search=_search(query.search),
        sort=query.sort if query.sort in SORTS else "reference", descending=query.descending,
    )  # fmt: skip


def _lines(ctx: Context, person: PersonView, rows: Iterable[stored.CaseloadRow]) -> list[CaseloadLine]:
    lines = []
    for row in rows:
        full = shows_full_name(person, row.social_worker_id, row.social_worker_manager_id, row.iro_id)
        procedure = ctx.procedures.get(row.procedure_id)
        lines.append(CaseloadLine(
            row.reference, row.child_name if full else initials(row.child_name), full, row.order_type,
            row.procedure_id, procedure.title if procedure else row.procedure_id, row.status, row.social_worker,
            row.team, row.iro, row.made, row.last_day, row.next_step, row.next_due, row.overdue_count,
        ))  # fmt: skip
    return lines


async def caseload(ctx: Context, person: PersonView, query: CaseloadQuery) -> Caseload:
    """One page of the orders this person may see, as `query` narrows and sorts them."""
    today = ctx.today()
    filters = _filters(ctx, query, today)
    page = max(query.page, 1)
    rows, total = await stored.caseload(ctx.database, seeing(person, ctx.procedures), filters, today,
                                        offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)  # fmt: skip
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages and total:
        return await caseload(ctx, person, replace(query, page=pages))
    return Caseload(_lines(ctx, person, rows), total, page, pages, query, today)


async def export(ctx: Context, person: PersonView, query: CaseloadQuery, form: str) -> list[CaseloadLine]:
    """Every order of the caseload as `query` narrows it (all pages), for a tracker file; the export is audited."""
    today = ctx.today()
    filters = _filters(ctx, query, today)
    rows, total = await stored.caseload(ctx.database, seeing(person, ctx.procedures), filters, today)
    async with ctx.database.session() as session:
        records.audit(session, ctx, person.actor, "caseload.export", None, {"form": form, "orders": total})
    return _lines(ctx, person, rows)


@dataclass(frozen=True)
class Choices:
    """What the caseload's filters offer: teams, procedures (id, title) and IROs (id, name)."""

    teams: Sequence[str]
    procedures: Sequence[tuple[str, str]]
    iros: Sequence[tuple[int, str]]


async def choices(ctx: Context) -> Choices:
    loads = await iro_loads(ctx)
    iros = sorted(((load.person.id, load.person.name) for load in loads), key=lambda pair: pair[1])
    procedures = sorted(((pid, p.title) for pid, p in ctx.procedures.items()), key=lambda pair: pair[1])
    return Choices(await stored.teams(ctx.database), procedures, iros)
