"""Dates as people in English councils write them: day first, always."""

from __future__ import annotations

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
_WEEKDAY = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*,?\s+"
_NUMERIC = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_WORDS = re.compile(rf"(?:{_WEEKDAY})?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]+)\.?,?\s+(\d{{4}})")


class DateNotUnderstood(ValueError):
    """The text is not a date, or names a day that does not exist; the message says which."""


def _make(year: int, month: int, day: int, text: str) -> date:
    if not 1 <= month <= 12:
        raise DateNotUnderstood(f"{text!r} has no month {month}: write the day first, e.g. 3/3/2026.")
    try:
        return date(year, month, day)
    except ValueError:
        raise DateNotUnderstood(f"{text!r} is not a date: {date(year, month, 1):%B %Y} has no day {day}.") from None


def parse_uk_date(text: str, today: date | None = None) -> date:
    """3 March 2026, 3rd March 2026, 03/03/2026, 3/3/26, 2026-03-03 (and today, yesterday)."""
    cleaned = " ".join(text.strip().lower().split())
    if today is not None and cleaned in ("today", "yesterday"):
        return today - timedelta(days=0 if cleaned == "today" else 1)
    if match := _ISO.fullmatch(cleaned):
        return _make(int(match[1]), int(match[2]), int(match[3]), text)
    if match := _NUMERIC.fullmatch(cleaned):
        year = int(match[3])
        return _make(year + 2000 if year < 100 else year, int(match[2]), int(match[1]), text)
    if match := _WORDS.fullmatch(cleaned):
        month = MONTHS.get(match[2])
        if month is None:
            raise DateNotUnderstood(f"{text!r}: {match[2]!r} is not a month.")
        return _make(int(match[3]), month, int(match[1]), text)
    raise DateNotUnderstood(f"{text.strip()!r} is not a date I can read: write it like 3 March 2026 or 03/03/2026.")
