"""Tables in chat stay within what Teams will carry, however many orders an overseer can see."""

from __future__ import annotations

import json
from datetime import date, timedelta

from bot.cards import MOST_ROWS, due_table, orders_table
from handlers.queries import DueStep, OrderSummary
from tests.cards import texts

TODAY = date(2026, 3, 10)
# Teams refuses a bot's message over about 28 KB.
TEAMS_LIMIT = 28_000


def step(n: int) -> DueStep:
    return DueStep(f"SO-2026-{n:04d}", "J.S.", "initial_review", 1, "Initial review of the child's plan " * 3,
                   "independent_reviewing_officer", TODAY + timedelta(days=n - 100), n < 100)  # fmt: skip


def summary(n: int, overdue: int, next_due: date | None) -> OrderSummary:
    return OrderSummary(f"SO-2026-{n:04d}", "J.S.", "supervision", TODAY, TODAY + timedelta(days=365), "wirral",
                        "open", "Ian Reviewer", "Sam Worker", "Initial review", next_due, overdue)  # fmt: skip


def rows(card: dict[str, object]) -> list[list[str]]:
    [table] = [block for block in card["body"] if block["type"] == "Table"]  # type: ignore[attr-defined, index]
    return [[cell["items"][0]["text"] for cell in row["cells"]] for row in table["rows"][1:]]


def test_a_short_list_is_shown_whole_with_no_note() -> None:
    card = due_table("Due", [step(n) for n in range(5)])
    assert len(rows(card)) == 5 and "earliest of" not in texts(card)


def test_a_long_list_of_steps_shows_the_earliest_and_says_how_many_there_are() -> None:
    card = due_table("Overdue", [step(n) for n in range(400)])
    shown = rows(card)
    assert len(shown) == MOST_ROWS
    assert [r[1] for r in shown] == [f"SO-2026-{n:04d}" for n in range(MOST_ROWS)]
    assert f"The {MOST_ROWS} earliest of 400 steps" in texts(card)
    assert len(json.dumps(card).encode()) < TEAMS_LIMIT


def test_orders_are_shown_most_urgent_first_and_a_long_list_is_cut_short() -> None:
    summaries = [summary(n, overdue=0, next_due=TODAY + timedelta(days=400 - n)) for n in range(300)]
    summaries[250] = summary(250, overdue=2, next_due=TODAY - timedelta(days=3))
    summaries[120] = summary(120, overdue=0, next_due=None)
    card = orders_table("Your orders", summaries)
    shown = [r[0] for r in rows(card)]
    assert len(shown) == MOST_ROWS
    assert shown[0] == "SO-2026-0250", "the order with late steps comes first"
    assert shown[1:4] == ["SO-2026-0299", "SO-2026-0298", "SO-2026-0297"], "then the soonest next step"
    assert "SO-2026-0120" not in shown, "an order with no dated step waits at the end"
    assert f"The {MOST_ROWS} most urgent of 300 orders" in texts(card)
    assert len(json.dumps(card).encode()) < TEAMS_LIMIT
    few = orders_table("Your orders", summaries[:3])
    assert [r[0] for r in rows(few)] == ["SO-2026-0002", "SO-2026-0001", "SO-2026-0000"]
    assert "most urgent of" not in texts(few)


PROCEDURES = [("wirral", "Wirral Supervision Order procedure")]


def inputs(card: dict[str, object]) -> dict[str, dict[str, object]]:
    return {block["id"]: block for block in card["body"] if str(block["type"]).startswith("Input.")}  # type: ignore[attr-defined, index, misc]


def test_a_blank_length_is_left_blank_so_the_form_can_be_sent() -> None:
    from bot.cards import new_order_form

    length = inputs(new_order_form(PROCEDURES, {"procedure": "wirral"}))["months"]
    # A value of "" shows as 0 in the renderer, under the minimum of 1: the form would not be sent.
    assert "value" not in length and length["min"] == 1
    assert "12 months" in str(length["placeholder"])
    kept = inputs(new_order_form(PROCEDURES, {"months": "9"}))["months"]
    assert kept["value"] == 9, "a length typed is kept as the number it is"
    assert "value" not in inputs(new_order_form(PROCEDURES, {"months": "nine"}))["months"]


def test_a_required_label_carries_no_star_of_its_own() -> None:
    from bot.cards import new_order_form

    fields = inputs(new_order_form(PROCEDURES))
    assert fields["child_name"]["isRequired"] is True
    assert not any(str(field["label"]).endswith("*") for field in fields.values()), "the renderer adds the star"


def test_an_interim_order_has_its_own_form_with_no_length_assumed() -> None:
    from bot.cards import new_order_form
    from bot.commands import parse

    assert parse("new ISO", TODAY).text == "interim_supervision"
    assert parse("new order", TODAY).text == "supervision"
    card = new_order_form(PROCEDURES, {"order_type": parse("new interim order", TODAY).text})
    assert "New Interim Supervision Order" in texts(card)
    assert inputs(card)["order_type"]["value"] == "interim_supervision"
    assert "12" not in str(inputs(card)["months"]["placeholder"])
