"""What a chat line asks for: forgiving of case, extra words and small typos; never silent."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rules.names import without_symbols
from rules.ukdates import DateNotUnderstood, parse_uk_date

REFERENCE = re.compile(r"\b((?:SO|ISO)-?\d{4}-?\d{1,6})\b", re.IGNORECASE)
FILLER = {"please", "can", "you", "show", "me", "the", "what", "is", "whats", "list", "tell", "about", "for", "my"}

HELP = [
    ("new order", "record a new Supervision Order (a form)"),
    ("my orders", "the orders you work on"),
    ("order SO-2026-0007", "one order and its next steps"),
    ("due [this week | next 30 days]", "steps due soon on your orders"),
    ("overdue", "steps past their date on your orders"),
    ("done SO-2026-0007 initial review [12/05/2026]", "record a step as done (today if no date)"),
    ("event SO-2026-0007 first CIN meeting 12/05/2026", "record an event of the procedure, by its name"),
    ("allocate SO-2026-0007 to Jane Smith", "allocate an IRO (Safeguarding Unit)"),
    ("extend SO-2026-0007 to 02/03/2028", "record the court's extension"),
    ("use this channel for allocations", "in the unit's channel, once (Safeguarding Unit)"),
    (
        "confirm SO-2026-0007 first CIN meeting done 12/05/2026",
        "say an imported step was done, or outstanding (Safeguarding Unit)",
    ),
    ("away 14/08/2026 to 28/08/2026, cover Jane Smith", "you are away: what would come to you goes to your cover"),
    ("back", "you are back: your absence ends today (\u201ccancel away\u201d cancels it)"),
    ("who is away", "who is away now or soon, and who covers"),
]
MOST_DAYS_AHEAD = 366
WORDS = ["help", "new", "my", "order", "orders", "due", "overdue", "done", "event", "allocate", "extend", "use",
         "confirm", "away", "back"]  # fmt: skip
CONFIRMED = ("done", "outstanding")


@dataclass(frozen=True)
class Command:
    """What someone asks: a chat line's command, or a card button's verb with what the card sent (`data`)."""

    name: str
    reference: str | None = None
    text: str = ""
    on: date | None = None
    days: int | None = None
    suggestion: str | None = None
    problem: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


def _strip_mentions(text: str) -> str:
    return re.sub(r"<at>.*?</at>", " ", text, flags=re.IGNORECASE)


DATE_LIKE = re.compile(r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}")


def _trailing_date(words: list[str], today: date) -> tuple[list[str], date | None]:
    """Split a trailing date (one to five words) off the end of a command; a bad one says why."""
    for size in range(min(5, len(words)), 0, -1):
        try:
            return words[:-size], parse_uk_date(" ".join(words[-size:]), today)
        except DateNotUnderstood:
            continue
    if words and DATE_LIKE.fullmatch(words[-1]):
        parse_uk_date(words[-1], today)  # raises, saying what is wrong with it
    return words, None


def parse(text: str, today: date) -> Command:
    """The command a chat line asks for; an unknown line gets `unknown` with the nearest command."""
    line = " ".join(without_symbols(_strip_mentions(text)).replace("’", "'").split())
    lowered = line.lower().strip(" .!?")
    reference_match = REFERENCE.search(line)
    reference = reference_match.group(1) if reference_match else None
    words = lowered.split()
    if not words:
        return Command("help")
    first = words[0]
    if first not in WORDS:
        close = difflib.get_close_matches(first, WORDS, n=1, cutoff=0.75)
        if close and len(first) > 2:
            words[0] = first = close[0]
    joined = " ".join(words)

    if first in ("help", "?", "hi", "hello", "start") or joined in ("what can you do", "commands"):
        return Command("help")
    if joined.startswith(("new iso", "new interim", "new s.38", "new s38")):
        return Command("new_order", text="interim_supervision")
    if joined.startswith(("new order", "new supervision")) or joined == "new":
        return Command("new_order", text="supervision")
    if "use this channel" in joined and "allocat" in joined:
        return Command("use_channel")
    if joined in ("who is away", "who's away", "whos away", "away list", "absences") or joined == "away":
        return Command("who_is_away")
    if first == "away":
        return _away(line.split(None, 1)[1], today)
    if joined in ("back", "i'm back", "im back", "i am back", "back today"):
        return Command("back")
    if joined in ("cancel away", "cancel absence", "cancel my absence", "not away"):
        return Command("cancel_away")
    if first == "overdue" or joined.endswith("overdue"):
        return Command("overdue")
    if first == "due":
        days = 7
        if match := re.search(r"next (\d+) days?", joined):
            if len(match.group(1)) > 3 or not 1 <= int(match.group(1)) <= MOST_DAYS_AHEAD:
                return Command("due", problem=f"Say up to {MOST_DAYS_AHEAD} days, e.g. due next 30 days.")
            days = int(match.group(1))
        elif "this week" in joined:
            days = 0
        return Command("due", days=days)
    if first == "allocate":
        after = line.split(None, 1)[1] if " " in line else ""
        rest = " ".join(w for w in REFERENCE.sub(" ", after).split() if w.lower() not in ("to", "iro", "iro:"))
        if not rest:
            return Command(
                "allocate", reference, problem="Say whom to allocate, e.g. allocate SO-2026-0007 to Jane Smith."
            )
        return Command("allocate", reference, text=rest)
    if first == "confirm":
        return _confirm(reference, lowered, today)
    if first in ("done", "event", "extend"):
        body = [w for w in re.sub(REFERENCE, " ", lowered).split()[1:] if w not in ("to", "on", "as")]
        try:
            body, on = _trailing_date(body, today)
        except DateNotUnderstood as error:
            return Command(first, reference, problem=str(error))
        if reference is None:
            return Command(first, problem=f"Say which order, e.g. {_example(first)}.")
        if first == "extend":
            if on is None:
                return Command(first, reference, problem=f"Say the new last day, e.g. {_example(first)}.")
            return Command("extend", reference, on=on)
        if not body:
            return Command(first, reference, problem=f"Say which step, e.g. {_example(first)}.")
        if first == "event" and on is None:
            return Command(first, reference, problem=f"Say when it happened, e.g. {_example(first)}.")
        return Command(first, reference, text=" ".join(body), on=on)
    if first in ("order", "orders") and reference:
        return Command("order", reference)
    if reference and len(words) <= 3:
        return Command("order", reference)
    if first == "my" or joined in ("orders", "my orders", "show my orders", "list orders", "cases", "my cases"):
        return Command("my_orders")
    remaining = [w for w in words if w not in FILLER]
    if remaining and remaining[0] in ("orders", "cases"):
        return Command("my_orders")
    nearest = difflib.get_close_matches(lowered, [usage for usage, _ in HELP], n=1, cutoff=0.5)
    return Command("unknown", text=line, suggestion=nearest[0] if nearest else None)


def _confirm(reference: str | None, lowered: str, today: date) -> Command:
    """ "confirm REF STEP done DATE" or "confirm REF STEP outstanding": the unit's word on an imported step."""
    body = [w for w in REFERENCE.sub(" ", lowered).split()[1:] if w not in ("on", "as", "is", "was")]
    try:
        body, on = _trailing_date(body, today)
    except DateNotUnderstood as error:
        return Command("confirm", reference, problem=str(error))
    example = _example("confirm")
    if reference is None:
        return Command("confirm", problem=f"Say which order, e.g. {example}.")
    if not body or body[-1] not in CONFIRMED:
        return Command("confirm", reference, problem=f"Say done (with its date) or outstanding, e.g. {example}.")
    outcome, step = body[-1], body[:-1]
    if not step:
        return Command("confirm", reference, problem=f"Say which step, e.g. {example}.")
    if outcome == "done" and on is None:
        return Command("confirm", reference, problem=f"Say the day it was done, e.g. {example}.")
    return Command("confirm", reference, text=" ".join(step), on=on if outcome == "done" else None)


# "…, cover Jane Smith", "covered by Jane Smith", "covering: Jane Smith": who covers follows the word.
_COVER = re.compile(r"[,;]?\s*\b(?:cover(?:ed\s+by)?|covering)\b\s*:?\s*", re.IGNORECASE)
_UNTIL = re.compile(r"\s+(?:to|until|till|-|–|—)\s+", re.IGNORECASE)


def _away(rest: str, today: date) -> Command:
    """ "away [for NAME] [from] DAY [to DAY][, cover NAME]": who (none: the sender), the days, and who covers."""
    example = _example("away")
    said = _COVER.search(rest)
    days, cover = (rest[: said.start()], rest[said.end() :].strip(" .,;")) if said else (rest, "")
    days = days.strip(" .,;")
    until = _UNTIL.search(days)
    first_text, last_text = (days[: until.start()], days[until.end() :]) if until else (days, "")
    words = [w for w in first_text.split() if w.lower() not in ("from", "on")]
    try:
        who, first = _trailing_date(words, today)
        if first is None:
            if words:  # a date that could not be read: its own sentence says why ("has no year")
                parse_uk_date(" ".join(words), today)
            return Command("away", problem=f"Say the first and last days away, e.g. {example}.")
        last = parse_uk_date(last_text, today) if last_text.strip() else first
    except DateNotUnderstood as error:
        return Command("away", problem=f"{error} For example: {example}.")
    if who and who[0].lower() == "for":
        who = who[1:]
    elif who:
        return Command("away", problem=f"I can't read '{' '.join(who)}' as a date. For example: {example}.")
    return Command("away", text=" ".join(who), on=first, data={"last_day": last.isoformat(), "cover": cover})


def _example(command: str) -> str:
    return next(usage for usage, _ in HELP if usage.startswith(command))
