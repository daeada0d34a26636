"""The timeline engine on a small procedure of its own: anchors, recurrence, conditions, states."""

from dataclasses import replace
from datetime import date

import pytest

from rules.calendar import WorkingCalendar
from rules.dates import OutOfCalendar
from rules.procedures import load_builtin, parse_procedure
from rules.timeline import Escalation, Milestone, OrderFacts, RecordedEvent, RecurrenceLimit, build_timeline

PROCEDURE = parse_procedure(
    """
id = "town"
title = "Town"
authority = "Town"
document = "town.txt"

[events]
first_cin_meeting = "First CIN meeting held"
cp_review = "CP review conference held"
child_protection_plan = "Child made subject of a CP plan"
outcome = { title = "Outcome", values = ["A", "B"] }

[[milestones]]
key = "initial_review"
title = "Initial review"
owner = "iro"
due = "first_cin_meeting + 10 working days"
source = "5.1"

[[milestones]]
key = "review"
title = "Review"
owner = "team_manager"
owner_first = "iro"
owner_last = "iro"
due = "made + 1 month"
repeat = { every = "3 months" }
source = "6"

[[milestones]]
key = "cin_meeting"
title = "CIN meeting"
owner = "social_worker"
due = "commenced + 6 weeks"
repeat = { every = "6 weeks", rolling = true }
when = ["child_protection_plan not recorded"]
source = "3"

[[milestones]]
key = "midway"
title = "Midway discussion"
owner = "social_worker"
due = "cp_review + 3 months"
repeat = { for_each = "cp_review" }
source = "2"

[[milestones]]
key = "decision"
title = "Decision on a further order"
owner = "iro"
due = "last_day - 3 months"
preferred = "last_day - 4 months"
when = ["order at least 12 months"]
source = "7"

[[milestones]]
key = "decision_short"
title = "Decision on a further order (short order)"
owner = "iro"
due = "last_day - 2 months"
preferred = "last_day - 3 months"
when = ["order under 12 months"]
completed_by = "decision"
source = "7"

[[milestones]]
key = "gateway"
title = "Evidence to Legal Gateway"
owner = "head_of_service"
due = "outcome + 2 weeks"
when = ["outcome is B"]
escalation = [{ after = "0 days", to = "head_of_service" }]
reminders = ["0 days"]
source = "7.2"
""",
    "town.toml",
)
CALENDAR = WorkingCalendar()
ORDER = OrderFacts("supervision", date(2026, 3, 3), date(2026, 3, 3), date(2027, 3, 2))


def steps(events: list[RecordedEvent] | None = None, order: OrderFacts = ORDER) -> list[Milestone]:
    return build_timeline(PROCEDURE, order, events or [], CALENDAR)


def find(milestones: list[Milestone], key: str, occurrence: int = 1) -> Milestone:
    return next(m for m in milestones if m.key == key and m.occurrence == occurrence)


def test_a_step_waits_on_its_unrecorded_anchor_event() -> None:
    waiting = find(steps(), "initial_review")
    assert (waiting.due, waiting.waiting_on, waiting.state) == (None, "first_cin_meeting", "waiting")
    assert waiting.reminders == () and waiting.escalations == ()
    dated = find(steps([RecordedEvent("first_cin_meeting", date(2026, 3, 27))]), "initial_review")
    # Fri 27 Mar + 10 working days: 30,31 Mar, 1,2 Apr, (3 and 6 Apr holidays) 7,8,9,10,13,14 Apr → Tue 14 Apr.
    assert (dated.due, dated.waiting_on, dated.state) == (date(2026, 4, 14), None, "open")


def test_fixed_recurrence_counts_from_the_unmoved_first_date() -> None:
    reviews = [m for m in steps() if m.key == "review"]
    # made 3 Mar 2026: +1 month = Fri 3 Apr (Good Friday) → Thu 2 Apr; +4 months = Fri 3 Jul;
    # +7 months = Sat 3 Oct → Fri 2 Oct; +10 months = Sun 3 Jan 2027 → (1 Jan holiday) Thu 31 Dec 2026;
    # +13 months = 3 Apr 2027 is after the last day.
    assert [m.due for m in reviews] == [date(2026, 4, 2), date(2026, 7, 3), date(2026, 10, 2), date(2026, 12, 31)]
    assert [m.owner for m in reviews] == ["iro", "team_manager", "team_manager", "iro"]


def test_rolling_recurrence_counts_from_the_day_the_last_one_was_held() -> None:
    planned = [m.due for m in steps() if m.key == "cin_meeting"]
    # commenced 3 Mar + 6 weeks = 14 Apr, then every 6 weeks while nothing is recorded.
    assert planned[:3] == [date(2026, 4, 14), date(2026, 5, 26), date(2026, 7, 7)]
    held = [m for m in steps([RecordedEvent("cin_meeting", date(2026, 4, 1))]) if m.key == "cin_meeting"]
    assert (held[0].state, held[0].done_on) == ("done", date(2026, 4, 1))
    # Held 1 Apr: the next is due 6 weeks later, Wed 13 May.
    assert held[1].due == date(2026, 5, 13) and held[1].state == "open"
    assert all(m.due is not None and m.due <= ORDER.last_day for m in held)


def test_a_condition_that_stops_holding_drops_the_steps_not_done() -> None:
    with_plan = steps(
        [RecordedEvent("cin_meeting", date(2026, 4, 1)), RecordedEvent("child_protection_plan", date(2026, 5, 1))]
    )
    # The meeting already held stays, as done; the rest go.
    assert [(m.occurrence, m.state) for m in with_plan if m.key == "cin_meeting"] == [(1, "done")]


def test_one_occurrence_per_recorded_anchor_event() -> None:
    assert find(steps(), "midway").waiting_on == "cp_review"
    events = [RecordedEvent("cp_review", date(2026, 3, 20)), RecordedEvent("cp_review", date(2026, 9, 18))]
    midways = [m for m in steps(events) if m.key == "midway"]
    # 20 Mar + 3 months = Sat 20 Jun → Fri 19 Jun; 18 Sep + 3 months = Fri 18 Dec.
    assert [m.due for m in midways] == [date(2026, 6, 19), date(2026, 12, 18)]


def test_order_length_picks_the_decision_rule_and_preferred_date() -> None:
    long = find(steps(), "decision")
    # last day 2 Mar 2027 - 3 months = Wed 2 Dec 2026; preferred - 4 months = Mon 2 Nov 2026.
    assert (long.due, long.preferred_by) == (date(2026, 12, 2), date(2026, 11, 2))
    assert not [m for m in steps() if m.key == "decision_short"]
    short_order = OrderFacts("supervision", date(2026, 3, 3), date(2026, 3, 3), date(2026, 9, 2))
    short = find(steps(order=short_order), "decision_short")
    # 2 Sep 2026 - 2 months = Thu 2 Jul; preferred - 3 months = Tue 2 Jun.
    assert (short.due, short.preferred_by) == (date(2026, 7, 2), date(2026, 6, 2))
    assert not [m for m in steps(order=short_order) if m.key == "decision"]


def test_value_conditions_reminders_and_escalations_of_the_step() -> None:
    assert not [m for m in steps([RecordedEvent("outcome", date(2026, 12, 10), "A")]) if m.key == "gateway"]
    gateway = find(steps([RecordedEvent("outcome", date(2026, 12, 10), "B")]), "gateway")
    # Thu 10 Dec + 2 weeks = Thu 24 Dec; escalated straight to the Head of Service that day.
    assert gateway.due == date(2026, 12, 24)
    assert gateway.reminders == (date(2026, 12, 24),)
    assert gateway.escalations == (Escalation(date(2026, 12, 24), "head_of_service"),)


def test_default_reminders_and_escalation_chain() -> None:
    decision = find(steps(), "decision")
    # Due Wed 2 Dec 2026: 10 working days before = Wed 18 Nov; 2 before = Mon 30 Nov; and the day.
    assert decision.reminders == (date(2026, 11, 18), date(2026, 11, 30), date(2026, 12, 2))
    # After: 1 working day = Thu 3 Dec (TM); 5 = Wed 9 Dec (SM); 10 = Wed 16 Dec (HoS).
    assert decision.escalations == (
        Escalation(date(2026, 12, 3), "team_manager"),
        Escalation(date(2026, 12, 9), "service_manager"),
        Escalation(date(2026, 12, 16), "head_of_service"),
    )


def test_without_notice_days_the_steps_are_the_same_but_for_their_reminders_and_escalations() -> None:
    events = [RecordedEvent("outcome", date(2026, 12, 10), "B"), RecordedEvent("first_cin_meeting", date(2026, 11, 2))]
    full = build_timeline(PROCEDURE, ORDER, events, CALENDAR)
    bare = build_timeline(PROCEDURE, ORDER, events, CALENDAR, notice_days=False)
    assert any(m.reminders for m in full) and any(m.escalations for m in full)
    assert bare == [replace(m, reminders=(), escalations=()) for m in full]


def test_reminders_before_the_order_was_made_are_dropped() -> None:
    first_review = find(steps(), "review")
    # Due Thu 2 Apr; 10 working days before is Thu 19 Mar (after 3 Mar: kept); all three remain.
    assert first_review.reminders == (date(2026, 3, 19), date(2026, 3, 31), date(2026, 4, 2))
    short_order = OrderFacts("supervision", date(2026, 3, 3), date(2026, 3, 3), date(2026, 5, 15))
    # Last day 15 May - 2 months = Sun 15 Mar → Fri 13 Mar. 10 working days before is Fri 27 Feb, before the
    # order was made: dropped. 2 working days before is Wed 11 Mar: kept.
    assert find(steps(order=short_order), "decision_short").reminders == (date(2026, 3, 11), date(2026, 3, 13))
    waited = find(steps([RecordedEvent("first_cin_meeting", date(2026, 4, 1))]), "initial_review")
    # Wed 1 Apr + 10 working days (2, 7, 8, 9, 10, 13, 14, 15, 16, 17 Apr) = Fri 17 Apr; 10 before is 1 Apr.
    assert waited.reminders == (date(2026, 4, 1), date(2026, 4, 15), date(2026, 4, 17))


def test_an_ended_order_waives_what_is_not_done() -> None:
    ended = OrderFacts("supervision", date(2026, 3, 3), date(2026, 3, 3), date(2027, 3, 2), ended_on=date(2026, 6, 1))
    result = steps([RecordedEvent("review", date(2026, 4, 1))], order=ended)
    assert find(result, "review").state == "done"
    assert {m.state for m in result if not (m.key == "review" and m.occurrence == 1)} == {"waived"}


def test_dated_steps_come_in_date_order_and_waiting_ones_last() -> None:
    result = steps()
    dated = [m.due for m in result if m.due is not None]
    assert dated == sorted(dated)
    assert result[-1].due is None


def test_a_recurrence_that_would_pass_its_limit_says_so_instead_of_stopping() -> None:
    # Weekly until an event: the file cannot know how far off the event is, so the timeline must say when it is.
    procedure = parse_procedure(
        'id = "town"\ntitle = "T"\nauthority = "T"\ndocument = "t.txt"\n[events]\nclosed = "Case closed"\n'
        '[[milestones]]\nkey = "visit"\ntitle = "Visit"\nowner = "social_worker"\ndue = "made + 1 week"\n'
        'repeat = { every = "1 week", until = "closed" }\nsource = "1"\n',
        "town.toml",
    )
    two_years = [RecordedEvent("closed", date(2028, 3, 3))]
    assert len(build_timeline(procedure, ORDER, two_years, CALENDAR)) == 104
    three_years = [RecordedEvent("closed", date(2029, 3, 3))]
    with pytest.raises(RecurrenceLimit, match=r"Visit \(visit\) would repeat 121 times or more, .* at most 120"):
        build_timeline(procedure, ORDER, three_years, CALENDAR)
    cp_reviews = [RecordedEvent("cp_review", date(2026, 3, 4)) for _ in range(121)]
    with pytest.raises(RecurrenceLimit, match=r"Midway discussion \(midway\) would repeat 121 times"):
        steps(cp_reviews)


def test_dates_past_the_calendar_are_an_error_that_says_so() -> None:
    wirral = load_builtin()["wirral"]
    for day in (date(1, 1, 1), date(9999, 12, 31)):
        with pytest.raises(OutOfCalendar, match="the dates the wirral procedure reckons .* run outside the calendar"):
            build_timeline(wirral, ORDER, [RecordedEvent("first_cin_meeting", day)], CALENDAR)
    with pytest.raises(OutOfCalendar):
        steps(order=OrderFacts("supervision", date(9999, 12, 1), date(9999, 12, 1), date(9999, 12, 31)))
