"""Leicestershire, Leicester City and Rutland (002_b51e79dabd242cc2.txt): dates worked out by hand."""

from datetime import date

from tests.unit.conftest import Timeline, occurrences, step

MADE = date(2026, 3, 3)  # a Tuesday; last day 2 March 2027


def test_cin_meetings_no_less_than_six_weekly(timeline: Timeline) -> None:
    meetings = occurrences(timeline("leicestershire", MADE), "cin_meeting")
    # §3: every 6 weeks from commencement: 14 Apr, 26 May, 7 Jul, 18 Aug, 29 Sep, 10 Nov, 22 Dec 2026,
    # 2 Feb 2027; 16 Mar 2027 is past the last day.
    assert [m.due for m in meetings] == [
        date(2026, 4, 14), date(2026, 5, 26), date(2026, 7, 7), date(2026, 8, 18),
        date(2026, 9, 29), date(2026, 11, 10), date(2026, 12, 22), date(2027, 2, 2),
    ]  # fmt: skip
    assert {m.owner for m in meetings} == {"social_worker"}


def test_each_meeting_counts_from_the_last_one_held(timeline: Timeline) -> None:
    meetings = occurrences(timeline("leicestershire", MADE, events=[("cin_meeting", date(2026, 4, 9))]), "cin_meeting")
    # Held Thu 9 Apr: the next is due 6 weeks later, Thu 21 May.
    assert (meetings[0].state, meetings[0].done_on) == ("done", date(2026, 4, 9))
    assert meetings[1].due == date(2026, 5, 21)


def test_a_child_protection_plan_replaces_the_cin_meetings(timeline: Timeline) -> None:
    steps = timeline("leicestershire", MADE, events=[("cin_meeting", date(2026, 4, 9)),
                                                     ("child_protection_plan", date(2026, 5, 1))])  # fmt: skip
    assert [(m.occurrence, m.state) for m in occurrences(steps, "cin_meeting")] == [(1, "done")]


def test_service_manager_overview_and_record_flag(timeline: Timeline) -> None:
    steps = timeline("leicestershire", MADE)
    # §6: no later than 6 weeks before expiry: 2 Mar 2027 - 42 days = Tue 19 Jan 2027.
    overview = step(steps, "service_manager_overview")
    assert (overview.due, overview.owner) == (date(2027, 1, 19), "service_manager")
    assert step(steps, "flag_on_record").due == date(2026, 3, 5)


def test_a_child_moving_out_of_county(timeline: Timeline) -> None:
    assert not occurrences(timeline("leicestershire", MADE), "notify_receiving_authority")
    steps = timeline("leicestershire", MADE, events=[("child_moved", date(2026, 7, 10))])
    notify = step(steps, "notify_receiving_authority")
    # §7: within 24 hours of Fri 10 Jul: Sat 11 Jul is no working day → Fri 10 Jul; then the TM on Mon 13,
    # the SM on Tue 14 Jul.
    assert notify.due == date(2026, 7, 10)
    assert [(e.on, e.to) for e in notify.escalations] == [
        (date(2026, 7, 13), "team_manager"),
        (date(2026, 7, 14), "service_manager"),
    ]
