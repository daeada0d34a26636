"""Cards that stay true: allocation and reminder cards carry a refresh for the people who see them, and the card a
refresh answers with shows the step as it stands, with buttons only for those who may press them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from bot import cards
from handlers.directory import IroLoad, PersonView
from handlers.reminders import StepNow
from handlers.views import OrderView
from tests.cards import texts

TODAY = date(2026, 3, 10)
VIEW = OrderView("SO-2026-0001", "C1", "Jane Smith", "J.S.", "supervision", date(2026, 3, 3), date(2026, 3, 3),
                 date(2027, 3, 2), "wirral", "open", None, None, "", "", "", "Sam Worker", None, (),
                 social_worker_id=7, viewers=("29:sam", "29:ian"))  # fmt: skip
IAN = IroLoad(PersonView(1, "Ian Reviewer", "ian@example.gov.uk", ("iro",), "IROs"), 0)
IVY = IroLoad(PersonView(2, "Ivy Reviewer", "ivy@example.gov.uk", ("iro",), "IROs"), 2)
AT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
LINK = "http://127.0.0.1:3978/orders/SO-2026-0001"
OPEN = "Open in sobot"


def actions(card: Any) -> Iterator[dict[str, Any]]:
    """Every button a person can press on a card (not its refresh), however deep."""
    if isinstance(card, dict):
        for key, value in card.items():
            if key == "refresh":
                continue
            if isinstance(value, dict) and str(value.get("type", "")).startswith("Action."):
                yield value
            yield from actions(value)
    elif isinstance(card, list):
        for value in card:
            if isinstance(value, dict) and str(value.get("type", "")).startswith("Action."):
                yield value
            yield from actions(value)


def titles(card: Any) -> list[str]:
    return [action["title"] for action in actions(card)]


def step(**changes: Any) -> StepNow:
    values: dict[str, Any] = {"reference": "SO-2026-0001", "initials": "J.S.", "title": "Rewrite the case summary",
                              "key": "case_summary", "occurrence": 1, "due": date(2026, 3, 12), "state": "open",
                              "done_on": None, "done_by": None, "by_operation": None, "answered": None,
                              "until": None}  # fmt: skip
    return StepNow(**{**values, **changes})


def test_the_allocation_cards_refresh_for_the_people_on_the_order() -> None:
    for card in (
        cards.allocation_request(VIEW, [IAN], link=LINK),
        cards.allocated(VIEW, "Una Unit", AT, None, [IAN, IVY], link=LINK),
    ):
        clause = card["refresh"]
        assert clause["userIds"] == ["29:sam", "29:ian"]
        assert clause["action"] == {"type": "Action.Execute", "title": "Refresh", "verb": "card.refresh",
                                    "data": {"card": "allocation", "reference": "SO-2026-0001"}}  # fmt: skip


def test_no_more_than_sixty_people_are_named_for_a_refresh() -> None:
    many = cards.refresh({"card": "allocation"}, [f"29:{n}" for n in range(100)] + ["29:0"])
    assert many["userIds"] == [f"29:{n}" for n in range(60)]
    assert "userIds" not in cards.refresh({"card": "reminder"}, None)


def test_the_unit_sees_the_iro_buttons_and_everyone_else_sees_none() -> None:
    unit = cards.allocation_request(VIEW, [IAN, IVY], link=LINK)
    assert titles(unit) == ["Ian Reviewer (0 open)", "Ivy Reviewer (2 open)", OPEN]
    others = cards.allocation_request(VIEW, [IAN, IVY], link=LINK, may_allocate=False)
    assert titles(others) == [OPEN] and "Waiting for the Safeguarding Unit" in texts(others)
    assert "refresh" in others, "the card keeps refreshing for them"
    allocated_for_unit = cards.allocated(VIEW, "Una Unit", AT, "Ivy Reviewer", [IAN, IVY], link=LINK)
    assert titles(allocated_for_unit) == ["Reallocate to Ian Reviewer (0 open)", "Reallocate to Ivy Reviewer (2 open)",
                                          OPEN]  # fmt: skip
    allocated_for_others = cards.allocated(
        VIEW, "Una Unit", AT, "Ivy Reviewer", [IAN, IVY], link=LINK, may_allocate=False
    )
    assert titles(allocated_for_others) == [OPEN]
    assert "by Una Unit at 10:00 on 10 Mar 2026 (replacing Ivy Reviewer)" in texts(allocated_for_others)


def test_a_reminder_refreshes_in_its_own_chat_with_its_step() -> None:
    card = cards.reminder(
        "SO-2026-0001", "J.S.", "Rewrite the case summary", "case_summary", 2, TODAY, "Due soon.", link=LINK
    )
    assert card["refresh"]["action"]["data"] == {"card": "reminder", "reference": "SO-2026-0001",
                                                 "step": "case_summary", "occurrence": 2}  # fmt: skip
    assert "userIds" not in card["refresh"], "one person's chat: Teams refreshes it for that person"
    assert titles(card)[:3] == ["Mark done", "Done on a date", "Acknowledge"]


def test_the_reminder_to_allocate_an_iro_offers_the_iros_not_mark_done() -> None:
    card = cards.reminder(
        "SO-2026-0001", "J.S.", "Allocate an IRO", cards.ALLOCATION_STEP, 1, TODAY, "Due soon.", link=LINK
    )
    assert titles(card)[0] == "Choose the IRO" and "Mark done" not in titles(card)
    assert "done_on" not in texts(card) and "Done on" not in texts(card)
    pressed = next(a for a in actions(card) if a["title"] == "Choose the IRO")
    assert pressed["verb"] == "order.choose_iro" and pressed["data"] == {"reference": "SO-2026-0001"}


def test_a_step_done_refreshes_to_who_did_it_and_when_with_only_the_link() -> None:
    card = cards.reminder_now(step(state="done", done_on=date(2026, 3, 9), done_by="Sam Worker"), TODAY, "29:tess",
                              link=LINK, may_allocate=False)  # fmt: skip
    assert "Done on Mon 09 Mar 2026, recorded by Sam Worker." in texts(card)
    assert titles(card) == [OPEN]
    assert card["refresh"]["userIds"] == ["29:tess"]


def test_an_open_step_refreshes_with_its_buttons_and_the_persons_own_answer() -> None:
    late = cards.reminder_now(step(due=date(2026, 3, 5), answered="acknowledged", until=date(2026, 3, 17)), TODAY,
                              "29:sam", link=LINK, may_allocate=False)  # fmt: skip
    assert "Due Thu 05 Mar 2026 (overdue)." in texts(late)
    assert "Acknowledged: reminders pause until Tue 17 Mar 2026." in texts(late)
    over = cards.reminder_now(step(due=date(2026, 3, 5), answered="acknowledged", until=date(2026, 3, 9)), TODAY,
                              "29:sam", link=LINK, may_allocate=False)  # fmt: skip
    assert "its reminders have resumed" in texts(over) and "pause until" not in texts(over)
    assert titles(late)[:3] == ["Mark done", "Done on a date", "Acknowledge"]
    snoozed = cards.reminder_now(
        step(answered="snoozed", until=date(2026, 3, 11)), TODAY, "29:sam", link=LINK, may_allocate=False
    )
    assert "You snoozed it until Wed 11 Mar 2026." in texts(snoozed)
    over = cards.reminder_now(
        step(answered="snoozed", until=date(2026, 3, 9)), TODAY, "29:sam", link=LINK, may_allocate=False
    )
    assert "snoozed" not in texts(over), "a snooze that has run out is not shown"


def test_an_allocation_step_offers_the_iro_choice_only_to_the_unit() -> None:
    allocating = step(key="allocate_iro", title="Allocate an IRO", by_operation="order.allocate")
    unit = cards.reminder_now(allocating, TODAY, "29:una", link=LINK, may_allocate=True)
    assert titles(unit)[0] == "Choose the IRO" and "Mark done" not in titles(unit)
    manager = cards.reminder_now(allocating, TODAY, "29:tess", link=LINK, may_allocate=False)
    assert "Choose the IRO" not in titles(manager) and "Mark done" not in titles(manager)
    assert "Acknowledge" in titles(manager) and "The Safeguarding Unit allocates the IRO." in texts(manager)


def test_a_step_no_longer_due_says_so_with_only_the_link() -> None:
    card = cards.reminder_now(step(state="waived"), TODAY, None, link=LINK, may_allocate=True)
    assert "No longer due" in texts(card) and titles(card) == [OPEN]
    assert "userIds" not in card["refresh"]


def test_a_reminder_sent_to_someone_covering_says_for_whom_and_still_does_refreshed() -> None:
    who = "For Megan Bowen, away until Fri 28 Aug"
    sent = cards.reminder("SO-2026-0001", "J.S.", "Rewrite the case summary", "case_summary", 1, date(2026, 3, 12),
                          "Source: §4.", link=LINK, covering=who)  # fmt: skip
    assert texts(sent).index(f"{who}.") < texts(sent).index("Due Thu 12 Mar 2026")
    data = sent["refresh"]["action"]["data"]
    assert data == {"card": "reminder", "reference": "SO-2026-0001", "step": "case_summary", "occurrence": 1,
                    "covering": who}  # fmt: skip
    again = cards.reminder_now(step(), TODAY, "29:jane", link=LINK, may_allocate=False, covering=data["covering"])
    assert f"{who}." in texts(again) and again["refresh"]["action"]["data"]["covering"] == who
    assert "Mark done" in titles(again)
    done = cards.reminder_now(step(state="done", done_on=date(2026, 3, 9), done_by="Jane Smith"), TODAY, "29:jane",
                              link=LINK, may_allocate=False, covering=who)  # fmt: skip
    assert f"{who}." in texts(done) and "Done on" in texts(done)
    # Sent to the person themselves: no such line.
    assert "away until" not in texts(cards.reminder_now(step(), TODAY, "29:sam", link=LINK, may_allocate=False))
