"""The court's terms of an order, checked: dates, length, type and extensions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from handlers.errors import InvalidInput
from rules.dates import latest_last_day, order_last_day

ORDER_TYPES = {
    "supervision": "supervision",
    "so": "supervision",
    "supervision order": "supervision",
    "interim": "interim_supervision",
    "interim_supervision": "interim_supervision",
    "interim supervision": "interim_supervision",
    "interim supervision order": "interim_supervision",
    "iso": "interim_supervision",
}
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
    found = ORDER_TYPES.get(" ".join(text.strip().lower().replace("-", " ").split()))
    if found is None:
        raise InvalidInput(
            f"{text!r} is not an order type: say supervision or interim (an interim supervision order).",
            "order_type",
        )
    return found


def order_terms(
    order_type_text: str,
    made: date,
    commenced: date | None = None,
    months: int | None = None,
    last_day: date | None = None,
) -> OrderTerms:
    """The order's dates, or InvalidInput saying what to change.

    A supervision order lasts one year beginning with the day it was made unless the court set less; an
    interim order lasts what the court set. Neither may run past three years beginning with that day.
    """
    kind = order_type(order_type_text)
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
