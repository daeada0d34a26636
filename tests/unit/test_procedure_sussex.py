"""Sussex 3.1.11 (003_df0f45a0f2e2220f.txt): dates worked out by hand from the document."""

from datetime import date

from tests.unit.conftest import PROCEDURES, Timeline, occurrences, step

MADE = date(2026, 3, 3)  # a Tuesday; last day Tue 2 March 2027


def test_it_is_for_final_and_interim_orders() -> None:
    assert PROCEDURES["sussex"].order_types == ("supervision", "interim_supervision")


def test_the_plan_and_the_steps_before_lapse(timeline: Timeline) -> None:
    steps = timeline("sussex", MADE)
    # §5: plan agreed by the PM: a default of 20 working days after commencement: Tue 31 Mar.
    plan = step(steps, "family_support_plan_agreed")
    assert (plan.due, plan.owner, plan.default) == (date(2026, 3, 31), "family_support_worker", True)
    assert plan.source == "Sussex management of Supervision Orders in Family Support § 5"
    review = step(steps, "pm_family_review")
    assert (review.state, review.waiting_on) == ("waiting", "family_support_plan_agreed")
    # §7: three months before the lapse: Wed 2 Dec 2026.
    pre_lapse = step(steps, "pre_lapse_review")
    assert (pre_lapse.due, pre_lapse.owner, pre_lapse.default) == (date(2026, 12, 2), "practice_manager", False)
    # §8: at least one month before: Tue 2 Feb 2027.
    copied = step(steps, "review_copied_to_sro_and_legal")
    assert (copied.due, copied.owner) == (date(2027, 2, 2), "practice_manager")
    # §9: the Service Manager's endorsement (default 2 weeks before the last day): Tue 16 Feb 2027.
    endorsed = step(steps, "final_decision_endorsed")
    assert (endorsed.due, endorsed.owner, endorsed.default) == (date(2027, 2, 16), "service_manager", True)
    assert not occurrences(steps, "legal_planning_meeting")
    assert not occurrences(steps, "legal_advice_before_review")


def test_pm_reviews_at_least_every_six_months(timeline: Timeline) -> None:
    agreed = timeline("sussex", MADE, events=[("family_support_plan_agreed", date(2026, 3, 23))])
    # Plan agreed Mon 23 Mar: review due Wed 23 Sep; the next (23 Mar 2027) is past the last day.
    reviews = occurrences(agreed, "pm_family_review")
    assert [(r.due, r.owner) for r in reviews] == [(date(2026, 9, 23), "practice_manager")]
    early = timeline("sussex", MADE, events=[("family_support_plan_agreed", date(2026, 3, 23)),
                                            ("pm_family_review", date(2026, 9, 1))])  # fmt: skip
    # Held Tue 1 Sep: the next is due six months later, Mon 1 Mar 2027, the day before the last day.
    assert [(r.due, r.state) for r in occurrences(early, "pm_family_review")] == [
        (date(2026, 9, 23), "done"),
        (date(2027, 3, 1), "open"),
    ]


def test_legal_advice_before_the_review_when_continuation_is_possible(timeline: Timeline) -> None:
    steps = timeline("sussex", MADE, events=[("continuation_possible", date(2026, 11, 2))])
    # §7.4: the review is due Wed 2 Dec 2026; advice the working day before: Tue 1 Dec.
    advice = step(steps, "legal_advice_before_review")
    assert (advice.due, advice.owner) == (date(2026, 12, 1), "practice_manager")


def test_a_recommended_extension_needs_a_legal_planning_meeting(timeline: Timeline) -> None:
    steps = timeline("sussex", MADE, events=[("extension_needed", date(2026, 12, 2))])
    # §10: default 10 working days after Wed 2 Dec: 3, 4, 7–11, 14, 15, 16 → Wed 16 Dec 2026.
    lpm = step(steps, "legal_planning_meeting")
    assert (lpm.due, lpm.owner, lpm.default) == (date(2026, 12, 16), "practice_manager", True)


def test_christmas_and_a_weekend_move_the_lapse_steps_back(timeline: Timeline) -> None:
    # Made Mon 26 Jan 2026: last day Mon 25 Jan 2027.
    steps = timeline("sussex", date(2026, 1, 26), events=[("continuation_possible", date(2026, 9, 1))])
    # §8: 25 Jan 2027 - 1 month = Christmas Day 2026 → Thu 24 Dec 2026.
    assert step(steps, "review_copied_to_sro_and_legal").due == date(2026, 12, 24)
    # §7: 25 Jan 2027 - 3 months = Sun 25 Oct 2026 → Fri 23 Oct; legal advice the working day before, Thu 22 Oct.
    assert step(steps, "pre_lapse_review").due == date(2026, 10, 23)
    assert step(steps, "legal_advice_before_review").due == date(2026, 10, 22)
    # §9: 25 Jan 2027 - 14 days = Mon 11 Jan 2027.
    assert step(steps, "final_decision_endorsed").due == date(2027, 1, 11)
    # §5: 20 working days from Mon 26 Jan 2026: 27–30 Jan (4), 2–6 (9), 9–13 (14), 16–20 (19), Mon 23 Feb.
    assert step(steps, "family_support_plan_agreed").due == date(2026, 2, 23)


def test_a_leap_february_and_the_august_bank_holiday(timeline: Timeline) -> None:
    steps = timeline("sussex", date(2027, 8, 3), events=[("family_support_plan_agreed", date(2027, 8, 31))])
    # Made Tue 3 Aug 2027, last day Wed 2 Aug 2028. §5 default: 4–6 (3), 9–13 (8), 16–20 (13), 23–27 (18),
    # Mon 30 Aug bank holiday, 31 Aug (19), Wed 1 Sep (20) — the plan was agreed the day before.
    plan = step(steps, "family_support_plan_agreed")
    assert (plan.due, plan.state, plan.done_on) == (date(2027, 9, 1), "done", date(2027, 8, 31))
    # Agreed Tue 31 Aug 2027 + 6 months: no 31 February, 2028 a leap year → Tue 29 Feb 2028; 29 Aug 2028
    # is past the last day.
    assert [r.due for r in occurrences(steps, "pm_family_review")] == [date(2028, 2, 29)]
    # §7: 2 Aug 2028 - 3 months = Tue 2 May 2028 (the bank holiday is Mon 1 May).
    assert step(steps, "pre_lapse_review").due == date(2028, 5, 2)
    # §8: 2 Jul 2028 is a Sunday → Fri 30 Jun 2028.
    assert step(steps, "review_copied_to_sro_and_legal").due == date(2028, 6, 30)


def test_the_endorsement_counts_calendar_weeks_over_christmas(timeline: Timeline) -> None:
    steps = timeline("sussex", date(2026, 1, 6))  # Tue 6 Jan 2026; last day Tue 5 Jan 2027
    # §9 default: 5 Jan 2027 - 14 days = Tue 22 Dec 2026 (ten working days back would reach Thu 17 Dec).
    assert step(steps, "final_decision_endorsed").due == date(2026, 12, 22)
    # §7: 5 Jan 2027 - 3 months = Mon 5 Oct 2026; §8: 5 Dec 2026 is a Saturday → Fri 4 Dec.
    assert step(steps, "pre_lapse_review").due == date(2026, 10, 5)
    assert step(steps, "review_copied_to_sro_and_legal").due == date(2026, 12, 4)
