"""Dates as people in English councils write them, in chat and in email: day first, always."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

MONTHS = {
    name: number
    for number, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
         ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
         ("november", "nov"), ("december", "dec")],
        start=1,
    )
    for name in names
}  # fmt: skip
WEEKDAYS = {
    name: number
    for number, names in enumerate(
        [("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thu", "thur", "thurs"),
         ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun")]
    )
    for name in names
}  # fmt: skip
HOW_TO_WRITE = "write it like 3 March 2026 or 03/03/2026"

_WEEKDAY = r"(?:(?P<weekday>[a-z]+)\.?,?\s+)?"
_YEAR = r"(?P<year>\d{4}|\d{2})"
# The separator is captured and repeated so that "3/3-2026" is refused rather than guessed at.
_DAY_FIRST = re.compile(r"(?P<day>\d{1,2})\s*(?P<sep>[/.\-])\s*(?P<month>\d{1,2})\s*(?P=sep)\s*" + _YEAR)
_YEAR_FIRST = re.compile(r"(?P<year>\d{4})\s*(?P<sep>[/.\-])\s*(?P<month>\d{1,2})\s*(?P=sep)\s*(?P<day>\d{1,2})")
_DAY_MONTH_NAME = re.compile(
    _WEEKDAY + r"(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>[a-z]+)\.?,?\s+" + _YEAR
)
# "March 3rd, 2026" is not ambiguous: the month is a word, so its order does not matter.
_MONTH_NAME_DAY = re.compile(_WEEKDAY + r"(?P<month>[a-z]+)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+" + _YEAR)
_NO_YEAR = re.compile(
    _WEEKDAY
    + r"(?:\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?[a-z]+|[a-z]+\s+\d{1,2}(?:st|nd|rd|th)?|\d{1,2}\s*[/.\-]\s*\d{1,2})"
)


class DateNotUnderstood(ValueError):
    """The text is not a date, or names a day that does not exist; the message says which, and how to write it."""


def parse_uk_date(text: str, today: date | None = None) -> date:
    """The date in `text`, day first whenever the month is a number ("today" and "yesterday" too, given today).

    DateNotUnderstood says what is wrong otherwise.
    """
    cleaned = " ".join(text.lower().split()).rstrip(".,;")
    if today is not None and cleaned in ("today", "yesterday"):
        return today - timedelta(days=0 if cleaned == "today" else 1)
    if not cleaned:
        raise DateNotUnderstood(f"No date given: {HOW_TO_WRITE}.")
    if match := _YEAR_FIRST.fullmatch(cleaned):
        return _checked(text, int(match["year"]), int(match["month"]), int(match["day"]))
    if match := _DAY_FIRST.fullmatch(cleaned):
        return _checked(text, _full_year(match["year"]), int(match["month"]), int(match["day"]), month_second=True)
    if match := _DAY_MONTH_NAME.fullmatch(cleaned) or _MONTH_NAME_DAY.fullmatch(cleaned):
        if match["month"] not in MONTHS:
            raise DateNotUnderstood(
                f"{_quoted(text)} is not a date ({match['month']!r} is not a month): {HOW_TO_WRITE}."
            )
        return _checked(text, _full_year(match["year"]), MONTHS[match["month"]], int(match["day"]), match["weekday"])
    if _NO_YEAR.fullmatch(cleaned):
        raise DateNotUnderstood(f"{_quoted(text)} has no year: {HOW_TO_WRITE}.")
    raise DateNotUnderstood(f"{_quoted(text)} is not a date I can read: {HOW_TO_WRITE}.")


def _full_year(digits: str) -> int:
    # A two-digit year in an order email is this century's: no order or child here predates 2000 by a century.
    return int(digits) + 2000 if len(digits) == 2 else int(digits)


def _checked(
    text: str, year: int, month: int, day: int, weekday: str | None = None, *, month_second: bool = False
) -> date:
    if not 1 <= month <= 12:
        # 03/13/2026 is most likely American, month first: show the writer the same date day first.
        swapped = f" write the day first, e.g. {month:02d}/{day:02d}/{year}" if month_second and 1 <= day <= 12 else ""
        raise DateNotUnderstood(
            f"{_quoted(text)} is not a date (there is no month {month}):{swapped or ' ' + HOW_TO_WRITE}."
        )
    days_in_month = calendar.monthrange(year, month)[1]
    if day == 0:
        raise DateNotUnderstood(f"{_quoted(text)} is not a date (there is no day 0): {HOW_TO_WRITE}.")
    if day > days_in_month:
        raise DateNotUnderstood(
            f"{_quoted(text)} is not a date ({calendar.month_name[month]} {year} has {days_in_month} days)."
        )
    found = date(year, month, day)
    if weekday is not None:
        if weekday not in WEEKDAYS:
            raise DateNotUnderstood(f"{_quoted(text)} is not a date I can read: {HOW_TO_WRITE}.")
        if WEEKDAYS[weekday] != found.weekday():
            raise DateNotUnderstood(
                f"{_quoted(text)} is not a date: {found.day} {found:%B %Y} is a {found:%A}. Check which day you meant."
            )
    return found


# What is typed is repeated back at most this long: a page pasted in place of a date is not sent back whole.
QUOTED_AT_MOST = 60


def _quoted(text: str) -> str:
    line = " ".join(text.split())
    return "'" + (line if len(line) <= QUOTED_AT_MOST else line[: QUOTED_AT_MOST - 1].rstrip() + "…") + "'"
