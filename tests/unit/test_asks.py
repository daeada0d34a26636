"""The Teams agent's one map from what people ask to what answers it: every chat command the parser makes and every
verb sobot's cards carry has its entry, and neither kind can reach the other's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from bot import cards
from bot.agent import SobotAgent
from bot.commands import HELP, parse
from handlers.directory import IroLoad, PersonView
from handlers.views import OrderView

TODAY = date(2026, 3, 10)
LINK = "http://127.0.0.1:3978/orders/SO-2026-0001"
VIEW = OrderView("SO-2026-0001", "C1", "Jane Smith", "J.S.", "supervision", date(2026, 3, 3), date(2026, 3, 3),
                 date(2027, 3, 2), "wirral", "open", None, None, "", "", "", "Sam Worker", None, ())  # fmt: skip
IAN = IroLoad(PersonView(1, "Ian Reviewer", "ian@example.gov.uk", ("iro",), "IROs"), 0)


def verbs(card: Any) -> Iterator[str]:
    """Every verb on a card's buttons, however deep."""
    if isinstance(card, dict):
        if card.get("type") == "Action.Execute":
            yield card["verb"]
        for value in card.values():
            yield from verbs(value)
    elif isinstance(card, list):
        for value in card:
            yield from verbs(value)


def test_every_chat_command_the_parser_makes_has_an_answer_and_is_not_a_card_verb() -> None:
    lines = [usage.replace("[", "").replace("]", "").split(" | ")[0] for usage, _ in HELP] + ["help", "hello"]
    names = {parse(line, TODAY).name for line in lines}
    assert names == {"help", "new_order", "my_orders", "order", "due", "overdue", "done", "event", "allocate",
                     "extend", "use_channel", "confirm", "away", "back", "who_is_away"}  # fmt: skip
    assert all(name in SobotAgent.ASKS and "." not in name for name in names)


def test_every_verb_on_sobots_cards_has_an_answer() -> None:
    shown = [
        cards.new_order_form([("wirral", "Wirral")], {}, form="f"),
        cards.allocation_request(VIEW, [IAN], link=LINK),
        cards.allocated(VIEW, "Una Unit", datetime(2026, 3, 10, tzinfo=UTC), None, [IAN], link=LINK),
        cards.reminder("SO-2026-0001", "J.S.", "Case summary", "case_summary", 1, TODAY, "Due soon.", link=LINK),
        cards.reminder(
            "SO-2026-0001", "J.S.", "Allocate an IRO", cards.ALLOCATION_STEP, 1, TODAY, "Due soon.", link=LINK
        ),
    ]
    found = {verb for card in shown for verb in verbs(card)}
    assert found == {"order.submit", "order.allocate", "step.done", "step.done_on", "step.acknowledge",
                     "step.snooze", "order.choose_iro", "card.refresh"}  # fmt: skip
    assert all(verb in SobotAgent.ASKS and "." in verb for verb in found)
    # No verb in the map is one that no card carries.
    assert set(SobotAgent.ASKS) == found | {name for name in SobotAgent.ASKS if "." not in name}
