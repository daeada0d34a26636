"""The timeline: (procedure, order facts, recorded events, calendar) → every milestone with its dates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from rules.calendar import WorkingCalendar
from rules.dates import OutOfCalendar, add_months, period_end, whole_months_between
from rules.procedures import MAX_OCCURRENCES, ORDER_ANCHORS, Condition, DateRule, MilestoneRule, Offset, Procedure

State = Literal["waiting", "open", "done", "waived"]
OrderType = Literal["supervision", "interim_supervision"]


class RecurrenceLimit(ValueError):
    """A recurring step would repeat more often than the timeline projects: the procedure needs changing."""


@dataclass(frozen=True)
class OrderFacts:
    order_type: str
    made: date
    commenced: date
    last_day: date
    ended_on: date | None = None


@dataclass(frozen=True)
class RecordedEvent:
    key: str
    on: date
    value: str | None = None


@dataclass(frozen=True)
class Escalation:
    on: date
    to: str


@dataclass(frozen=True)
class Milestone:
    key: str
    occurrence: int
    title: str
    owner: str
    due: date | None
    preferred_by: date | None
    waiting_on: str | None
    reminders: tuple[date, ...]
    escalations: tuple[Escalation, ...]
    source: str
    state: State
    done_on: date | None
    default: bool = False


class _History:
    """Recorded events by key, oldest first."""

    def __init__(self, events: Iterable[RecordedEvent]) -> None:
        self._by_key: dict[str, list[RecordedEvent]] = {}
        for event in sorted(events, key=lambda e: e.on):
            self._by_key.setdefault(event.key, []).append(event)

    def all(self, key: str) -> list[RecordedEvent]:
        return self._by_key.get(key, [])

    def latest(self, key: str) -> RecordedEvent | None:
        found = self._by_key.get(key)
        return found[-1] if found else None


def _shift(day: date, offset: Offset, calendar: WorkingCalendar, sign: int = 1) -> date:
    amount = offset.amount * sign
    if offset.unit == "period_months":
        return period_end(day, amount)
    if offset.unit == "months":
        return add_months(day, amount)
    if offset.unit == "weeks":
        return day + timedelta(weeks=amount)
    if offset.unit == "working_days":
        return calendar.add_working_days(day, amount)
    return day + timedelta(days=amount)


class _Evaluator:
    def __init__(self, order: OrderFacts, history: _History, calendar: WorkingCalendar) -> None:
        self.order = order
        self.history = history
        self.calendar = calendar

    def anchor(self, name: str) -> date | None:
        if name == "made":
            return self.order.made
        if name == "commenced":
            return self.order.commenced
        if name == "last_day":
            return self.order.last_day
        event = self.history.latest(name)
        return event.on if event else None

    def raw(self, rule: DateRule, anchor: date | None = None) -> date | None:
        """The rule's date before the working-day rule; None while its anchor event is unrecorded."""
        day = anchor if anchor is not None else self.anchor(rule.anchor)
        if day is None:
            return None
        for offset in rule.offsets:
            day = _shift(day, offset, self.calendar)
        return day

    def holds(self, condition: Condition) -> bool:
        if condition.kind == "type":
            return self.order.order_type == condition.subject
        if condition.kind in ("length_under", "length_at_least"):
            months = whole_months_between(self.order.made, self.order.last_day)
            under = months < int(condition.subject)
            return under if condition.kind == "length_under" else not under
        latest = self.history.latest(condition.subject)
        if condition.kind == "recorded":
            return latest is not None
        if condition.kind == "not_recorded":
            return latest is None
        return latest is not None and latest.value == condition.value


@dataclass(frozen=True)
class _Occurrence:
    raw_due: date | None
    anchor_day: date | None
    waiting_on: str | None
    # The first day anyone could know of this occurrence: no reminder is sent before it.
    known_from: date | None = None


def _occurrences(rule: MilestoneRule, evaluate: _Evaluator, done: list[RecordedEvent]) -> list[_Occurrence]:
    """Each occurrence's unmoved due date, the day it became known, and what it waits on."""
    repeat = rule.repeat
    first = evaluate.raw(rule.due)
    anchor_day = evaluate.anchor(rule.due.anchor)
    known_from = evaluate.order.made if rule.due.anchor in ORDER_ANCHORS else anchor_day
    if repeat is None:
        return [_Occurrence(first, anchor_day, None if first else rule.due.anchor, known_from)]
    until = evaluate.raw(repeat.until) or evaluate.order.last_day
    if repeat.for_each is not None:
        anchors = evaluate.history.all(repeat.for_each)
        if not anchors:
            return [_Occurrence(None, None, repeat.for_each)]
        if len(anchors) > MAX_OCCURRENCES:
            raise _past_the_limit(rule, len(anchors))
        found = []
        for event in anchors:
            raw = evaluate.raw(rule.due, anchor=event.on)
            if raw is not None and raw <= until:
                found.append(_Occurrence(raw, event.on, None, event.on))
        return found
    if first is None:
        return [_Occurrence(None, None, rule.due.anchor)]
    assert repeat.every is not None
    found = [_Occurrence(first, anchor_day, None, known_from)]
    while True:
        index = len(found)
        found_from: date | None
        if repeat.rolling:
            previous = found[-1]
            assert previous.raw_due is not None
            base = done[index - 1].on if index - 1 < len(done) else evaluate.calendar.on_or_before(previous.raw_due)
            raw = _shift(base, repeat.every, evaluate.calendar)
            found_from = base
        else:
            step = Offset(repeat.every.amount * index, repeat.every.unit)
            raw = _shift(first, step, evaluate.calendar)
            found_from = known_from
        if raw > until:
            break
        if len(found) == MAX_OCCURRENCES:
            raise _past_the_limit(rule, MAX_OCCURRENCES + 1)
        found.append(_Occurrence(raw, anchor_day, None, found_from))
    return found


def _past_the_limit(rule: MilestoneRule, count: int) -> RecurrenceLimit:
    return RecurrenceLimit(
        f"{rule.title} ({rule.key}) would repeat {count} times or more, and the timeline projects at most "
        f"{MAX_OCCURRENCES}: the procedure must repeat it less often"
    )


def reminder_days(rule: MilestoneRule, due: date, known_from: date, calendar: WorkingCalendar) -> tuple[date, ...]:
    """The days a step due on `due` is reminded of, none before it could be known."""
    days = {calendar.on_or_before(_shift(due, offset, calendar, sign=-1)) for offset in rule.reminders}
    # A reminder before the step could be known (before the order, or its anchor event) is no use to anyone.
    return tuple(sorted(day for day in days if day >= known_from or day == due))


def escalation_days(rule: MilestoneRule, due: date, calendar: WorkingCalendar) -> tuple[Escalation, ...]:
    return tuple(
        Escalation(calendar.on_or_after(_shift(due, step.after, calendar)), step.to) for step in rule.escalation
    )


def _source(procedure: Procedure, rule: MilestoneRule) -> str:
    """Where the step comes from, as its readers know the document: by the procedure's title, not its file."""
    return f"{procedure.title} § {rule.source.lstrip('§').strip()}"


def _milestones_for_rule(
    procedure: Procedure,
    rule: MilestoneRule,
    order: OrderFacts,
    history: _History,
    calendar: WorkingCalendar,
    claimed: set[str],
    notice_days: bool = True,
) -> list[Milestone]:
    evaluate = _Evaluator(order, history, calendar)
    done = history.all(rule.completed_by)
    occurrences = _occurrences(rule, evaluate, done)
    if not all(evaluate.holds(condition) for condition in rule.when):
        # A step that no longer applies keeps only what it already had done, unless the event that did it
        # completes another step that does apply (the one the event was recorded for).
        occurrences = [] if rule.completed_by in claimed else occurrences[: len(done)]
    result = []
    for index, occurrence in enumerate(occurrences):
        number = index + 1
        owner = rule.owner
        if rule.repeat is not None:
            if number == len(occurrences) and rule.owner_last:
                owner = rule.owner_last
            if number == 1 and rule.owner_first:
                owner = rule.owner_first
        due = calendar.on_or_before(occurrence.raw_due) if occurrence.raw_due else None
        preferred = None
        if due is not None and rule.preferred is not None:
            raw_preferred = evaluate.raw(rule.preferred, anchor=occurrence.anchor_day if rule.repeat else None)
            preferred = calendar.on_or_before(raw_preferred) if raw_preferred else None
        completion = done[index] if index < len(done) else None
        state: State
        if completion is not None:
            state = "done"
        elif order.ended_on is not None:
            state = "waived"
        elif due is None:
            state = "waiting"
        else:
            state = "open"
        known_from = max(order.made, occurrence.known_from or order.made)
        result.append(
            Milestone(
                key=rule.key,
                occurrence=number,
                title=rule.title,
                owner=owner,
                due=due,
                preferred_by=preferred,
                waiting_on=occurrence.waiting_on if due is None else None,
                reminders=reminder_days(rule, due, known_from, calendar) if due and notice_days else (),
                escalations=escalation_days(rule, due, calendar) if due and notice_days else (),
                source=_source(procedure, rule),
                state=state,
                done_on=completion.on if completion else None,
                default=rule.default,
            )
        )
    return result


def build_timeline(
    procedure: Procedure,
    order: OrderFacts,
    events: Sequence[RecordedEvent],
    calendar: WorkingCalendar,
    *,
    notice_days: bool = True,
) -> list[Milestone]:
    """Every milestone of `order` under `procedure`: dated steps by due date, then those still waiting.

    `notice_days=False` leaves each step's reminder and escalation days out: for a caller that stores the steps
    alone (the planner works those days out again from the procedure), where they are a third of the work.

    OutOfCalendar when a date the procedure reckons from would fall outside the calendar (years 1 to 9999):
    the order's dates, or an event's, are not ones a real order has.
    """
    try:
        return _timeline(procedure, order, events, calendar, notice_days)
    except OverflowError:  # a day moved past the calendar's first or last day
        raise OutOfCalendar(
            f"the dates the {procedure.id} procedure reckons for an order made on {order.made.isoformat()} run outside "
            "the calendar"
        ) from None


def _timeline(
    procedure: Procedure,
    order: OrderFacts,
    events: Sequence[RecordedEvent],
    calendar: WorkingCalendar,
    notice_days: bool = True,
) -> list[Milestone]:
    history = _History(events)
    evaluate = _Evaluator(order, history, calendar)
    claimed = {r.completed_by for r in procedure.milestones if all(evaluate.holds(c) for c in r.when)}
    milestones: list[Milestone] = []
    for rule in procedure.milestones:
        milestones.extend(_milestones_for_rule(procedure, rule, order, history, calendar, claimed, notice_days))
    order_in_file = {rule.key: index for index, rule in enumerate(procedure.milestones)}
    return sorted(
        milestones,
        key=lambda m: (m.due is None, m.due or date.max, order_in_file[m.key], m.occurrence),
    )
