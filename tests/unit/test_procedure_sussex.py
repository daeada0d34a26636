"""Sussex 3.1.11 (003_df0f45a0f2e2220f.txt): dates worked out by hand from the document."""

from datetime import date

from tests.unit.conftest import Timeline, occurrences, step

MADE = date(2026, 3, 3)  # a Tuesday; last day 2 March 2027


def test_the_plan_and_the_steps_before_lapse(timeline: Timeline) -> None:
    steps = timeline("sussex", MADE)
    # ¶5: plan agreed by the PM: a default of 20 working days after commencement, Tue 31 Mar.
    assert step(steps, "family_support_plan_agreed").due == date(2026, 3, 31)
    assert step(steps, "pm_family_review").waiting_on == "family_support_plan_agreed"
    # ¶7: three months before the lapse: Wed 2 Dec 2026; ¶8: one month before: Tue 2 Feb 2027.
    review = step(steps, "pre_lapse_review")
    assert (review.due, review.owner) == (date(2026, 12, 2), "practice_manager")
    assert step(steps, "review_copied_to_sro_and_legal").due == date(2027, 2, 2)
    # ¶9: the Service Manager's endorsement (default: 2 weeks before the last day) = Tue 16 Feb 2027.
    assert step(steps, "final_decision_endorsed").due == date(2027, 2, 16)
    assert not occurrences(steps, "legal_planning_meeting")


def test_pm_reviews_at_least_every_six_months(timeline: Timeline) -> None:
    agreed = timeline("sussex", MADE, events=[("family_support_plan_agreed", date(2026, 3, 23))])
    # Plan agreed Mon 23 Mar: review due Wed 23 Sep; the next (23 Mar 2027) is past the last day.
    assert [r.due for r in occurrences(agreed, "pm_family_review")] == [date(2026, 9, 23)]
    early = timeline("sussex", MADE, events=[("family_support_plan_agreed", date(2026, 3, 23)),
                                            ("pm_family_review", date(2026, 9, 1))])  # fmt: skip
    # Held Tue 1 Sep: the next is due six months later, Mon 1 Mar 2027, the day before the last day.
    assert [(r.due, r.state) for r in occurrences(early, "pm_family_review")] == [
        (date(2026, 9, 23), "done"),
        (date(2027, 3, 1), "open"),
    ]


def test_a_recommended_extension_needs_a_legal_planning_meeting(timeline: Timeline) -> None:
    steps = timeline("sussex", MADE, events=[("extension_needed", date(2026, 12, 2))])
    # ¶10: default 10 working days after Wed 2 Dec = Wed 16 Dec 2026.
    assert step(steps, "legal_planning_meeting").due == date(2026, 12, 16)
