"""Camden (001_291b4e789394d4bc.txt): dates worked out by hand from the document."""

from datetime import date

from tests.unit.conftest import Timeline, occurrences, step

MADE = date(2026, 3, 3)  # a Tuesday; last day 2 March 2027


def test_fgc_and_reviews_every_three_months(timeline: Timeline) -> None:
    steps = timeline("camden", MADE)
    # §4: FGC within 3 months of the making: Wed 3 Jun 2026.
    assert step(steps, "family_group_conference").due == date(2026, 6, 3)
    reviews = occurrences(steps, "review")
    # §6: 1 month after (3 Apr is Good Friday → Thu 2 Apr), then every 3 months: Fri 3 Jul; 3 Oct is a
    # Saturday → Fri 2 Oct; 3 Jan 2027 a Sunday, 1 Jan a bank holiday → Thu 31 Dec; 3 Apr 2027 is past the end.
    assert [r.due for r in reviews] == [date(2026, 4, 2), date(2026, 7, 3), date(2026, 10, 2), date(2026, 12, 31)]
    # First and last chaired by an IRO (or CPO), the others by the team manager.
    assert [r.owner for r in reviews] == ["iro", "team_manager", "team_manager", "iro"]


def test_the_decision_on_a_further_order(timeline: Timeline) -> None:
    steps = timeline("camden", MADE)
    decision = step(steps, "further_order_decision")
    # §7: at least 3 months before expiry (2 Mar 2027 → Wed 2 Dec 2026), preferably 4 (Mon 2 Nov 2026).
    assert (decision.due, decision.preferred_by) == (date(2026, 12, 2), date(2026, 11, 2))
    assert not occurrences(steps, "further_order_decision_short")
    assert step(steps, "notify_legal_of_decision").waiting_on == "further_order_decision"
    # Legal planning meeting at least 1–2 months before: Tue 2 Feb 2027; preferred 2 Jan 2027 is a Saturday
    # and 1 Jan a bank holiday → Thu 31 Dec 2026.
    lpm = step(steps, "legal_planning_meeting")
    assert (lpm.due, lpm.preferred_by) == (date(2027, 2, 2), date(2026, 12, 31))


def test_the_chair_tells_legal_within_seven_days(timeline: Timeline) -> None:
    steps = timeline("camden", MADE, events=[("further_order_decision", date(2026, 11, 16))])
    notify = step(steps, "notify_legal_of_decision")
    # Mon 16 Nov + 7 days = Mon 23 Nov; then the TM (Tue 24), Legal (Wed 25), the SM (Mon 30 Nov).
    assert (notify.due, notify.owner) == (date(2026, 11, 23), "iro")
    assert [(e.on, e.to) for e in notify.escalations] == [
        (date(2026, 11, 24), "team_manager"),
        (date(2026, 11, 25), "legal"),
        (date(2026, 11, 30), "service_manager"),
    ]
    assert step(steps, "further_order_decision").state == "done"


def test_an_order_under_twelve_months(timeline: Timeline) -> None:
    steps = timeline("camden", MADE, last_day=date(2026, 9, 2))
    decision = step(steps, "further_order_decision_short")
    # §7: at least 2 months (Thu 2 Jul), preferably 3 (Tue 2 Jun), before the last day 2 Sep 2026.
    assert (decision.due, decision.preferred_by) == (date(2026, 7, 2), date(2026, 6, 2))
    assert not occurrences(steps, "further_order_decision")
    reviews = occurrences(steps, "review")
    assert [(r.due, r.owner) for r in reviews] == [(date(2026, 4, 2), "iro"), (date(2026, 7, 3), "iro")]
    # LPM: 2 Aug 2026 is a Sunday → Fri 31 Jul.
    assert step(steps, "legal_planning_meeting").due == date(2026, 7, 31)


def test_an_extension_carries_the_reviews_on(timeline: Timeline) -> None:
    steps = timeline("camden", MADE, last_day=date(2028, 3, 2))
    reviews = occurrences(steps, "review")
    # 2 Apr 2027 (Fri), 3 Jul 2027 Sat → Fri 2 Jul, 3 Oct Sun → Fri 1 Oct, 3 Jan 2028 is the New Year
    # substitute bank holiday → Fri 31 Dec 2027; 3 Apr 2028 is past the end.
    assert [r.due for r in reviews[4:]] == [date(2027, 4, 2), date(2027, 7, 2), date(2027, 10, 1), date(2027, 12, 31)]
    assert reviews[3].owner == "team_manager" and reviews[-1].owner == "iro"
