"""The oversight figures for managers, Heads of Service, the unit and Legal: is the procedure being followed?

Over the last 12 months: steps done on time (per team, per procedure), working days from an order made to its
IRO's allocation (median and 90th percentile), the overdue steps by how long they have waited, and the orders
ending in the next 3 months with whether their decision is recorded. Who may see which orders' figures is the
permission table's "oversight.view" row: a team manager their own team's, the others every order's.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NoReturn

from handlers import permissions, records
from handlers.context import Actor, Context
from handlers.errors import InvalidInput, NotAllowed, brief
from rules.calendar import WorkingCalendar
from rules.dates import add_months
from rules.initials import initials
from storage import oversight
from storage.oversight import Narrowing

ACTION = "oversight.view"
MONTHS_BACK = 12
MONTHS_AHEAD = 3
NO_TEAM = "No team"
EVERY_ORDER = "every order"
# The orders ending soon are listed, soonest first, up to this many; the caseload's "ending within 3 months" has all.
ENDING_SHOWN = 50

# The event that records each built-in procedure's decision on the order's future (its outcome, or whether to seek
# a further order or an extension). Bradford's guide leaves that to the court's final hearing: it names none.
DECISIONS: Mapping[str, str] = {
    "wirral": "outcome",  # §6.4–7.1: Outcome A (no further legal action) or B (seek an extension)
    "camden": "further_order_decision",  # §7: the review decides on a further order
    "sussex": "final_decision_endorsed",  # §9: the Family Support Service Manager endorses the final decision
    "leicestershire": "service_manager_overview",  # §6: the overview decides whether an extension is needed
}


@dataclass(frozen=True)
class WaitBucket:
    """Overdue steps that have waited a span of working days since their due day."""

    label: str
    least: int
    most: int | None  # None: no upper end

    def holds(self, waited: int) -> bool:
        return waited >= self.least and (self.most is None or waited <= self.most)


BUCKETS = (
    WaitBucket("1–5 working days", 1, 5),
    WaitBucket("6–10 working days", 6, 10),
    WaitBucket("11–20 working days", 11, 20),
    WaitBucket("over 20 working days", 21, None),
)


@dataclass(frozen=True)
class OnTime:
    """Of the steps due in the span in one team or under one procedure, how many were done by their due day."""

    name: str
    due: int
    on_time: int

    @property
    def percent(self) -> float | None:
        return None if self.due == 0 else 100 * self.on_time / self.due


@dataclass(frozen=True)
class AllocationTimes:
    """Working days from the day an order was made to its first IRO's allocation, over the orders of one procedure
    (or all) made in the span."""

    name: str
    allocated: int
    unallocated: int
    median: float | None
    p90: int | None


@dataclass(frozen=True)
class Waited:
    bucket: WaitBucket
    steps: int


@dataclass(frozen=True)
class EndingOrder:
    """An open order ending soon: by reference and the child's initials only (these figures are not its file)."""

    reference: str
    child_initials: str
    procedure: str
    team: str
    last_day: date
    decision: str | None  # the decision's title under its procedure; None when the procedure names none
    decided: bool


@dataclass(frozen=True)
class Figures:
    """Everything the oversight page shows, for the orders the viewer may see, narrowed as they asked."""

    today: date
    since: date  # the first day of the 12 months
    until: date  # the last day the orders ending are looked for
    scope: str  # in words: EVERY_ORDER or "the North team's orders"
    team: str | None
    procedure: str | None
    teams: tuple[str, ...]  # the teams the viewer may narrow to
    procedures: Mapping[str, str]  # id → title, every procedure the viewer may narrow to
    on_time_by_team: tuple[OnTime, ...]
    on_time_by_procedure: tuple[OnTime, ...]
    on_time_overall: OnTime
    allocation: tuple[AllocationTimes, ...]  # per procedure, then "All procedures"
    waited: tuple[Waited, ...]
    ending: tuple[EndingOrder, ...]  # the first ENDING_SHOWN of them, soonest first
    ending_total: int  # every open order ending by `until`
    ending_decided: int  # of them, those whose decision is recorded
    ending_undecided: int  # those whose decision is not recorded yet
    ending_no_decision: int  # those whose procedure names no decision


def percentile_90(values: Sequence[int]) -> int:
    """The 90th percentile by nearest rank: the smallest value at least 90% of the values are at or below."""
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def bucket_of(waited: int) -> WaitBucket:
    # A step due on a non-working day has waited no working day on the next one, yet is overdue: it is in the first.
    return next(b for b in BUCKETS if b.holds(max(waited, 1)))


class WorkingDayCount:
    """Working days between any two days of a span, each answer a subtraction: the calendar is walked once.

    The figures ask it for every order made in the year and every day a step fell overdue; walking the calendar
    for each (calendar.working_days_between) would cost days × orders.
    """

    def __init__(self, calendar: WorkingCalendar, days: Iterable[date]) -> None:
        wanted = list(days)
        self._calendar = calendar
        self._first = min(wanted, default=date.min)
        self._upto: dict[date, int] = {}
        day, count = self._first, 0
        for _ in range((max(wanted) - self._first).days + 1 if wanted else 0):
            count += calendar.is_working_day(day)
            self._upto[day] = count
            day += timedelta(days=1)

    def between(self, start: date, end: date) -> int:
        """As calendar.working_days_between: working days after `start` up to and including `end`."""
        if start in self._upto and end in self._upto:
            return self._upto[end] - self._upto[start]
        return self._calendar.working_days_between(start, end)


def allocation_times(name: str, made: Iterable[oversight.FirstAllocations], count: WorkingDayCount) -> AllocationTimes:
    waits: list[int] = []
    unallocated = 0
    for row in made:
        if row.allocated_on is None:
            unallocated += row.orders
        else:
            waits.extend([count.between(row.made, row.allocated_on)] * row.orders)
    if not waits:
        return AllocationTimes(name, 0, unallocated, None, None)
    return AllocationTimes(name, len(waits), unallocated, statistics.median(waits), percentile_90(waits))


def decision_title(ctx: Context, procedure_id: str) -> str | None:
    """The title of the event that records this procedure's decision; None when it names none."""
    key = DECISIONS.get(procedure_id)
    procedure = ctx.procedures.get(procedure_id)
    if key is None or procedure is None or key not in procedure.event_keys():
        return None
    return procedure.event_keys()[key].title


async def _scope(ctx: Context, actor: Actor, team: str | None) -> tuple[str | None, str]:
    """The team the figures must be of (None: any the viewer asked for) and the scope in words; refuses those the
    table does not allow, auditing the refusal."""
    if actor.administrator:
        return team, EVERY_ORDER
    async with ctx.database.read() as session:
        person = await records.actor_person(session, actor)
    roles = person.roles if person is not None and person.active else []
    scope = permissions.widest_scope(roles, ACTION)
    if scope is permissions.Scope.EVERY:
        return team, EVERY_ORDER
    own = person.team if person is not None else None
    if scope is permissions.Scope.TEAM and own:
        if team is not None and team != own:
            sentence = f"You can see the oversight figures of your own team ({own}) only, not of {brief(team)}."
            await _refuse(ctx, actor, sentence, "the team's manager")
        return own, f"the {own} team's orders"
    if scope is permissions.Scope.TEAM:
        sentence = "The directory gives you no team, so there are no team figures to show: ask for your team to be set."
        await _refuse(ctx, actor, sentence, "a team")
    await _refuse(ctx, actor, permissions.refusal(ACTION, None), permissions.NEEDS[ACTION])


async def _refuse(ctx: Context, actor: Actor, sentence: str, needs: str) -> NoReturn:
    await permissions.audit_refusal(ctx, actor, permissions.Refused(ACTION, None, sentence, needs))
    raise NotAllowed(sentence)


def may_oversee(roles: Iterable[str], team: str | None) -> bool:
    """Whether someone with these roles and team may see any oversight figures (pure): a channel shows its way to
    them only then."""
    scope = permissions.widest_scope(roles, ACTION)
    return scope is permissions.Scope.EVERY or (scope is permissions.Scope.TEAM and bool(team))


async def may_view(ctx: Context, actor: Actor) -> bool:
    """Whether this viewer may see any oversight figures; nothing is audited."""
    if actor.administrator:
        return True
    async with ctx.database.read() as session:
        person = await records.actor_person(session, actor)
    return person is not None and person.active and may_oversee(person.roles, person.team)


async def figures(ctx: Context, actor: Actor, *, team: str | None = None, procedure: str | None = None) -> Figures:
    """The oversight figures of the orders `actor` may see, narrowed to one team and one procedure when asked."""
    team, scope = await _scope(ctx, actor, team)
    if procedure is not None and procedure not in ctx.procedures:
        known = ", ".join(sorted(ctx.procedures))
        raise InvalidInput(f"There is no procedure {brief(procedure)!r}: choose one of {known}, or all of them.",
                           "procedure")  # fmt: skip
    today = ctx.today()
    since = add_months(today, -MONTHS_BACK) + timedelta(days=1)
    until = add_months(today, MONTHS_AHEAD)
    narrowing = Narrowing(team, procedure)
    decisions = {p: DECISIONS[p] for p in ctx.procedures if decision_title(ctx, p) is not None}
    async with ctx.database.read() as session:
        known_teams = [team] if scope != EVERY_ORDER and team else await oversight.teams(session)
        if team is not None and team not in known_teams:
            teams = ", ".join(known_teams) or "none yet"
            raise InvalidInput(f"No order's social worker is in a team called {brief(team)!r}: choose one of "
                               f"{teams}, or every team.", "team")  # fmt: skip
        # Steps due up to yesterday: by today each was done on time, done late, or is overdue.
        due = await oversight.steps_due(session, since, today - timedelta(days=1), narrowing)
        made = await oversight.first_allocations(session, since, today, narrowing, ctx.zone)
        overdue = await oversight.overdue_by_due_day(session, today, narrowing)
        ending = await oversight.orders_ending(session, today, until, narrowing, decisions, ENDING_SHOWN)
        ending_counts = await oversight.orders_ending_counts(session, today, until, narrowing, decisions)

    def totals(by_team: bool) -> tuple[OnTime, ...]:
        found: dict[str, list[int]] = {}
        for row in due:
            name = (row.team or NO_TEAM) if by_team else row.procedure
            counts = found.setdefault(name, [0, 0])
            counts[0] += row.due
            counts[1] += row.on_time
        return tuple(OnTime(name, d, o) for name, (d, o) in sorted(found.items()))

    by_procedure: dict[str, list[oversight.FirstAllocations]] = {}
    for row in made:
        by_procedure.setdefault(row.procedure, []).append(row)
    days = [today, *overdue, *(day for row in made for day in (row.made, row.allocated_on) if day)]
    count = WorkingDayCount(ctx.calendar, days)
    allocation = [allocation_times(p, rows, count) for p, rows in sorted(by_procedure.items())]
    allocation.append(allocation_times("All procedures", made, count))

    waited = {bucket: 0 for bucket in BUCKETS}
    for due_on, steps in overdue.items():
        waited[bucket_of(count.between(due_on, today))] += steps

    return Figures(
        today=today,
        since=since,
        until=until,
        scope=scope,
        team=team,
        procedure=procedure,
        teams=tuple(known_teams),
        procedures={key: p.title for key, p in sorted(ctx.procedures.items())},
        on_time_by_team=totals(by_team=True),
        on_time_by_procedure=totals(by_team=False),
        on_time_overall=OnTime("All steps", sum(r.due for r in due), sum(r.on_time for r in due)),
        allocation=tuple(allocation),
        waited=tuple(Waited(bucket, count) for bucket, count in waited.items()),
        ending=tuple(
            EndingOrder(
                e.reference,
                initials(e.child_name),
                e.procedure,
                e.team or NO_TEAM,
                e.last_day,
                decision_title(ctx, e.procedure),
                e.decided,
            )
            for e in ending
        ),
        ending_total=sum(c.orders for c in ending_counts),
        ending_decided=sum(c.orders for c in ending_counts if c.decided),
        ending_undecided=sum(c.orders for c in ending_counts if not c.decided and c.procedure in decisions),
        ending_no_decision=sum(c.orders for c in ending_counts if c.procedure not in decisions),
    )
