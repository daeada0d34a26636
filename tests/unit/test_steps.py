"""Which step or event a person's words name, as every channel reads them (pure)."""

from __future__ import annotations

import pytest

from handlers.errors import InvalidInput
from handlers.steps import step_and_value, step_key, title
from rules.procedures import load_builtin

WIRRAL = load_builtin()["wirral"]


@pytest.mark.parametrize(
    ("words", "key"),
    [
        ("case_summary", "case_summary"),  # its key
        ("Case-Summary", "case_summary"),  # its key, however typed
        ("inform safeguarding unit", "inform_safeguarding_unit"),  # words of its title
        ("allocate iro", "allocate_iro"),  # the step, not the event that completes it
        ("first cin meeting", "first_cin_meeting"),
    ],
)
def test_words_name_one_step(words: str, key: str) -> None:
    assert step_key(WIRRAL, words) == key
    assert step_and_value(WIRRAL, words) == (key, None)


def test_an_event_with_values_takes_its_value_from_the_last_word() -> None:
    assert step_and_value(WIRRAL, "outcome B") == ("outcome", "B")
    assert step_and_value(WIRRAL, "outcome b") == ("outcome", "B")
    # A last word that is not one of its values is part of the step's name, not a value.
    assert step_and_value(WIRRAL, "outcome") == ("outcome", None)


def test_words_that_name_no_step_or_two_equally_say_which_steps_there_are() -> None:
    with pytest.raises(InvalidInput, match="I can't tell which step 'tea break' is. Its steps are: ") as said:
        step_key(WIRRAL, "tea break")
    # Listed as people know them, by title: never by key.
    assert "Rewrite the case summary on Liquidlogic" in str(said.value) and "case_summary" not in str(said.value)
    with pytest.raises(InvalidInput) as long:
        step_key(WIRRAL, "tea " * 5000)
    assert len(str(long.value)) < 3000 and "tea " * 30 not in str(long.value), "what was typed is cut short"
    assert step_key(WIRRAL, "tea break", quiet=True) is None
    with pytest.raises(InvalidInput, match="I can't tell which step 'review'"):
        step_key(WIRRAL, "review")  # several reviews, none more than the others


def test_a_title_is_the_step_s_or_the_event_s_or_the_key() -> None:
    assert title(WIRRAL, "case_summary").startswith("Rewrite the case summary")
    assert title(WIRRAL, "iro_allocated") == "IRO allocated by the Safeguarding Unit"
    assert title(WIRRAL, "no_such_step") == "no_such_step"
