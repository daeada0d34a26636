"""Wirral (000_7283e9811ab6176c.txt): dates worked out by hand from the document."""

from datetime import date

from rules.procedures import load_builtin
from tests.unit.conftest import PROCEDURES, Timeline, occurrences, step

MADE = date(2026, 3, 3)  # a Tuesday; commenced the same day; last day Tue 2 March 2027


def test_it_is_for_final_and_interim_orders() -> None:
    assert PROCEDURES["wirral"].order_types == ("supervision", "interim_supervision")
    assert PROCEDURES["wirral"].document == "000_7283e9811ab6176c.txt"


def test_steps_from_the_making_of_the_order(timeline: Timeline) -> None:
    steps = timeline("wirral", MADE)
    # §3.1–3.2 (default 2 working days): Wed 4, Thu 5 → Thu 5 Mar.
    told = step(steps, "inform_safeguarding_unit")
    assert (told.due, told.owner, told.default) == (date(2026, 3, 5), "social_worker", True)
    # §3.3 (default 5 working days): 4, 5, 6, 9, 10 → Tue 10 Mar, the Safeguarding Unit's.
    allocate = step(steps, "allocate_iro")
    assert (allocate.due, allocate.owner, allocate.state) == (date(2026, 3, 10), "safeguarding_unit", "open")
    # §4.1 (default 10 working days): 4, 5, 6, 9, 10, 11, 12, 13, 16, 17 → Tue 17 Mar.
    assert step(steps, "case_summary").due == date(2026, 3, 17)
    # §4.1(d)/4.2 (default 20 working days after commencement): the 20th is Tue 31 Mar.
    assert step(steps, "first_cin_meeting").due == date(2026, 3, 31)
    # §5.4: no later than 9 months after commencement: 3 Dec 2026, a Thursday.
    review = step(steps, "nine_month_review")
    assert (review.due, review.owner, review.state, review.default) == (date(2026, 12, 3), "iro", "open", False)
    assert review.source == "Wirral Supervision Order procedure § 5.4–5.7"


def test_what_waits_on_an_event_and_what_is_not_yet_there(timeline: Timeline) -> None:
    steps = timeline("wirral", MADE)
    waiting = {m.key: m.waiting_on for m in steps if m.state == "waiting"}
    assert waiting == {
        "case_summary_plan": "first_cin_meeting",  # §4.1(d)
        "initial_review": "first_cin_meeting",  # §5.1
        "initial_review_minutes": "initial_review",  # §5.8
        "nine_month_review_minutes": "nine_month_review",  # §5.8
        "outcome_decision": "nine_month_review",  # §7.1
    }
    assert all(m.due is None and m.reminders == () for m in steps if m.state == "waiting")
    # The insufficient-evidence path (§6), the §5.3 escalation and Legal Gateway (§7.2) need their events.
    for key in ("urgent_review_escalation", "insufficient_evidence_work", "further_review",
                "further_review_minutes", "outcome_after_further_review", "initial_review_escalation",
                "legal_gateway_evidence"):  # fmt: skip
        assert not occurrences(steps, key), key


def test_the_nine_month_review_is_reminded_and_escalated_by_the_defaults(timeline: Timeline) -> None:
    review = step(timeline("wirral", MADE), "nine_month_review")
    # Due Thu 3 Dec 2026. 10 working days before, counting back 2, 1 Dec, 30, 27, 26, 25, 24, 23, 20, 19 Nov
    # → Thu 19 Nov; 2 before → Tue 1 Dec; and the day itself.
    assert review.reminders == (date(2026, 11, 19), date(2026, 12, 1), date(2026, 12, 3))
    # After: 1 working day → Fri 4 Dec (TM); 5 → 4, 7, 8, 9, 10 = Thu 10 Dec (SM); 10 → Thu 17 Dec (HoS).
    assert [(e.on, e.to) for e in review.escalations] == [
        (date(2026, 12, 4), "team_manager"),
        (date(2026, 12, 10), "service_manager"),
        (date(2026, 12, 17), "head_of_service"),
    ]


def test_the_allocation_is_done_when_the_iro_is_allocated(timeline: Timeline) -> None:
    steps = timeline("wirral", MADE, events=[("iro_allocated", date(2026, 3, 9))])
    allocate = step(steps, "allocate_iro")
    assert (allocate.state, allocate.done_on) == ("done", date(2026, 3, 9))


def test_the_initial_review_waits_on_the_first_cin_meeting(timeline: Timeline) -> None:
    held = timeline("wirral", MADE, events=[("first_cin_meeting", date(2026, 3, 20))])
    assert (step(held, "first_cin_meeting").state, step(held, "first_cin_meeting").done_on) == (
        "done",
        date(2026, 3, 20),
    )
    # §5.1 (default 20 working days) from Fri 20 Mar: 23–27 (5), 30, 31 Mar, 1, 2 Apr (9), Good Friday 3 Apr
    # and Easter Monday 6 Apr skipped, 7–10 (13), 13–17 (18), 20, 21 → Tue 21 Apr.
    initial = step(held, "initial_review")
    assert (initial.due, initial.owner, initial.waiting_on, initial.state) == (date(2026, 4, 21), "iro", None, "open")
    # §4.1(d) (default 5 working days): 23, 24, 25, 26, 27 → Fri 27 Mar.
    assert step(held, "case_summary_plan").due == date(2026, 3, 27)


def test_concerns_at_the_initial_review_are_escalated_at_once(timeline: Timeline) -> None:
    steps = timeline("wirral", MADE, events=[("initial_review_concerns", date(2026, 4, 2))])
    # §5.3 "immediate" (default next working day) after Thu 2 Apr: Good Friday and Easter Monday → Tue 7 Apr.
    escalation = step(steps, "initial_review_escalation")
    assert (escalation.due, escalation.owner, escalation.default) == (date(2026, 4, 7), "iro", True)


def test_minutes_within_ten_working_days_of_each_review(timeline: Timeline) -> None:
    steps = timeline("wirral", MADE, events=[("first_cin_meeting", date(2026, 3, 20)),
                                             ("initial_review", date(2026, 4, 16)),
                                             ("nine_month_review", date(2026, 12, 3))])  # fmt: skip
    # §5.8: Thu 16 Apr + 10 working days: 17, 20–24, 27, 28, 29, 30 → Thu 30 Apr.
    minutes = step(steps, "initial_review_minutes")
    assert (minutes.due, minutes.owner, minutes.default) == (date(2026, 4, 30), "iro", False)
    # Thu 3 Dec + 10 working days: 4, 7–11, 14–17 → Thu 17 Dec.
    assert step(steps, "nine_month_review_minutes").due == date(2026, 12, 17)
    # §7.1: the HoS and TM decide (default 10 working days after the review): Thu 17 Dec.
    outcome = step(steps, "outcome_decision")
    assert (outcome.due, outcome.owner, outcome.default) == (date(2026, 12, 17), "head_of_service", True)
    assert step(steps, "initial_review").state == "done"
    assert step(steps, "nine_month_review").state == "done"
    assert not occurrences(steps, "further_review")


def test_the_insufficient_evidence_path(timeline: Timeline) -> None:
    found = [("nine_month_review", date(2026, 12, 3)), ("insufficient_evidence", date(2026, 12, 3))]
    steps = timeline("wirral", MADE, events=found)
    # §6.1 "immediate escalation" (default next working day): Fri 4 Dec.
    assert step(steps, "urgent_review_escalation").due == date(2026, 12, 4)
    work = step(steps, "insufficient_evidence_work")
    # §6.2: within two weeks of Thu 3 Dec: Thu 17 Dec, the social worker's.
    assert (work.due, work.owner) == (date(2026, 12, 17), "social_worker")
    # §6.3: no progress in two weeks → straight to the Head of Service, the next working day, Fri 18 Dec.
    assert [(e.on, e.to) for e in work.escalations] == [(date(2026, 12, 18), "head_of_service")]
    # Default reminders: 10 working days before (back to Thu 3 Dec, the day it became known), 2 (Tue 15 Dec), 0.
    assert work.reminders == (date(2026, 12, 3), date(2026, 12, 15), date(2026, 12, 17))
    # §6.4: concluded by the end of month 10: 3 Jan 2027 - 1 day = Sat 2 Jan; Fri 1 Jan is a bank holiday
    # → Thu 31 Dec 2026. The IRO chairs; the Head of Service attends.
    further = step(steps, "further_review")
    assert (further.due, further.owner) == (date(2026, 12, 31), "iro")
    # §7.1 now follows the further review, not the 9-month one.
    assert not occurrences(steps, "outcome_decision")
    assert step(steps, "outcome_after_further_review").waiting_on == "further_review"
    assert step(steps, "further_review_minutes").waiting_on == "further_review"

    held = timeline("wirral", MADE, events=[*found, ("further_review", date(2026, 12, 30))])
    # Wed 30 Dec + 10 working days: 31 Dec, (1 Jan holiday) 4–8 Jan (6), 11, 12, 13, 14 → Thu 14 Jan 2027.
    assert step(held, "further_review_minutes").due == date(2027, 1, 14)
    assert step(held, "outcome_after_further_review").due == date(2027, 1, 14)


def test_an_outcome_after_the_further_review_does_not_complete_the_ordinary_outcome_step(timeline: Timeline) -> None:
    steps = timeline("wirral", MADE, events=[("nine_month_review", date(2026, 12, 3)),
                                             ("insufficient_evidence", date(2026, 12, 3)),
                                             ("further_review", date(2026, 12, 30)),
                                             ("outcome", date(2027, 1, 11), "B")])  # fmt: skip
    assert step(steps, "outcome_after_further_review").state == "done"
    # §7.1's ordinary outcome step never applied to this order (insufficient evidence was found).
    assert not occurrences(steps, "outcome_decision")


def test_outcome_b_asks_for_the_legal_gateway_evidence(timeline: Timeline) -> None:
    a = timeline("wirral", MADE, events=[("nine_month_review", date(2026, 12, 3)), ("outcome", date(2027, 1, 11), "A")])
    assert not occurrences(a, "legal_gateway_evidence")
    assert (step(a, "outcome_decision").state, step(a, "outcome_decision").done_on) == ("done", date(2027, 1, 11))
    b = timeline("wirral", MADE, events=[("nine_month_review", date(2026, 12, 3)), ("outcome", date(2027, 1, 11), "B")])
    # §7.2 (default 10 working days): Mon 11 Jan 2027 → 12–15 (4), 18–22 (9), Mon 25 Jan 2027.
    gateway = step(b, "legal_gateway_evidence")
    assert (gateway.due, gateway.owner, gateway.state) == (date(2027, 1, 25), "head_of_service", "open")


def test_good_friday_moves_the_nine_month_review_back(timeline: Timeline) -> None:
    steps = timeline("wirral", date(2026, 6, 26), events=[("insufficient_evidence", date(2027, 3, 25))])
    # Made and commenced Fri 26 Jun 2026: §3.1 +2 working days → Mon 29, Tue 30 Jun.
    assert step(steps, "inform_safeguarding_unit").due == date(2026, 6, 30)
    # + 9 months = Fri 26 Mar 2027, Good Friday → Thu 25 Mar 2027.
    assert step(steps, "nine_month_review").due == date(2027, 3, 25)
    # End of month 10: 26 Apr 2027 - 1 day = Sun 25 Apr → Fri 23 Apr 2027.
    assert step(steps, "further_review").due == date(2027, 4, 23)
    # Two weeks after Thu 25 Mar = Thu 8 Apr 2027 (Easter Monday 29 Mar does not count against it).
    assert step(steps, "insufficient_evidence_work").due == date(2027, 4, 8)


def test_month_ends_and_a_leap_year(timeline: Timeline) -> None:
    # Made 31 May 2027 (a bank holiday Monday, but the arithmetic is the point); last day 30 May 2028.
    steps = timeline("wirral", date(2027, 5, 31), events=[("insufficient_evidence", date(2028, 2, 29))])
    # §3.1: +2 working days → Tue 1, Wed 2 Jun 2027.
    assert step(steps, "inform_safeguarding_unit").due == date(2027, 6, 2)
    # 31 May 2027 + 9 months: there is no 31 February and 2028 is a leap year → Tue 29 Feb 2028.
    assert step(steps, "nine_month_review").due == date(2028, 2, 29)
    # Two weeks after Tue 29 Feb 2028 = Tue 14 Mar 2028.
    assert step(steps, "insufficient_evidence_work").due == date(2028, 3, 14)
    # End of month 10: 31 Mar 2028 - 1 day = Thu 30 Mar 2028.
    assert step(steps, "further_review").due == date(2028, 3, 30)


def test_a_late_november_order_reaches_into_a_leap_year(timeline: Timeline) -> None:
    steps = timeline("wirral", date(2027, 11, 30))
    # Made Tue 30 Nov 2027; first CIN meeting default +20 working days: Dec 1–3 (3), 6–10 (8), 13–17 (13),
    # 20–24 (18), 27 and 28 Dec are bank holidays, 29, 30 → Thu 30 Dec 2027.
    assert step(steps, "first_cin_meeting").due == date(2027, 12, 30)
    # + 9 months = Wed 30 Aug 2028 (the bank holiday is Mon 28 Aug).
    assert step(steps, "nine_month_review").due == date(2028, 8, 30)


def test_the_end_of_month_ten_when_the_month_is_short(timeline: Timeline) -> None:
    steps = timeline("wirral", date(2027, 4, 30), events=[("insufficient_evidence", date(2028, 1, 31))])
    # Commenced Fri 30 Apr 2027: month 10 of the order runs 30 Jan – 29 Feb 2028 (no 30 February), so it
    # ends on Tue 29 Feb 2028; the expression gives 30 Apr + 10 months = 29 Feb, - 1 day = Mon 28 Feb.
    assert step(steps, "further_review").due == date(2028, 2, 29)


def test_settings_can_replace_a_chosen_default() -> None:
    procedure = load_builtin({"wirral": {"initial_review": "first_cin_meeting + 15 working days"}})["wirral"]
    rule = procedure.milestone("initial_review")
    assert rule is not None and rule.due.text == "first_cin_meeting + 15 working days" and rule.default


def test_every_chosen_default_is_marked() -> None:
    # The document dates §5.4 (9 months), §5.8 (10 working days), §6.2 (two weeks) and §6.4 (end of month 10);
    # every other deadline in the file is a chosen default.
    dated_by_document = {
        "initial_review_minutes", "nine_month_review", "nine_month_review_minutes", "insufficient_evidence_work",
        "further_review", "further_review_minutes",
    }  # fmt: skip
    assert {m.key for m in PROCEDURES["wirral"].milestones if not m.default} == dated_by_document
