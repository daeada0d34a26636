"""Every card sobot sends, checked against the Adaptive Card schema version it declares, by the renderer's reader."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import cards
from bot.notify import notification_card
from handlers.directory import IroLoad, PersonView
from handlers.links import Links
from handlers.queries import DueStep, OrderSummary
from handlers.reminders import StepNow
from handlers.views import OrderView, StepView
from scheduler.dispatch import DigestLine, Message

HERE = Path(__file__).parent
CHECKER = HERE / "check_cards.cjs"
# With a Teams app: every "Open in sobot" is a deep link into the tab, the longest URL a card carries.
LINKS = Links("https://sobot.example.gov.uk/", "8f0e3b5c-1d2a-4c6b-9e7f-0a1b2c3d4e5f")
LINK = LINKS.in_teams("SO-2026-0007")
PROCEDURES = [("wirral", "Wirral Supervision Order procedure"), ("camden", "Camden practice guidance")]


def check(named: dict[str, cards.Card]) -> dict[str, list[str]]:
    if shutil.which("node") is None or not (HERE / "node_modules" / "adaptivecards").exists():
        pytest.fail("The card check needs Node.js and the npm package adaptivecards: `make test` installs them.")
    answer = subprocess.run(["node", str(CHECKER)], input=json.dumps(named), capture_output=True, text=True,
                            cwd=HERE, timeout=60, check=True)  # fmt: skip
    found: dict[str, list[str]] = json.loads(answer.stdout)
    return found


def step(key: str, title: str, due: date | None, *, overdue: bool = False, waiting_on: str | None = None) -> StepView:
    return StepView(key, 1, title, "social_worker", due, None, waiting_on, "waiting" if due is None else "open", None,
                    overdue)  # fmt: skip


def view(*, iro: str | None = None) -> OrderView:
    steps = (
        step("tell_unit", "Tell the Safeguarding Unit of the order", date(2026, 3, 5), overdue=True),
        step("cin_plan", "First Child in Need meeting", date(2026, 3, 31)),
        step("initial_review", "IRO initial review", None, waiting_on="first_cin_meeting"),
    )
    return OrderView("SO-2026-0007", "C42", "Sam Taylor", "S.T.", "supervision", date(2026, 3, 3), date(2026, 3, 3),
                     date(2027, 3, 2), "wirral", "open", None, None, "Leeds Family Court", "", "", "Alex Wilber", iro,
                     steps, social_worker_id=1, iro_id=2 if iro else None)  # fmt: skip


MEGAN = IroLoad(PersonView(2, "Megan Bowen", "meganb@example.com", ("iro",), "IROs"), 3)
IAN = IroLoad(PersonView(3, "Ian Reviewer", "ian@example.com", ("iro",), "IROs"), 0, manages=frozenset({1}))
IVY = IroLoad(PersonView(4, "Ivy Irwin", "ivy@example.com", ("iro",), "IROs"), 1)
ALLOCATED_AT = datetime(2026, 3, 4, 10, tzinfo=UTC)
DUE = DueStep("SO-2026-0007", "S.T.", "cin_plan", 1, "First Child in Need meeting", "social_worker",
              date(2026, 3, 31), False)  # fmt: skip
SUMMARY = OrderSummary("SO-2026-0007", "S.T.", "supervision", date(2026, 3, 3), date(2027, 3, 2), "wirral", "open",
                       None, "Alex Wilber", "First Child in Need meeting", date(2026, 3, 31), 1)  # fmt: skip
REMINDER = Message("reminder", "SO-2026-0007 (S.T.): First Child in Need meeting is due on Tue 31 Mar 2026",
                   ("Due Tue 31 Mar 2026.", "Reply to answer."), "SO-2026-0007", "S.T.", "cin_plan", 1,
                   "First Child in Need meeting", date(2026, 3, 31))  # fmt: skip
STEP_NOW = StepNow("SO-2026-0007", "S.T.", "First Child in Need meeting", "cin_plan", 1, date(2026, 3, 31), "open",
                   None, None, None, "acknowledged", None)  # fmt: skip
DIGEST = Message("digest", "Your orders: 1 overdue, 1 due soon", digest=(
    DigestLine(date(2026, 3, 5), "SO-2026-0007", "S.T.", "Tell the Safeguarding Unit", "social_worker", True),
))  # fmt: skip


def every_card() -> dict[str, cards.Card]:
    """One of each card sobot sends, in each of its shapes."""
    return {
        "the blank form": cards.new_order_form(PROCEDURES, {"procedure": "wirral"}, form="f1"),
        "the interim order's form": cards.new_order_form(PROCEDURES, {"order_type": "interim_supervision"}),
        "the form come back with its problems": cards.new_order_form(
            PROCEDURES,
            {"child_name": "Sam Taylor", "made": "2026-03-03", "months": "12", "last_day": "not a day"},
            {"made": "February 2026 has 28 days.", "months": "Give a length or a last day."},
            "Some answers need changing.",
        ),
        "the saved order's summary": cards.order_summary(view(), link=LINK, saved=True),
        "a summary with a note": cards.order_summary(
            view(iro="Megan Bowen"),
            link=LINK,
            note="Recorded: a step done.",
            events={"first_cin_meeting": "First CIN meeting held"},
        ),
        "the allocation request": cards.allocation_request(view(), [MEGAN, IAN], link=LINK),
        "the allocation request with no IROs": cards.allocation_request(view(), [], link=LINK),
        "the allocation request with no independent IRO": cards.allocation_request(view(), [IAN], link=LINK),
        "the allocated card": cards.allocated(
            view(iro="Megan Bowen"), "Alex Wilber", ALLOCATED_AT, "Ian Reviewer", [MEGAN, IVY], link=LINK
        ),
        "the IROs a name could mean": cards.choose_iro(
            "SO-2026-0007", [("Ian Reviewer", "ian@example.com"), ("Ivy Reviewer", "ivy@example.com")], link=LINK
        ),
        "a table of orders": cards.orders_table("Your orders", [SUMMARY]),
        "a table of steps": cards.due_table("Overdue", [DUE]),
        "a reminder": notification_card(REMINDER, LINKS),
        "an escalation": notification_card(Message(**{**REMINDER.__dict__, "kind": "escalation"}), LINKS),
        "a digest": notification_card(DIGEST, LINKS),
        "a note to the unit": notification_card(Message("nobody", "Nobody is the IRO for SO-2026-0007."), LINKS),
        "the unit told the IRO will be away, with no other IRO free": notification_card(
            Message(
                "note",
                "SO-2026-0007: its IRO, Megan Bowen, is away on Thu 3 Dec 2026.",
                reference="SO-2026-0007",
                reallocate=True,
            ),
            LINKS,
        ),
        "the unit told the IRO will be away, with the IROs free that day": notification_card(
            Message(
                "note",
                "SO-2026-0007: its IRO, Megan Bowen, is away on Thu 3 Dec 2026.",
                reference="SO-2026-0007",
                reallocate=True,
                choices=(("Ian Reviewer", "ian@example.com"), ("Ivy Reviewer", "ivy@example.com")),
            ),
            LINKS,
        ),
        "a reminder sent to someone covering": notification_card(
            Message(**{**REMINDER.__dict__, "covering": "For Megan Bowen, away until Fri 28 Aug"}), LINKS
        ),
        "a message": cards.message("Snoozed: a step, until Fri 04 Dec 2026."),
        "the allocation request refreshed for someone outside the unit": cards.allocation_request(
            view(), [MEGAN, IAN], link=LINK, may_allocate=False
        ),
        "the allocated card refreshed for someone outside the unit": cards.allocated(
            view(iro="Megan Bowen"), "Alex Wilber", ALLOCATED_AT, None, [MEGAN, IVY], link=LINK, may_allocate=False
        ),
        "the reminder to allocate an IRO": cards.reminder(
            "SO-2026-0007",
            "S.T.",
            "Allocate an IRO",
            cards.ALLOCATION_STEP,
            1,
            date(2026, 3, 5),
            "Due soon.",
            link=LINK,
        ),
        "a reminder refreshed, its step open": cards.reminder_now(
            STEP_NOW, date(2026, 3, 10), "29:alex", link=LINK, may_allocate=False
        ),
        "a reminder refreshed, its step done": cards.reminder_now(
            StepNow(**{**STEP_NOW.__dict__, "state": "done", "done_on": date(2026, 3, 9), "done_by": "Alex Wilber"}),
            date(2026, 3, 10),
            "29:alex",
            link=LINK,
            may_allocate=False,
        ),
        "the reminder to allocate refreshed for the unit": cards.reminder_now(
            StepNow(**{**STEP_NOW.__dict__, "key": "allocate_iro", "by_operation": "order.allocate"}),
            date(2026, 3, 10),
            "29:alex",
            link=LINK,
            may_allocate=True,
        ),
    }


def test_every_card_is_valid_at_the_version_it_declares() -> None:
    made = every_card()
    assert {card["version"] for card in made.values()} == {"1.5"}
    problems = {name: found for name, found in check(made).items() if found}
    assert problems == {}


def test_the_check_finds_what_the_renderer_would_not_show() -> None:
    faulty: dict[str, Any] = {
        "a blank number given as text": cards.card({"type": "Input.Number", "id": "months", "value": ""}),
        "a table in a 1.2 card": {**cards.card(cards.table(["Due"], [["Mon"]])), "version": "1.2"},
        "a misspelt property": cards.card({"type": "TextBlock", "text": "Hi", "wrapp": True}),
        "two inputs with one id": cards.card({"type": "Input.Text", "id": "a"}, {"type": "Input.Text", "id": "a"}),
        "an unknown element": cards.card({"type": "Input.Rating", "id": "stars"}),
    }
    found = check(faulty)
    assert {name for name, problems in found.items() if problems} == set(faulty), found
