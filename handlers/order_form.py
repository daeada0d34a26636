"""One reader of a new order's fields for every channel: labelled strings in, a NewOrder or field problems out."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from handlers.errors import InvalidInput, brief
from handlers.terms import FIRST_ORDER_DAY, day, order_terms, order_type
from rules.dates import add_months
from rules.ukdates import DateNotUnderstood, parse_uk_date

# The field names a channel labels its strings with, and the words each problem names the field by.
LABELS = {
    "child_local_id": "Child ID",
    "child_name": "Child name",
    "child_date_of_birth": "Date of birth",
    "order_type": "Order type",
    "made": "Date made",
    "commenced": "Commencement date",
    "months": "Length",
    "length": "Length or last day",
    "last_day": "Last day",
    "court": "Court",
    "other_orders": "Other orders",
    "conditions": "Conditions",
    "procedure": "Procedure",
    "social_worker": "Social worker",
    "notes": "Notes",
}
REQUIRED = {
    "child_local_id": "give the child's local ID (the council's case number)",
    "child_name": "give the child's name",
    "order_type": "say supervision order (SO) or interim supervision order (ISO)",
    "made": "give the day the court made the order",
}
CHILDHOOD_YEARS = 18

# Words people write in a field they have nothing for.
NOTHING = {"", "none", "n/a", "na", "nil", "-", "–", "no", "nothing", "not applicable", "none known", "unknown", "tbc"}
SAME_DAY = re.compile(r"(?:same|as above|on the day|immediate|from the date made)", re.IGNORECASE)
EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "nine": 9, "twelve": 12,
    "eighteen": 18, "twenty four": 24, "thirty six": 36,
}  # fmt: skip
_LENGTH = re.compile(
    rf"(?P<number>\d{{1,2}}|{'|'.join(_NUMBER_WORDS)})\s*(?P<unit>months?|mths?|mnths?|m|years?|yrs?|y)\b",
    re.IGNORECASE,
)
# A number input (Teams' Input.Number) sends "12" or "12.0".
_BARE_NUMBER = re.compile(r"(?P<number>\d{1,2})(?:\.0+)?")
_OTHER_UNIT = re.compile(r"\d+\s*(?:weeks?|wks?|days?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class NewOrder:
    """What a social worker tells us of a new order, in any channel."""

    child_local_id: str
    child_name: str
    order_type: str
    made: date
    child_date_of_birth: date | None = None
    commenced: date | None = None
    months: int | None = None
    last_day: date | None = None
    court: str = ""
    other_orders: str = ""
    conditions: str = ""
    procedure: str | None = None
    social_worker_email: str | None = None
    # A social worker named without an address: the operation finds them in the directory by name.
    social_worker_name: str | None = None
    notes: str = ""
    form_id: str | None = None  # the Teams form it came from, so saving that form twice saves once


@dataclass(frozen=True)
class FieldProblem:
    """Why one field cannot stand: `sentence` names the field and says what to write instead."""

    field: str
    sentence: str


def read_order(values: Mapping[str, str], today: date) -> NewOrder | list[FieldProblem]:
    """The order the labelled strings give, or every problem with them, in the order of LABELS.

    The fields are LABELS' keys; `length` is either a length or a last day, as a form with one box for both
    gives it. Words for nothing ("none", "n/a") are an empty field. Whether the people named are in the
    directory is the operation's to check.
    """
    problems: list[FieldProblem] = []
    text = {field: _value(values.get(field)) for field in LABELS}
    for field, what_to_do in REQUIRED.items():
        if not text[field]:
            problems.append(FieldProblem(field, f"{LABELS[field]} is missing: {what_to_do}."))
    kind = _order_type(text["order_type"], problems) if text["order_type"] else None
    made = _date(text, "made", problems)
    dob = _date(text, "child_date_of_birth", problems)
    commenced = None if SAME_DAY.match(text["commenced"]) else _date(text, "commenced", problems)
    months, last_day = None, None
    for field in ("months", "length", "last_day"):
        more_months, more_last_day = _length_or_last_day(text, field, problems)
        if more_months is not None or more_last_day is not None:
            if months is not None or last_day is not None:
                problems.append(FieldProblem(field, "Give the order's length in months or its last day, not both."))
                continue
            months, last_day = more_months, more_last_day
    social_worker, social_worker_name = _social_worker(text["social_worker"], problems)
    if problems or kind is None or made is None:
        return sorted(problems, key=lambda p: list(LABELS).index(p.field))
    new = NewOrder(
        child_local_id=text["child_local_id"], child_name=text["child_name"], order_type=kind, made=made,
        child_date_of_birth=dob, commenced=commenced, months=months, last_day=last_day, court=text["court"],
        other_orders=_lines(values.get("other_orders")), conditions=_lines(values.get("conditions")),
        procedure=text["procedure"] or None, social_worker_email=social_worker, social_worker_name=social_worker_name,
        notes=_lines(values.get("notes")),
    )  # fmt: skip
    return order_problems(new, today) or new


def order_problems(new: NewOrder, today: date) -> list[FieldProblem]:
    """What is wrong with an order's dates and terms, however it was read: none when it can be saved."""
    made = new.made
    if made > today:
        return [
            FieldProblem("made", f"Date made: {day(made)} is in the future: record an order once the court has "
                                 "made it, with the day it was made.")
        ]  # fmt: skip
    if made < FIRST_ORDER_DAY:
        return _terms_problems(new)  # before 1990: the court's terms say so
    problems: list[FieldProblem] = []
    born = new.child_date_of_birth
    if born is not None and born > made:
        problems.append(
            FieldProblem("child_date_of_birth", "Date of birth: the child's date of birth is after the order was made: "
                                                "check it.")
        )  # fmt: skip
    elif born is not None and add_months(born, 12 * CHILDHOOD_YEARS) < made:
        problems.append(
            FieldProblem("child_date_of_birth", f"Date of birth: {day(born)} is more than {CHILDHOOD_YEARS} years "
                                                "before the order was made, and an order is for a child: check the "
                                                "year.")
        )  # fmt: skip
    return problems or _terms_problems(new)


def _terms_problems(new: NewOrder) -> list[FieldProblem]:
    """The court's terms (dates, length, type) as the field problem they make, if any."""
    try:
        order_terms(new.order_type, new.made, new.commenced, new.months, new.last_day)
    except InvalidInput as error:
        field = error.field or "last_day"
        return [FieldProblem(field, f"{LABELS.get(field, 'Order')}: {_lower_first(str(error))}")]
    return []


def first_problem(problems: list[FieldProblem]) -> InvalidInput | None:
    """The first problem as the error an operation raises, for callers that made a NewOrder themselves."""
    return InvalidInput(problems[0].sentence, problems[0].field) if problems else None


def _value(raw: object) -> str:
    text = " ".join(str(raw or "").split())
    return "" if text.lower().rstrip(".") in NOTHING else text


def _lines(raw: object) -> str:
    lines = [" ".join(line.split()) for line in str(raw or "").split("\n")]
    joined = "\n".join(line for line in lines if line)
    return "" if joined.lower().rstrip(".") in NOTHING else joined


def _lower_first(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]


def _date(text: Mapping[str, str], field: str, problems: list[FieldProblem]) -> date | None:
    if not text[field]:
        return None
    try:
        return parse_uk_date(text[field])
    except DateNotUnderstood as error:
        problems.append(FieldProblem(field, f"{LABELS[field]}: {error}"))
        return None


def _order_type(text: str, problems: list[FieldProblem]) -> str | None:
    try:
        return order_type(text)
    except InvalidInput as error:
        problems.append(FieldProblem("order_type", f"{LABELS['order_type']}: {error}"))
        return None


def _length_or_last_day(
    text: Mapping[str, str], field: str, problems: list[FieldProblem]
) -> tuple[int | None, date | None]:
    value = text[field]
    if not value:
        return None, None
    if match := _LENGTH.match(value) or _BARE_NUMBER.fullmatch(value):
        number = match["number"].lower()
        count = int(number) if number.isdigit() else _NUMBER_WORDS[number]
        unit = match.groupdict().get("unit") or "months"
        return count * (12 if unit.lower().startswith("y") else 1), None
    label = LABELS[field]
    if field == "months":
        problems.append(
            FieldProblem(field, f"{label}: '{brief(value)}' is not a number of months: give the length the court set, "
                                "e.g. 12.")
        )  # fmt: skip
        return None, None
    if _OTHER_UNIT.match(value):
        problems.append(FieldProblem(field, f"{label}: '{brief(value)}' is not a length in months: give the order's "
                                            "last day instead."))  # fmt: skip
        return None, None
    try:
        return None, parse_uk_date(value)
    except DateNotUnderstood as error:
        if any(character.isdigit() for character in value):
            problems.append(FieldProblem(field, f"{label}: {error}"))
        else:
            problems.append(
                FieldProblem(field, f"{label}: '{brief(value)}' is not a length or a date: write the length the court "
                                    "set (e.g. 12 months) or the last day (e.g. 2 March 2027).")
            )  # fmt: skip
        return None, None


def _social_worker(text: str, problems: list[FieldProblem]) -> tuple[str | None, str | None]:
    """The social worker's address in "Ann Lee <ann.lee@…>" and the like, or the name given alone (the operation
    looks it up: a name is never taken to mean the sender); none given leaves it to the caller."""
    found = EMAIL.search(text)
    if found is None and "@" in text:
        problems.append(
            FieldProblem("social_worker", f"Social worker: '{text}' is not an email address I can read: give their "
                                          "full email address.")
        )  # fmt: skip
    if found is not None:
        return found[0].lower(), None
    return None, (text if text and "@" not in text else None)
