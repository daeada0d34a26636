"""Leicestershire, Leicester City and Rutland (002_b51e79dabd242cc2.txt): dates worked out by hand."""

from datetime import date

from tests.unit.conftest import PROCEDURES, Timeline, occurrences, step

MADE = date(2026, 3, 3)  # a Tuesday; last day Tue 2 March 2027


def test_it_is_for_final_and_interim_orders() -> None:
    assert PROCEDURES["leicestershire"].order_types == ("supervision", "interim_supervision")


def test_the_first_steps(timeline: Timeline) -> None:
    steps = timeline("leicestershire", MADE)
    # §3 flag on the record (default 2 working days): Wed 4, Thu 5 → Thu 5 Mar.
    flag = step(steps, "flag_on_record")
    assert (flag.due, flag.owner, flag.default) == (date(2026, 3, 5), "social_worker", True)
    assert flag.source == "Leicestershire, Leicester City and Rutland Supervision Order procedure § 3"
    # §2 the type of plan (default 10 working days): 4–6, 9–13, 16, 17 → Tue 17 Mar, the team manager's.
    plan = step(steps, "plan_type_decision")
    assert (plan.due, plan.owner) == (date(2026, 3, 17), "team_manager")


def test_cin_meetings_no_less_than_six_weekly(timeline: Timeline) -> None:
    meetings = occurrences(timeline("leicestershire", MADE), "cin_meeting")
    # §3: every 6 weeks from commencement (all Tuesdays): 14 Apr, 26 May, 7 Jul, 18 Aug, 29 Sep, 10 Nov,
    # 22 Dec 2026, 2 Feb 2027; 16 Mar 2027 is past the last day.
    assert [m.due for m in meetings] == [
        date(2026, 4, 14), date(2026, 5, 26), date(2026, 7, 7), date(2026, 8, 18),
        date(2026, 9, 29), date(2026, 11, 10), date(2026, 12, 22), date(2027, 2, 2),
    ]  # fmt: skip
    assert {m.owner for m in meetings} == {"social_worker"}
    assert {m.state for m in meetings} == {"open"}


def test_each_meeting_counts_from_the_last_one_held(timeline: Timeline) -> None:
    steps = timeline(
        "leicestershire", MADE, events=[("cin_meeting", date(2026, 4, 9)), ("cin_meeting", date(2026, 5, 19))]
    )
    meetings = occurrences(steps, "cin_meeting")
    assert [(m.state, m.done_on) for m in meetings[:2]] == [("done", date(2026, 4, 9)), ("done", date(2026, 5, 19))]
    # Held Tue 19 May: the next is due 6 weeks later, Tue 30 Jun; then Tue 11 Aug.
    assert [m.due for m in meetings[2:4]] == [date(2026, 6, 30), date(2026, 8, 11)]


def test_easter_moves_a_meeting_back_and_the_next_counts_from_there(timeline: Timeline) -> None:
    meetings = occurrences(timeline("leicestershire", date(2026, 2, 23)), "cin_meeting")
    # Commenced Mon 23 Feb 2026 + 6 weeks = Mon 6 Apr, Easter Monday; Good Friday 3 Apr too → Thu 2 Apr.
    # The next is 6 weeks after that due date: Thu 14 May; then Thu 25 Jun.
    assert [m.due for m in meetings[:3]] == [date(2026, 4, 2), date(2026, 5, 14), date(2026, 6, 25)]


def test_a_leap_february_in_the_six_weekly_cadence(timeline: Timeline) -> None:
    steps = timeline("leicestershire", date(2027, 11, 30))  # Tue 30 Nov 2027; last day Wed 29 Nov 2028
    # 30 Nov + 42 days = Tue 11 Jan 2028; + 42 = Tue 22 Feb; + 42 = Tue 4 Apr 2028 (29 Feb counts).
    assert [m.due for m in occurrences(steps, "cin_meeting")[:3]] == [
        date(2028, 1, 11),
        date(2028, 2, 22),
        date(2028, 4, 4),
    ]
    # §6: 29 Nov 2028 - 42 days = Wed 18 Oct 2028.
    assert step(steps, "service_manager_overview").due == date(2028, 10, 18)


def test_a_child_protection_plan_replaces_the_cin_meetings(timeline: Timeline) -> None:
    steps = timeline("leicestershire", MADE, events=[("cin_meeting", date(2026, 4, 9)),
                                                     ("child_protection_plan", date(2026, 5, 1))])  # fmt: skip
    # §3: the LLR CP procedures apply instead; the meeting already held stays, as done.
    assert [(m.occurrence, m.state) for m in occurrences(steps, "cin_meeting")] == [(1, "done")]
    # §6: the CP chair's views for the overview (default 8 weeks before expiry): 2 Mar 2027 - 56 days =
    # Tue 5 Jan 2027.
    views = step(steps, "cp_chair_views_on_extension")
    assert (views.due, views.owner, views.default) == (date(2027, 1, 5), "cp_chair", True)


def test_service_manager_overview_no_later_than_six_weeks_before_expiry(timeline: Timeline) -> None:
    steps = timeline("leicestershire", MADE)
    # §6: 2 Mar 2027 - 42 days = Tue 19 Jan 2027.
    overview = step(steps, "service_manager_overview")
    assert (overview.due, overview.owner, overview.default) == (date(2027, 1, 19), "service_manager", False)
    assert not occurrences(steps, "cp_chair_views_on_extension")
    assert not occurrences(steps, "legal_advice_on_extension")
    needed = timeline("leicestershire", MADE, events=[("extension_needed", date(2027, 1, 19))])
    # §6 legal advice (default 5 working days) after Tue 19 Jan: 20, 21, 22, 25, 26 → Tue 26 Jan 2027.
    advice = step(needed, "legal_advice_on_extension")
    assert (advice.due, advice.owner) == (date(2027, 1, 26), "service_manager")


def test_rising_risk_brings_a_strategy_discussion_into_view(timeline: Timeline) -> None:
    assert not occurrences(timeline("leicestershire", MADE), "strategy_discussion_considered")
    steps = timeline("leicestershire", MADE, events=[("risk_escalated", date(2026, 4, 2))])
    # §5 (default next working day) after Thu 2 Apr: Good Friday, Easter Monday → Tue 7 Apr.
    considered = step(steps, "strategy_discussion_considered")
    assert (considered.due, considered.owner) == (date(2026, 4, 7), "team_manager")


def test_a_child_moving_out_of_county_with_little_notice(timeline: Timeline) -> None:
    assert not occurrences(timeline("leicestershire", MADE), "notify_receiving_authority")
    steps = timeline("leicestershire", MADE, events=[("child_moved", date(2026, 7, 10))])
    notify = step(steps, "notify_receiving_authority")
    # §7: within 24 hours of Fri 10 Jul: Sat 11 Jul is no working day → Fri 10 Jul.
    assert (notify.due, notify.owner, notify.default) == (date(2026, 7, 10), "social_worker", False)
    # Only the reminder on the day: the earlier ones fall before the move was known.
    assert notify.reminders == (date(2026, 7, 10),)
    # The default chain: Mon 13 Jul (TM), 13–17 → Fri 17 Jul (SM), 20–24 → Fri 24 Jul (HoS).
    assert [(e.on, e.to) for e in notify.escalations] == [
        (date(2026, 7, 13), "team_manager"),
        (date(2026, 7, 17), "service_manager"),
        (date(2026, 7, 24), "head_of_service"),
    ]


def test_a_move_on_christmas_eve(timeline: Timeline) -> None:
    steps = timeline("leicestershire", MADE, events=[("child_moved", date(2026, 12, 24))])
    # Thu 24 Dec + 1 day = Christmas Day, a bank holiday → Thu 24 Dec.
    assert step(steps, "notify_receiving_authority").due == date(2026, 12, 24)


def test_a_move_known_in_advance_is_written_about_instead(timeline: Timeline) -> None:
    steps = timeline(
        "leicestershire", MADE, events=[("move_planned", date(2026, 6, 1)), ("child_moved", date(2026, 6, 20))]
    )
    # §7 (default 5 working days) after Mon 1 Jun: 2, 3, 4, 5, 8 → Mon 8 Jun.
    letter = step(steps, "write_to_receiving_authority")
    assert (letter.due, letter.owner, letter.default) == (date(2026, 6, 8), "social_worker", True)
    assert not occurrences(steps, "notify_receiving_authority")
