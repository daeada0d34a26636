"""Wirral (000_7283e9811ab6176c.txt): dates worked out by hand from the document."""

from datetime import date

from scheduler.procedures import load_builtin
from tests.unit.conftest import Timeline, occurrences, step

MADE = date(2026, 3, 3)  # a Tuesday; last day 2 March 2027


def test_steps_from_the_making_of_the_order(timeline: Timeline) -> None:
    steps = timeline("wirral", MADE)
    # §3.1: +2 working days (Wed 4, Thu 5) = Thu 5 Mar; §3.3: +5 (4, 5, 6, 9, 10) = Tue 10 Mar.
    assert step(steps, "inform_safeguarding_unit").due == date(2026, 3, 5)
    assert (step(steps, "allocate_iro").due, step(steps, "allocate_iro").owner) == (
        date(2026, 3, 10),
        "safeguarding_unit",
    )
    # §4.1: +10 working days = Tue 17 Mar; first CIN meeting: +20 working days = Tue 31 Mar.
    assert step(steps, "case_summary").due == date(2026, 3, 17)
    assert step(steps, "first_cin_meeting").due == date(2026, 3, 31)
    # §5.4: no later than 9 months after commencement: 3 Dec 2026, a Thursday.
    review = step(steps, "nine_month_review")
    assert (review.due, review.owner, review.state) == (date(2026, 12, 3), "iro", "open")
    assert review.source == "000_7283e9811ab6176c.txt § 5.4–5.7"


def test_the_initial_review_waits_on_the_first_cin_meeting(timeline: Timeline) -> None:
    waiting = step(timeline("wirral", MADE), "initial_review")
    assert (waiting.due, waiting.waiting_on, waiting.state) == (None, "first_cin_meeting", "waiting")
    held = timeline("wirral", MADE, events=[("first_cin_meeting", date(2026, 3, 20))])
    # Fri 20 Mar + 20 working days, skipping Good Friday 3 Apr and Easter Monday 6 Apr = Tue 21 Apr.
    assert step(held, "initial_review").due == date(2026, 4, 21)
    assert step(held, "first_cin_meeting").state == "done"


def test_minutes_within_ten_working_days_of_each_review(timeline: Timeline) -> None:
    steps = timeline("wirral", MADE, events=[("first_cin_meeting", date(2026, 3, 20)),
                                             ("initial_review", date(2026, 4, 16)),
                                             ("nine_month_review", date(2026, 12, 3))])  # fmt: skip
    # §5.8: Thu 16 Apr + 10 working days = Thu 30 Apr; Thu 3 Dec + 10 = Thu 17 Dec.
    assert step(steps, "initial_review_minutes").due == date(2026, 4, 30)
    assert step(steps, "nine_month_review_minutes").due == date(2026, 12, 17)
    # §7.1: outcome decided 10 working days after the review (a chosen default): Thu 17 Dec.
    assert step(steps, "outcome_decision").due == date(2026, 12, 17)
    assert not occurrences(steps, "further_review")


def test_the_insufficient_evidence_path(timeline: Timeline) -> None:
    steps = timeline("wirral", MADE, events=[("nine_month_review", date(2026, 12, 3)),
                                             ("insufficient_evidence", date(2026, 12, 3))])  # fmt: skip
    work = step(steps, "insufficient_evidence_work")
    # §6.2: within two weeks: Thu 17 Dec; §6.3: then straight to the Head of Service, Fri 18 Dec.
    assert (work.due, work.owner) == (date(2026, 12, 17), "social_worker")
    assert [(e.on, e.to) for e in work.escalations] == [(date(2026, 12, 18), "head_of_service")]
    # §6.4: concluded by the end of month 10: 2 Jan 2027 is a Saturday and 1 Jan a bank holiday → Thu 31 Dec.
    assert step(steps, "further_review").due == date(2026, 12, 31)
    assert not occurrences(steps, "outcome_decision")
    assert step(steps, "outcome_after_further_review").waiting_on == "further_review"


def test_outcome_b_asks_for_the_legal_gateway_evidence(timeline: Timeline) -> None:
    a = timeline("wirral", MADE, events=[("nine_month_review", date(2026, 12, 3)), ("outcome", date(2027, 1, 11), "A")])
    assert not occurrences(a, "legal_gateway_evidence")
    assert step(a, "outcome_decision").state == "done"
    b = timeline("wirral", MADE, events=[("nine_month_review", date(2026, 12, 3)), ("outcome", date(2027, 1, 11), "B")])
    # §7.2: Mon 11 Jan 2027 + 10 working days = Mon 25 Jan 2027.
    assert step(b, "legal_gateway_evidence").due == date(2027, 1, 25)


def test_month_ends_and_a_leap_year(timeline: Timeline) -> None:
    steps = timeline("wirral", date(2027, 5, 31), events=[("insufficient_evidence", date(2028, 2, 29))])
    # 31 May 2027 + 9 months: no 31 February, 2028 is a leap year → Tue 29 Feb 2028.
    assert step(steps, "nine_month_review").due == date(2028, 2, 29)
    # End of month 10: 31 Mar 2028 - 1 day = Thu 30 Mar 2028.
    assert step(steps, "further_review").due == date(2028, 3, 30)


def test_settings_can_replace_a_chosen_default() -> None:
    procedure = load_builtin({"wirral": {"initial_review": "first_cin_meeting + 15 working days"}})["wirral"]
    rule = procedure.milestone("initial_review")
    assert rule is not None and rule.due.text == "first_cin_meeting + 15 working days" and rule.default
