"""Calendar arithmetic the law uses: months clamped to the month's end, periods "beginning with" a day."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

MAX_ORDER_YEARS = 3


class OutOfCalendar(ValueError):
    """Arithmetic that would leave the calendar (years 1 to 9999): the dates it started from are not an order's."""


def _day(year: int, month: int, day: int) -> date:
    if not date.min.year <= year <= date.max.year:
        raise OutOfCalendar(f"year {year} is outside the calendar")
    return date(year, month, day)


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months; a day the target month lacks becomes its last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return _day(year, month, min(day.day, last))


def period_end(start: date, months: int) -> date:
    """The last day of the period of `months` months beginning with `start`.

    The period ends the day before the corresponding day; where the target month has no corresponding
    day (a month beginning 31 May ends 30 June), it ends on that month's last day.
    """
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    if start.day > last:
        return _day(year, month, last)
    try:
        return _day(year, month, start.day) - timedelta(days=1)
    except OverflowError:
        raise OutOfCalendar("the day before the calendar's first") from None


def order_last_day(made: date, months: int = 12) -> date:
    """The last day of an order of `months` months made on `made` (3 Mar 2026, 12 → 2 Mar 2027)."""
    return period_end(made, months)


def latest_last_day(made: date) -> date:
    """No order or extension may run past three years beginning with the day it was made."""
    return period_end(made, 12 * MAX_ORDER_YEARS)


def whole_months_between(made: date, last_day: date) -> int:
    """How many whole months of the order's length fit from `made` to `last_day` inclusive."""
    months = (last_day.year - made.year) * 12 + (last_day.month - made.month) + 1
    while months > 0 and period_end(made, months) > last_day:
        months -= 1
    return max(months, 0)
