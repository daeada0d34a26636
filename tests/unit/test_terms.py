"""The court's terms of an order: each bad one is refused with a sentence saying what to change."""

from datetime import date

import pytest

from handlers.errors import InvalidInput
from handlers.terms import extension, order_terms, order_type


def test_defaults_are_one_year_commencing_the_day_made() -> None:
    terms = order_terms("supervision", date(2026, 3, 3))
    assert (terms.commenced, terms.last_day) == (date(2026, 3, 3), date(2027, 3, 2))


def test_length_in_months_or_last_day() -> None:
    assert order_terms("SO", date(2026, 3, 3), months=6).last_day == date(2026, 9, 2)
    assert order_terms("interim", date(2026, 3, 3), last_day=date(2026, 5, 1)).order_type == "interim_supervision"


@pytest.mark.parametrize("text", ["ISO", "interim supervision order", "Interim-Supervision"])
def test_order_type_words(text: str) -> None:
    assert order_type(text) == "interim_supervision"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"order_type_text": "child arrangements"}, "order_type", "not an order type"),
        ({"order_type_text": "care"}, "order_type", "not a supervision order"),
        ({"order_type_text": "supervision", "commenced": date(2026, 3, 1)}, "commenced", "before it was made"),
        ({"order_type_text": "supervision", "last_day": date(2026, 3, 1)}, "last_day", "before the order commenced"),
        ({"order_type_text": "supervision", "months": 13}, "last_day", "at most one year"),
        ({"order_type_text": "interim", "months": 40}, "months", "three years"),
        ({"order_type_text": "ISO"}, "last_day", "lasts as long as the court set: give its last day"),
        ({"order_type_text": "supervision", "made": date(1989, 12, 31)}, "made", "before 1990"),
        ({"order_type_text": "supervision", "made": date(9999, 12, 31)}, "made", "past the calendar's last year"),
        ({"order_type_text": "interim", "last_day": date(2029, 3, 3)}, "last_day", "2 March 2029"),
        ({"order_type_text": "supervision", "months": 6, "last_day": date(2026, 5, 1)}, "last_day", "not both"),
    ],
)
def test_bad_terms_are_refused(kwargs: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        order_terms(**({"made": date(2026, 3, 3)} | kwargs))  # type: ignore[arg-type]
    assert refused.value.field == field
    assert words in str(refused.value)


def test_extensions_stop_at_three_years() -> None:
    made = date(2026, 3, 3)
    assert extension(made, date(2027, 3, 2), date(2029, 3, 2)) == date(2029, 3, 2)
    with pytest.raises(InvalidInput, match="2 March 2029"):
        extension(made, date(2027, 3, 2), date(2029, 3, 3))
    with pytest.raises(InvalidInput, match="after the current last day"):
        extension(made, date(2027, 3, 2), date(2027, 3, 2))
