"""Camden (001_291b4e789394d4bc.txt): dates worked out by hand from the document."""

from datetime import date

from tests.unit.conftest import PROCEDURES, Timeline, occurrences, step

MADE = date(2026, 3, 3)  # a Tuesday; last day Tue 2 March 2027


def test_it_is_for_final_and_interim_orders() -> None:
    assert PROCEDURES["camden"].order_types == ("supervision", "interim_supervision")


def test_the_family_group_conference(timeline: Timeline) -> None:
    fgc = step(timeline("camden", MADE), "family_group_conference")
    # §4: within 3 months of the making: Wed 3 Jun 2026; and before the first review, one month after the
    # order: Fri 3 Apr is Good Friday → Thu 2 Apr.
    assert (fgc.due, fgc.preferred_by, fgc.owner, fgc.default) == (
        date(2026, 6, 3),
        date(2026, 4, 2),
        "social_worker",
        False,
    )
    assert fgc.source == "Camden supervision order practice guidance § 4"


def test_reviews_one_month_after_then_every_three_months(timeline: Timeline) -> None:
    reviews = occurrences(timeline("camden", MADE), "review")
    # §6: 1 month after (3 Apr is Good Friday → Thu 2 Apr), then every 3 months: Fri 3 Jul; 3 Oct is a
    # Saturday → Fri 2 Oct; 3 Jan 2027 a Sunday and 1 Jan a bank holiday → Thu 31 Dec 2026; 3 Apr 2027 is
    # past the last day.
    assert [r.due for r in reviews] == [date(2026, 4, 2), date(2026, 7, 3), date(2026, 10, 2), date(2026, 12, 31)]
    # The first and the last chaired by an IRO (or CPO), the others by the team manager.
    assert [r.owner for r in reviews] == ["iro", "team_manager", "team_manager", "iro"]
    assert [r.occurrence for r in reviews] == [1, 2, 3, 4]


def test_a_review_held_is_done_and_the_rest_keep_their_dates(timeline: Timeline) -> None:
    reviews = occurrences(timeline("camden", MADE, events=[("review", date(2026, 3, 30))]), "review")
    assert [(r.state, r.done_on) for r in reviews[:2]] == [("done", date(2026, 3, 30)), ("open", None)]
    # A fixed cadence: the second is still 3 months after the first's due date, Fri 3 Jul.
    assert reviews[1].due == date(2026, 7, 3)


def test_the_decision_on_a_further_order(timeline: Timeline) -> None:
    steps = timeline("camden", MADE)
    decision = step(steps, "further_order_decision")
    # §7: at least 3 months before expiry (2 Mar 2027 → Wed 2 Dec 2026), preferably 4 (Mon 2 Nov 2026).
    assert (decision.due, decision.preferred_by, decision.owner) == (
        date(2026, 12, 2),
        date(2026, 11, 2),
        "team_manager",
    )
    assert not occurrences(steps, "further_order_decision_short")
    notify = step(steps, "notify_legal_of_decision")
    assert (notify.state, notify.waiting_on) == ("waiting", "further_order_decision")
    # Legal planning meeting at least 1–2 months before: Tue 2 Feb 2027; preferred 2 Jan 2027 is a Saturday
    # and 1 Jan a bank holiday → Thu 31 Dec 2026.
    lpm = step(steps, "legal_planning_meeting")
    assert (lpm.due, lpm.preferred_by, lpm.owner) == (date(2027, 2, 2), date(2026, 12, 31), "team_manager")


def test_the_chair_tells_legal_within_seven_days(timeline: Timeline) -> None:
    steps = timeline("camden", MADE, events=[("further_order_decision", date(2026, 11, 16))])
    notify = step(steps, "notify_legal_of_decision")
    # Mon 16 Nov + 7 days = Mon 23 Nov.
    assert (notify.due, notify.owner, notify.state) == (date(2026, 11, 23), "team_manager", "open")
    # The default chain: 1 working day → Tue 24 Nov; 5 → 24, 25, 26, 27, 30 = Mon 30 Nov; 10 → Mon 7 Dec.
    assert [(e.on, e.to) for e in notify.escalations] == [
        (date(2026, 11, 24), "team_manager"),
        (date(2026, 11, 30), "service_manager"),
        (date(2026, 12, 7), "head_of_service"),
    ]
    decision = step(steps, "further_order_decision")
    assert (decision.state, decision.done_on) == ("done", date(2026, 11, 16))


def test_the_short_order_rule_stays_off_a_twelve_month_order_once_decided(timeline: Timeline) -> None:
    steps = timeline("camden", MADE, events=[("further_order_decision", date(2026, 11, 16))])
    assert not occurrences(steps, "further_order_decision_short")


def test_an_order_under_twelve_months(timeline: Timeline) -> None:
    steps = timeline("camden", MADE, last_day=date(2026, 9, 2))  # six months
    decision = step(steps, "further_order_decision_short")
    # §7: at least 2 months (Thu 2 Jul), preferably 3 (Tue 2 Jun), before the last day, Wed 2 Sep 2026.
    assert (decision.due, decision.preferred_by, decision.owner) == (date(2026, 7, 2), date(2026, 6, 2), "iro")
    assert not occurrences(steps, "further_order_decision")
    # Reviews Thu 2 Apr and Fri 3 Jul (the last: 3 Oct is past the end), both chaired by an IRO.
    assert [(r.due, r.owner) for r in occurrences(steps, "review")] == [
        (date(2026, 4, 2), "iro"),
        (date(2026, 7, 3), "iro"),
    ]
    # LPM: 2 Aug 2026 is a Sunday → Fri 31 Jul; preferably 2 months before, Thu 2 Jul.
    lpm = step(steps, "legal_planning_meeting")
    assert (lpm.due, lpm.preferred_by) == (date(2026, 7, 31), date(2026, 7, 2))
    # Recording the decision marks the short-order step done and starts the 7 days: Thu 25 Jun + 7 = Thu 2 Jul.
    decided = timeline(
        "camden", MADE, last_day=date(2026, 9, 2), events=[("further_order_decision", date(2026, 6, 25))]
    )
    assert step(decided, "further_order_decision_short").state == "done"
    assert step(decided, "notify_legal_of_decision").due == date(2026, 7, 2)


def test_a_late_november_order_and_a_leap_february(timeline: Timeline) -> None:
    steps = timeline("camden", date(2027, 11, 30))  # Tue 30 Nov 2027; last day Wed 29 Nov 2028
    # §4: 30 Nov 2027 + 3 months: no 30 February, 2028 a leap year → Tue 29 Feb 2028; preferably by the first
    # review, 30 Dec 2027 (a Thursday; the Christmas bank holidays are 27 and 28 Dec).
    fgc = step(steps, "family_group_conference")
    assert (fgc.due, fgc.preferred_by) == (date(2028, 2, 29), date(2027, 12, 30))
    # §6: Thu 30 Dec 2027, Thu 30 Mar 2028, Fri 30 Jun 2028, 30 Sep 2028 a Saturday → Fri 29 Sep 2028;
    # 30 Dec 2028 is past the last day.
    assert [r.due for r in occurrences(steps, "review")] == [
        date(2027, 12, 30), date(2028, 3, 30), date(2028, 6, 30), date(2028, 9, 29),
    ]  # fmt: skip
    # §7: 29 Nov 2028 - 3 months = Tue 29 Aug 2028 (the day after the bank holiday); preferably - 4 months =
    # Sat 29 Jul → Fri 28 Jul 2028.
    decision = step(steps, "further_order_decision")
    assert (decision.due, decision.preferred_by) == (date(2028, 8, 29), date(2028, 7, 28))
    # LPM: 29 Oct 2028 is a Sunday → Fri 27 Oct; preferably 29 Sep 2028, a Friday.
    lpm = step(steps, "legal_planning_meeting")
    assert (lpm.due, lpm.preferred_by) == (date(2028, 10, 27), date(2028, 9, 29))


def test_an_extension_carries_the_reviews_on(timeline: Timeline) -> None:
    steps = timeline("camden", MADE, last_day=date(2028, 3, 2))  # extended to two years
    reviews = occurrences(steps, "review")
    # 3 Apr 2027 a Saturday → Fri 2 Apr; 3 Jul 2027 Sat → Fri 2 Jul; 3 Oct Sun → Fri 1 Oct; 3 Jan 2028 is the
    # New Year substitute bank holiday → Fri 31 Dec 2027; 3 Apr 2028 is past the end.
    assert [r.due for r in reviews[4:]] == [date(2027, 4, 2), date(2027, 7, 2), date(2027, 10, 1), date(2027, 12, 31)]
    # The review 10 months in is no longer the last, so the team manager chairs it; the IRO chairs the last.
    assert (reviews[3].owner, reviews[-1].owner) == ("team_manager", "iro")
    # §7 for the extended order: 2 Mar 2028 - 3 months = Thu 2 Dec 2027; preferably Tue 2 Nov 2027.
    decision = step(steps, "further_order_decision")
    assert (decision.due, decision.preferred_by) == (date(2027, 12, 2), date(2027, 11, 2))


def test_a_strategy_meeting_when_significant_harm_may_be_met(timeline: Timeline) -> None:
    assert not occurrences(timeline("camden", MADE), "strategy_meeting")
    steps = timeline("camden", MADE, events=[("significant_harm_concern", date(2026, 12, 24))])
    meeting = step(steps, "strategy_meeting")
    # §5 (default next working day) after Thu 24 Dec 2026: Christmas Day and the Boxing Day substitute,
    # Mon 28 Dec, are bank holidays → Tue 29 Dec.
    assert (meeting.due, meeting.owner, meeting.default) == (date(2026, 12, 29), "team_manager", True)


def test_escalation_after_a_review_goes_to_a_legal_planning_meeting(timeline: Timeline) -> None:
    steps = timeline("camden", MADE, events=[("review_decides_escalation", date(2026, 7, 2))])
    # §5 (default 10 working days) after Thu 2 Jul: 3, 6–10, 13, 14, 15, 16 → Thu 16 Jul.
    assert step(steps, "escalation_legal_planning_meeting").due == date(2026, 7, 16)
