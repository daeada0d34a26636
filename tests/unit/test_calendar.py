"""Working days of England and Wales, and the month arithmetic the law uses."""

from datetime import date, timedelta

import pytest

from rules.calendar import WorkingCalendar
from rules.dates import add_months, latest_last_day, order_last_day, period_end, whole_months_between

calendar = WorkingCalendar()


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 3, 3), True),  # a Tuesday
        (date(2026, 3, 7), False),  # Saturday
        (date(2026, 4, 3), False),  # Good Friday
        (date(2026, 4, 6), False),  # Easter Monday
        (date(2026, 5, 4), False),  # early May bank holiday
        (date(2026, 5, 25), False),  # spring bank holiday
        (date(2026, 8, 31), False),  # summer bank holiday (England; Scotland's is 3 August)
        (date(2026, 8, 3), True),
        (date(2026, 12, 25), False),
        (date(2026, 12, 28), False),  # Boxing Day falls on a Saturday: substitute Monday
        (date(2027, 1, 1), False),
        (date(2027, 3, 17), True),  # St Patrick's Day is a holiday in Northern Ireland only
        (date(2027, 3, 26), False),  # Good Friday 2027
    ],
)
def test_working_days_of_england(day: date, working: bool) -> None:
    assert calendar.is_working_day(day) is working


def test_closure_days_are_not_working_days() -> None:
    closed = WorkingCalendar([date(2026, 12, 24)])
    assert calendar.is_working_day(date(2026, 12, 24))
    assert not closed.is_working_day(date(2026, 12, 24))
    # Due on the closure day → the working day before: Wednesday 23 December.
    assert closed.on_or_before(date(2026, 12, 24)) == date(2026, 12, 23)


def test_a_deadline_on_a_non_working_day_moves_to_the_working_day_before() -> None:
    assert calendar.on_or_before(date(2026, 4, 6)) == date(2026, 4, 2)  # Easter Monday → Maundy Thursday
    assert calendar.on_or_before(date(2027, 1, 3)) == date(2026, 12, 31)  # Sunday, Sat, New Year → Thursday
    assert calendar.on_or_before(date(2026, 3, 3)) == date(2026, 3, 3)


def test_counting_working_days() -> None:
    # From Thursday 2 April 2026: Good Friday and Easter Monday are skipped; 1 working day on is Tue 7 April.
    assert calendar.add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 7)
    # 10 working days after Tue 3 March 2026 is Tue 17 March.
    assert calendar.add_working_days(date(2026, 3, 3), 10) == date(2026, 3, 17)
    # 10 working days before Thu 3 Dec 2026 is Thu 19 Nov.
    assert calendar.add_working_days(date(2026, 12, 3), -10) == date(2026, 11, 19)
    # 2 working days before Tue 29 Dec 2026: Mon 28 (holiday), Fri 25 (holiday), so Thu 24, Wed 23.
    assert calendar.add_working_days(date(2026, 12, 29), -2) == date(2026, 12, 23)
    assert calendar.working_days_between(date(2026, 4, 2), date(2026, 4, 7)) == 1
    assert calendar.working_days_between(date(2026, 4, 7), date(2026, 4, 2)) == -1


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 5, 31), 9, date(2027, 2, 28)),
        (date(2027, 5, 31), 9, date(2028, 2, 29)),  # leap year
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2026, 3, 3), 12, date(2027, 3, 3)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
    ],
)
def test_months_add_like_a_calendar(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("made", "months", "last_day"),
    [
        (date(2026, 3, 3), 12, date(2027, 3, 2)),  # the statute's own example
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # no 29 Feb in 2025: the year ends with February
        (date(2026, 1, 1), 12, date(2026, 12, 31)),
        (date(2026, 5, 31), 1, date(2026, 6, 30)),  # no 31 June: a month beginning 31 May ends 30 June
        (date(2026, 8, 15), 6, date(2027, 2, 14)),
    ],
)
def test_order_last_day_is_one_period_beginning_with_the_day_made(made: date, months: int, last_day: date) -> None:
    assert order_last_day(made, months) == last_day
    assert period_end(made, months) == last_day


def test_three_years_beginning_with_the_day_made() -> None:
    assert latest_last_day(date(2026, 3, 3)) == date(2029, 3, 2)
    assert latest_last_day(date(2028, 2, 29)) == date(2031, 2, 28)


@pytest.mark.parametrize(
    ("made", "last_day", "months"),
    [
        (date(2026, 3, 3), date(2027, 3, 2), 12),
        (date(2026, 3, 3), date(2027, 3, 1), 11),
        (date(2026, 3, 3), date(2026, 9, 2), 6),
        (date(2026, 3, 3), date(2026, 3, 10), 0),
        (date(2024, 2, 29), date(2025, 2, 28), 12),
    ],
)
def test_whole_months_of_an_order(made: date, last_day: date, months: int) -> None:
    assert whole_months_between(made, last_day) == months


def test_kept_sums_answer_as_counting_afresh_does() -> None:
    calendar = WorkingCalendar([date(2026, 12, 29)])
    calendar.KEPT_SUMS = 7  # small, so the store is emptied and filled again along the way
    starts = [date(2026, 12, 1) + timedelta(days=n) for n in range(40)]
    for _ in range(2):
        for start in starts:
            for count in (-10, -1, 0, 1, 5, 20):
                fresh = WorkingCalendar([date(2026, 12, 29)]).add_working_days(start, count)
                assert calendar.add_working_days(start, count) == fresh
