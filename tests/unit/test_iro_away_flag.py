"""The unit's note of an IRO away rides on every step the IRO owns, in each built-in procedure: each has a
reminder before its due date (those due the next working day, on the day), and at the first reminder an IRO away
on the day is flagged, naming the step and the IRO free to chair instead."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from rules.cover import Away
from rules.notices import Notice
from rules.timeline import Milestone
from scheduler.cover import Cover
from storage import models
from tests.unit.conftest import PROCEDURES, make_timeline

MADE = date(2026, 3, 3)
MEGAN, JANE = 1, 2
# The IRO's steps due one working day after the event that brings them in ("immediate" escalations).
NEXT_WORKING_DAY = {"wirral": {"initial_review_escalation", "urgent_review_escalation"}}


def iro_rules(procedure: str) -> set[str]:
    """The steps the procedure file says the IRO owns: always, or at their first or last occurrence."""
    return {rule.key for rule in PROCEDURES[procedure].milestones
            if "iro" in (rule.owner, rule.owner_first, rule.owner_last)}  # fmt: skip


def iro_steps(procedure: str) -> tuple[list[Milestone], set[str]]:
    """Every step the IRO owns with a due date, found by recording, round by round, each event an IRO step waits
    on (a review held dates its minutes), once the step it completes was seen due; and the IRO's rules seen in the
    timeline at all."""
    # A step the IRO owns only when something was recorded (insufficient evidence, say) is brought in by it.
    brought_in = sorted({c.subject for rule in PROCEDURES[procedure].milestones if rule.key in iro_rules(procedure)
                         for c in rule.when if c.kind == "recorded"})  # fmt: skip
    events: list[tuple[str, date]] = [(key, MADE + timedelta(days=20)) for key in brought_in]
    found: dict[tuple[str, int], Milestone] = {}
    seen: set[str] = set()
    for round_ in range(1, 6):
        milestones = make_timeline(procedure, MADE, events=events)
        seen |= {m.key for m in milestones} & iro_rules(procedure)
        for m in milestones:
            if m.owner == "iro" and m.due is not None and m.state == "open":
                found.setdefault((m.key, m.occurrence), m)
        # An event that is itself an IRO step (the review held) is recorded only once that step was seen due.
        unseen = iro_rules(procedure) - {key for key, _ in found}
        recorded = {key for key, _ in events}
        waiting = sorted({m.waiting_on for m in milestones if m.key in iro_rules(procedure) and m.due is None
                          and m.waiting_on and m.waiting_on not in recorded | unseen})  # fmt: skip
        if not waiting:
            break
        events += [(key, MADE + timedelta(days=30 * round_)) for key in waiting]
    return list(found.values()), seen


@pytest.mark.parametrize("procedure", sorted(p for p in PROCEDURES if iro_rules(p)))
def test_every_step_the_iro_owns_is_flagged_at_its_first_reminder(procedure: str) -> None:
    theirs, seen = iro_steps(procedure)
    # Every IRO rule that has steps in the timeline has steps the IRO owns, each checked below.
    assert seen and {m.key for m in theirs} == seen
    people = {MEGAN: models.Person(id=MEGAN, name="Megan Bowen", email="megan@example.gov.uk", roles=["iro"],
                                   active=True, manager_id=None),
              JANE: models.Person(id=JANE, name="Jane Smith", email="jane@example.gov.uk", roles=["iro"],
                                  active=True, manager_id=None)}  # fmt: skip
    on_the_day = set()
    for step in theirs:
        assert step.due is not None and step.reminders, f"{procedure} {step.key} is never reminded"
        first = min(step.reminders)
        if first == step.due:
            on_the_day.add(step.key)
        cover = Cover(first, [Away(7, MEGAN, step.due, step.due, None)], people)
        notice = Notice("SO-2026-0001", step.key, step.occurrence, "reminder", "iro", first)
        stored = models.Milestone(id=1, order_id=1, key=step.key, occurrence=step.occurrence, title=step.title,
                                  owner_role=step.owner, due=step.due)  # fmt: skip
        flag = cover.iro_away(notice, stored, MEGAN, None)
        assert flag is not None, f"{procedure} {step.key} #{step.occurrence} is not flagged"
        assert step.title in flag.payload["text"] and flag.payload["choices"] == [["Jane Smith", "jane@example.gov.uk"]]
    # Only the escalations due the working day after what brings them in are flagged no sooner than their day:
    # they are not known any earlier. Every other step is flagged at a reminder before it is due.
    assert on_the_day == NEXT_WORKING_DAY.get(procedure, set())
