"""The order reader every channel uses: labelled strings to a NewOrder, or a sentence for each field to change."""

from __future__ import annotations

from datetime import date

import pytest

from handlers.order_form import FieldProblem, NewOrder, order_problems, read_order

TODAY = date(2026, 3, 10)
GOOD = {"child_local_id": "C1", "child_name": "Jane Smith", "order_type": "SO", "made": "3 March 2026"}


def problems(**changes: str) -> list[FieldProblem]:
    read = read_order({**GOOD, **changes}, TODAY)
    assert isinstance(read, list), read
    return read


def test_good_values_are_a_new_order() -> None:
    read = read_order({**GOOD, "child_date_of_birth": "14/07/2015", "commenced": "same as date made",
                       "months": "12", "social_worker": "Sam Worker <Sam.Worker@example.gov.uk>",
                       "conditions": "Attend school\n\nSee the GP", "court": "n/a"}, TODAY)  # fmt: skip
    assert read == NewOrder(
        child_local_id="C1", child_name="Jane Smith", order_type="supervision", made=date(2026, 3, 3),
        child_date_of_birth=date(2015, 7, 14), months=12, social_worker_email="sam.worker@example.gov.uk",
        conditions="Attend school\nSee the GP",
    )  # fmt: skip


def test_nothing_given_names_every_field_needed_and_what_to_give() -> None:
    assert read_order({}, TODAY) == [
        FieldProblem("child_local_id", "Child ID is missing: give the child's local ID (the council's case number)."),
        FieldProblem("child_name", "Child name is missing: give the child's name."),
        FieldProblem("order_type", "Order type is missing: say supervision order (SO) or interim supervision order "
                                   "(ISO)."),
        FieldProblem("made", "Date made is missing: give the day the court made the order."),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "written",
    ["ISO", "iso", "s38", "s.38", "S38", "interim", "Interim Supervision Order", "interim supervision order (s.38)",
     "interim_supervision", "Supervision order under section 38"],
)  # fmt: skip
def test_an_interim_order_however_it_is_written(written: str) -> None:
    read = read_order({**GOOD, "order_type": written, "last_day": "2 June 2026"}, TODAY)
    assert isinstance(read, NewOrder) and read.order_type == "interim_supervision"


@pytest.mark.parametrize("written", ["SO", "S.O.", "supervision", "Supervision Order", "supervision order (s.31)"])
def test_a_supervision_order_however_it_is_written(written: str) -> None:
    read = read_order({**GOOD, "order_type": written}, TODAY)
    assert isinstance(read, NewOrder) and read.order_type == "supervision"


def test_an_interim_order_needs_the_end_the_court_set() -> None:
    [problem] = problems(order_type="ISO")
    assert problem.field == "last_day" and "give its last day (or its length in months)" in problem.sentence
    read = read_order({**GOOD, "order_type": "ISO", "months": "3"}, TODAY)
    assert isinstance(read, NewOrder) and read.months == 3
    # A supervision order still lasts its year by default.
    assert isinstance(read_order(GOOD, TODAY), NewOrder)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"made": "11 March 2026"}, "made", "11 March 2026 is in the future"),
        ({"made": "tomorrow"}, "made", "is not a date I can read"),
        ({"made": "31/12/1989"}, "made", "before 1990"),
        ({"made": "0001-01-01"}, "made", "made before 1990 (01 January 0001)"),
        ({"made": "9999-12-31"}, "made", "31 December 9999 is in the future"),
        ({"made": "1900-01-01"}, "made", "before 1990"),
        ({"made": "2099-01-01"}, "made", "in the future"),
        ({"child_date_of_birth": "2 March 2008"}, "child_date_of_birth", "more than 18 years before the order"),
        ({"child_date_of_birth": "0001-01-01"}, "child_date_of_birth", "more than 18 years before the order"),
        ({"child_date_of_birth": "4 March 2026"}, "child_date_of_birth", "after the order was made"),
        ({"child_date_of_birth": "9999-12-31"}, "child_date_of_birth", "after the order was made"),
        ({"commenced": "1 March 2026"}, "commenced", "Commencement date: the order cannot commence"),
        ({"months": "13"}, "last_day", "at most one year"),
        ({"months": "0"}, "months", "at least one month"),
        ({"months": "twelve-ish"}, "months", "is not a number of months"),
        ({"length": "6 weeks"}, "length", "give the order's last day instead"),
        ({"length": "about a year"}, "length", "is not a length or a date"),
        ({"months": "6", "last_day": "2 June 2026"}, "last_day", "not both"),
        ({"last_day": "9999-12-31"}, "last_day", "three years"),
        ({"last_day": "0001-01-01"}, "last_day", "before the order commenced"),
        ({"order_type": "care order"}, "order_type", "is not a supervision order"),
        ({"order_type": "child arrangements"}, "order_type", "is not an order type I know"),
        ({"social_worker": "sam.worker@"}, "social_worker", "is not an email address I can read"),
    ],
)  # fmt: skip
def test_each_problem_names_its_field(changes: dict[str, str], field: str, words: str) -> None:
    [problem] = problems(**changes)
    assert problem.field == field and words in problem.sentence, problem


def test_every_problem_at_once_in_the_order_of_the_form() -> None:
    found = problems(made="31/02/2026", child_date_of_birth="yesterday-ish", order_type="care", child_name="")
    assert [p.field for p in found] == ["child_name", "child_date_of_birth", "order_type", "made"]


def test_a_length_in_the_words_people_use() -> None:
    for written, months in [("6 months", 6), ("1 year", 12), ("one year", 12), ("9 mths", 9), ("12.0", 12)]:
        read = read_order({**GOOD, "length": written}, TODAY)
        assert isinstance(read, NewOrder) and read.months == months, written
    read = read_order({**GOOD, "length": "2 March 2027"}, TODAY)
    assert isinstance(read, NewOrder) and read.last_day == date(2027, 3, 2) and read.months is None


def test_an_order_made_without_the_reader_meets_the_same_rules() -> None:
    made_today = NewOrder("C1", "Jane Smith", "s38", TODAY, months=2)
    assert order_problems(made_today, TODAY) == []
    assert [p.field for p in order_problems(NewOrder("C1", "Jane Smith", "ISO", TODAY), TODAY)] == ["last_day"]
    assert [p.field for p in order_problems(NewOrder("C1", "J", "supervision", date(2026, 3, 11)), TODAY)] == ["made"]


def test_a_social_worker_named_without_an_address_is_left_to_the_directory() -> None:
    read = read_order({**GOOD, "social_worker": "Dev  Sharma"}, TODAY)
    assert isinstance(read, NewOrder) and read.social_worker_email is None and read.social_worker_name == "Dev Sharma"
