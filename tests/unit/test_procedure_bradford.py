"""Bradford CP and ISO guide (004_3d44b587b5031b7c.txt): dates worked out by hand from the document."""

from datetime import date

from rules.timeline import Milestone
from tests.unit.conftest import PROCEDURES, Timeline, occurrences, step

MADE = date(2026, 3, 9)  # a Monday: the Interim Supervision Order is granted
LAST_DAY = date(2026, 12, 31)  # the period the court set


def iso(timeline: Timeline, *events: tuple[str, date]) -> list[Milestone]:
    return timeline("bradford", MADE, last_day=LAST_DAY, order_type="interim_supervision", events=events)


def test_it_is_for_interim_orders_only() -> None:
    assert PROCEDURES["bradford"].order_types == ("interim_supervision",)


def test_the_cpc_is_told_and_the_three_way_discussion(timeline: Timeline) -> None:
    steps = iso(timeline)
    # Default 2 working days after Mon 9 Mar: Tue 10, Wed 11 → Wed 11 Mar.
    told = step(steps, "inform_cpc")
    assert (told.due, told.owner, told.default) == (date(2026, 3, 11), "social_worker", True)
    assert told.source == "Bradford Child Protection and Interim Supervision Order practice guide § The process, ¶1"
    # The three-way discussion, default 5 working days: 10, 11, 12, 13, 16 → Mon 16 Mar.
    assert step(steps, "three_way_discussion").due == date(2026, 3, 16)
    noted = step(steps, "decision_case_noted")
    assert (noted.state, noted.waiting_on) == ("waiting", "three_way_discussion")
    held = iso(timeline, ("three_way_discussion", date(2026, 3, 13)))
    # Case note, default 5 working days after Fri 13 Mar: 16–20 → Fri 20 Mar.
    assert step(held, "decision_case_noted").due == date(2026, 3, 20)
    assert step(held, "three_way_discussion").state == "done"


def test_a_step_down_needs_a_single_assessment_for_the_next_review(timeline: Timeline) -> None:
    assert not occurrences(iso(timeline), "single_assessment_for_cp_review")
    steps = iso(timeline, ("three_way_discussion", date(2026, 3, 13)), ("cp_plan_step_down_agreed", date(2026, 3, 13)))
    # Default 10 working days after Fri 13 Mar: 16–20, 23–27 → Fri 27 Mar.
    assessment = step(steps, "single_assessment_for_cp_review")
    assert (assessment.due, assessment.owner) == (date(2026, 3, 27), "social_worker")


def test_a_midway_discussion_before_each_cp_review(timeline: Timeline) -> None:
    waiting = step(iso(timeline), "midway_discussion")
    assert (waiting.state, waiting.waiting_on, waiting.due) == ("waiting", "cp_review", None)
    steps = iso(
        timeline, ("cp_review", date(2026, 4, 2)), ("cp_review", date(2026, 7, 1)), ("cp_review", date(2026, 10, 1))
    )
    # 3 months after each review: Thu 2 Jul, Thu 1 Oct; 1 Jan 2027 is past the ISO's last day.
    midways = occurrences(steps, "midway_discussion")
    assert [(m.due, m.owner, m.default) for m in midways] == [
        (date(2026, 7, 2), "social_worker", False),
        (date(2026, 10, 1), "social_worker", False),
    ]


def test_the_review_before_the_iso_and_bank_holidays(timeline: Timeline) -> None:
    steps = iso(timeline, ("cp_review", date(2026, 2, 5)), ("cp_review", date(2026, 9, 25)))
    # Thu 5 Feb (before the ISO) + 3 months = Tue 5 May (the bank holiday is Mon 4 May);
    # Fri 25 Sep + 3 months = Christmas Day → Thu 24 Dec 2026.
    assert [m.due for m in occurrences(steps, "midway_discussion")] == [date(2026, 5, 5), date(2026, 12, 24)]


def test_midway_discussions_stop_when_the_cp_plan_ends(timeline: Timeline) -> None:
    steps = iso(timeline, ("cp_review", date(2026, 4, 2)), ("midway_discussion", date(2026, 6, 30)),
                ("cp_review", date(2026, 7, 1)), ("cp_plan_ended", date(2026, 7, 1)))  # fmt: skip
    assert [(m.occurrence, m.state, m.done_on) for m in occurrences(steps, "midway_discussion")] == [
        (1, "done", date(2026, 6, 30))
    ]


def test_a_leap_february_midway(timeline: Timeline) -> None:
    steps = timeline("bradford", date(2027, 11, 30), last_day=date(2028, 5, 31), order_type="interim_supervision",
                     events=[("cp_review", date(2027, 11, 30))])  # fmt: skip
    # Tue 30 Nov 2027 + 3 months: no 30 February, 2028 a leap year → Tue 29 Feb 2028.
    assert step(steps, "midway_discussion").due == date(2028, 2, 29)
    # inform_cpc: Wed 1, Thu 2 Dec 2027.
    assert step(steps, "inform_cpc").due == date(2027, 12, 2)


def test_disagreement_goes_to_the_two_team_managers_then_up(timeline: Timeline) -> None:
    assert not occurrences(iso(timeline), "disagreement_discussion")
    steps = iso(timeline, ("cp_plan_disagreement", date(2026, 5, 15)))
    talk = step(steps, "disagreement_discussion")
    # Fri 15 May + 5 working days = Fri 22 May; the SM 1 working day later, Tue 26 May (25 May is a bank
    # holiday); the HoS 5 working days later: 26, 27, 28, 29 May, Mon 1 Jun.
    assert (talk.due, talk.owner, talk.default) == (date(2026, 5, 22), "team_manager", True)
    assert [(e.on, e.to) for e in talk.escalations] == [(date(2026, 5, 26), "service_manager"),
                                                        (date(2026, 6, 1), "head_of_service")]  # fmt: skip


def test_an_ended_iso_waives_what_is_left(timeline: Timeline) -> None:
    steps = timeline("bradford", MADE, last_day=LAST_DAY, order_type="interim_supervision",
                     events=[("inform_cpc", date(2026, 3, 10))], ended_on=date(2026, 6, 30))  # fmt: skip
    assert step(steps, "inform_cpc").state == "done"
    assert {m.state for m in steps if m.key != "inform_cpc"} == {"waived"}
