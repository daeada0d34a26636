"""The court's terms of an order, checked: dates, length, type and extensions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from handlers.errors import InvalidInput
from rules.dates import OutOfCalendar, latest_last_day, order_last_day

# No order here was made before this: a date made earlier is a mistyped year.
FIRST_ORDER_DAY = date(1990, 1, 1)
TYPE_NAMES = {"supervision": "supervision order", "interim_supervision": "interim supervision order"}
DEFAULT_MONTHS = 12


@dataclass(frozen=True)
class OrderTerms:
    order_type: str
    made: date
    commenced: date
    last_day: date


def parse_iso_date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{text!r} is not a date I can read for {what}: write it as YYYY-MM-DD, e.g. 2026-03-03.", what
        ) from None


def order_type(text: str) -> str:
    """supervision or interim_supervision, however it is written: "SO", "ISO", "s.38", "Interim Supervision Order"."""
    words = set(re.sub(r"[^a-z0-9]+", " ", text.lower().replace(".", "")).split())
    if "care" in words and "supervision" not in words:
        raise InvalidInput(
            f"'{text}' is not a supervision order: sobot records supervision orders (SO) and interim supervision "
            "orders (ISO) only.",
            "order_type",
        )
    if words & {"interim", "iso", "s38"} or re.search(r"\bsection 38\b", text, re.IGNORECASE):
        return "interim_supervision"
    if words & {"supervision", "so"}:
        return "supervision"
    raise InvalidInput(
        f"'{text}' is not an order type I know: write Supervision Order (SO) or Interim Supervision Order (ISO).",
        "order_type",
    )


def order_terms(
    order_type_text: str,
    made: date,
    commenced: date | None = None,
    months: int | None = None,
    last_day: date | None = None,
) -> OrderTerms:
    """The order's dates, or InvalidInput saying what to change.

    A supervision order lasts one year beginning with the day it was made unless the court set less; an
    interim order lasts what the court set, so its last day (or length) must be given. Neither may run past
    three years beginning with that day, and no order here was made before 1990.
    """
    kind = order_type(order_type_text)
    if made < FIRST_ORDER_DAY:
        raise InvalidInput(f"The order was made before 1990 ({day(made)}): check the year.", "made")
    try:
        return _terms(kind, made, commenced, months, last_day)
    except OutOfCalendar:
        raise InvalidInput(
            f"An order made on {day(made)} would run past the calendar's last year: check the year.", "made"
        ) from None


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """ "1 order", "2 orders", "0 replies" (with `plural` for a noun that does not take an s)."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def day(value: date) -> str:
    """A date as a sentence gives it; strftime's %Y would drop a year's leading zeros ("01 January 1")."""
    return f"{value:%d %B} {value.year:04d}"


def _terms(kind: str, made: date, commenced: date | None, months: int | None, last_day: date | None) -> OrderTerms:
    commenced = commenced or made
    if commenced < made:
        raise InvalidInput(
            f"The order cannot commence ({commenced:%d %B %Y}) before it was made ({made:%d %B %Y}): "
            "check the commencement date.",
            "commenced",
        )
    if months is not None and last_day is not None:
        raise InvalidInput("Give the order's length in months or its last day, not both.", "last_day")
    if months is not None:
        if months < 1:
            raise InvalidInput("An order's length must be at least one month.", "months")
        if months > 36:
            raise InvalidInput("No order may run past three years: give a length of at most 36 months.", "months")
        last_day = order_last_day(made, months)
    elif last_day is None:
        if kind == "interim_supervision":
            # The court sets an interim order's end (often the next hearing): there is no length to assume.
            raise InvalidInput(
                f"An {TYPE_NAMES[kind]} lasts as long as the court set: give its last day (or its length in months).",
                "last_day",
            )
        last_day = order_last_day(made, DEFAULT_MONTHS)
    if last_day < commenced:
        raise InvalidInput(
            f"The last day ({last_day:%d %B %Y}) is before the order commenced ({commenced:%d %B %Y}): "
            "check the dates.",
            "last_day",
        )
    limit = latest_last_day(made)
    if last_day > limit:
        raise InvalidInput(
            f"No order may run past three years beginning with the day it was made: the latest last day for "
            f"an order made on {made:%d %B %Y} is {limit:%d %B %Y}.",
            "last_day",
        )
    one_year = order_last_day(made, DEFAULT_MONTHS)
    if kind == "supervision" and last_day > one_year:
        raise InvalidInput(
            f"A supervision order lasts at most one year beginning with the day it was made (to "
            f"{one_year:%d %B %Y}); record the order as made, then record the court's extension.",
            "last_day",
        )
    return OrderTerms(kind, made, commenced, last_day)


def extension(made: date, current_last_day: date, new_last_day: date) -> date:
    """The new last day of an extended order, or InvalidInput saying why the court's date cannot stand."""
    if new_last_day <= current_last_day:
        raise InvalidInput(
            f"An extension must end after the current last day ({current_last_day:%d %B %Y}).", "last_day"
        )
    limit = latest_last_day(made)
    if new_last_day > limit:
        raise InvalidInput(
            f"An extension may not run past three years beginning with the day the order was made: the "
            f"latest last day for this order is {limit:%d %B %Y}.",
            "last_day",
        )
    return new_last_day
