"""Bradford CP and ISO guide (004_3d44b587b5031b7c.txt): dates worked out by hand from the document."""

from datetime import date

from tests.unit.conftest import Timeline, occurrences, step

MADE = date(2026, 3, 9)  # a Monday: the Interim Supervision Order is granted
LAST_DAY = date(2026, 12, 31)  # the period the court set


def iso(timeline: Timeline, *events: tuple[str, date]) -> list:  # type: ignore[type-arg]
    return timeline("bradford", MADE, last_day=LAST_DAY, order_type="interim_supervision", events=events)


def test_the_cpc_is_told_and_the_three_way_discussion(timeline: Timeline) -> None:
    steps = iso(timeline)
    # Default 2 working days: Wed 11 Mar; the three-way discussion, 10 working days: Mon 23 Mar.
    assert step(steps, "inform_cpc").due == date(2026, 3, 11)
    assert step(steps, "three_way_discussion").due == date(2026, 3, 23)
    assert step(steps, "decision_case_noted").waiting_on == "three_way_discussion"
    held = iso(timeline, ("three_way_discussion", date(2026, 3, 20)))
    # Case note 5 working days after Fri 20 Mar: Fri 27 Mar.
    assert step(held, "decision_case_noted").due == date(2026, 3, 27)


def test_a_midway_discussion_before_each_cp_review(timeline: Timeline) -> None:
    assert step(iso(timeline), "midway_discussion").waiting_on == "cp_review"
    steps = iso(
        timeline, ("cp_review", date(2026, 4, 2)), ("cp_review", date(2026, 7, 1)), ("cp_review", date(2026, 10, 1))
    )
    # 3 months after each review: Thu 2 Jul, Thu 1 Oct; 1 Jan 2027 is past the order's last day.
    assert [m.due for m in occurrences(steps, "midway_discussion")] == [date(2026, 7, 2), date(2026, 10, 1)]


def test_disagreement_goes_to_the_two_team_managers_then_up(timeline: Timeline) -> None:
    assert not occurrences(iso(timeline), "disagreement_discussion")
    steps = iso(timeline, ("cp_plan_disagreement", date(2026, 5, 15)))
    talk = step(steps, "disagreement_discussion")
    # Fri 15 May + 5 working days = Fri 22 May; the SM on Tue 26 May (25 May is a bank holiday); the HoS Mon 1 Jun.
    assert (talk.due, talk.owner) == (date(2026, 5, 22), "team_manager")
    assert [(e.on, e.to) for e in talk.escalations] == [(date(2026, 5, 26), "service_manager"),
                                                        (date(2026, 6, 1), "head_of_service")]  # fmt: skip


def test_an_ended_iso_waives_what_is_left(timeline: Timeline) -> None:
    steps = timeline("bradford", MADE, last_day=LAST_DAY, order_type="interim_supervision",
                     events=[("inform_cpc", date(2026, 3, 10))], ended_on=date(2026, 6, 30))  # fmt: skip
    assert step(steps, "inform_cpc").state == "done"
    assert {m.state for m in steps if m.key != "inform_cpc"} == {"waived"}
