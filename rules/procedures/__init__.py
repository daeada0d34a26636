"""Procedures as data: load and check an authority's procedure file (see docs/procedures.md)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

BUILTIN_DIR = Path(__file__).parent

ROLES = (
    "social_worker",
    "team_manager",
    "service_manager",
    "head_of_service",
    "safeguarding_unit",
    "iro",
    "cp_chair",
    "practice_manager",
    "family_support_worker",
    "senior_reviewing_officer",
    "legal",
    "receiving_authority",
)
ORDER_TYPES = ("supervision", "interim_supervision")
ORDER_ANCHORS = ("made", "commenced", "last_day")

# period_months: the last day of the period of N months beginning with the anchor ("end of N months from").
Unit = Literal["days", "weeks", "months", "working_days", "period_months"]


class ProcedureError(ValueError):
    """A procedure file that cannot be used, with where and why."""

    def __init__(self, file: str, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}" if key else f"{file}: {message}")
        self.file = file
        self.key = key
        self.message = message


@dataclass(frozen=True)
class Offset:
    amount: int
    unit: Unit

    def __str__(self) -> str:
        name = self.unit.replace("_", " ")
        if abs(self.amount) == 1:
            name = name[:-1]
        return f"{abs(self.amount)} {name}"


@dataclass(frozen=True)
class DateRule:
    """An anchor and the offsets applied to it, in order."""

    anchor: str
    offsets: tuple[Offset, ...]
    text: str


@dataclass(frozen=True)
class Condition:
    kind: Literal["type", "length_under", "length_at_least", "recorded", "not_recorded", "value"]
    subject: str
    value: str = ""
    text: str = ""


@dataclass(frozen=True)
class EscalationStep:
    after: Offset
    to: str


@dataclass(frozen=True)
class Repeat:
    every: Offset | None
    rolling: bool
    for_each: str | None
    until: DateRule


@dataclass(frozen=True)
class EventDefinition:
    key: str
    title: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class MilestoneRule:
    key: str
    title: str
    owner: str
    due: DateRule
    source: str
    completed_by: str
    reminders: tuple[Offset, ...]
    escalation: tuple[EscalationStep, ...]
    preferred: DateRule | None = None
    default: bool = False
    when: tuple[Condition, ...] = ()
    repeat: Repeat | None = None
    owner_first: str | None = None
    owner_last: str | None = None


@dataclass(frozen=True)
class Procedure:
    id: str
    title: str
    authority: str
    document: str
    order_types: tuple[str, ...]
    events: Mapping[str, EventDefinition]
    milestones: tuple[MilestoneRule, ...]
    path: Path = field(compare=False)
    # Working days an acknowledgement holds a person's notices for a step; None: the settings' figure.
    acknowledge_days: int | None = None

    def event_keys(self) -> dict[str, EventDefinition]:
        """Every event this procedure understands: its declared events and each step's completion."""
        known = dict(self.events)
        for rule in self.milestones:
            known.setdefault(rule.completed_by, EventDefinition(rule.completed_by, rule.title))
        return known

    def milestone(self, key: str) -> MilestoneRule | None:
        return next((rule for rule in self.milestones if rule.key == key), None)


DEFAULT_REMINDERS = ("10 working days", "2 working days", "0 days")
DEFAULT_ESCALATION = (
    {"after": "1 working day", "to": "team_manager"},
    {"after": "5 working days", "to": "service_manager"},
    {"after": "10 working days", "to": "head_of_service"},
)

_UNITS: dict[str, Unit] = {
    "day": "days",
    "days": "days",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
    "working day": "working_days",
    "working days": "working_days",
}
_OFFSET = re.compile(r"(\d+)\s+(working\s+days?|days?|weeks?|months?)")
_TERM = re.compile(r"\s*([+-])\s*(\d+)\s+(working\s+days?|days?|weeks?|months?)\s*")
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS = {
    "id",
    "title",
    "authority",
    "document",
    "order_types",
    "reminders",
    "escalation",
    "events",
    "milestones",
    "acknowledge_days",
}
_MILESTONE_KEYS = {
    "key", "title", "owner", "due", "preferred", "source", "default", "when", "completed_by",
    "reminders", "escalation", "repeat", "owner_first", "owner_last",
}  # fmt: skip


class _Reader:
    """Checks one file's raw TOML, raising ProcedureError that names the file and key."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, message: str) -> ProcedureError:
        return ProcedureError(self.file, key, message)

    def text(self, table: Mapping[str, Any], name: str, where: str, *, required: bool = True) -> str:
        value = table.get(name)
        if value is None:
            if required:
                raise self.fail(f"{where}{name}", "is missing")
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{where}{name}", f"must be a non-empty string, not {value!r}")
        return value.strip()

    def role(self, value: Any, key: str) -> str:
        if value not in ROLES:
            raise self.fail(key, f"unknown role {value!r} (roles: {', '.join(ROLES)})")
        return str(value)

    def offset(self, value: Any, key: str) -> Offset:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a duration such as '10 working days', not {value!r}")
        match = _OFFSET.fullmatch(" ".join(value.strip().lower().split()))
        if not match:
            raise self.fail(key, f"{value!r} is not a duration such as '10 working days', '2 weeks', '3 months'")
        return Offset(int(match.group(1)), _UNITS[" ".join(match.group(2).split())])

    def rule(self, value: Any, key: str, anchors: Iterable[str]) -> DateRule:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be an expression such as 'commenced + 9 months', not {value!r}")
        text = " ".join(value.strip().split())
        known = list(anchors)
        if period := re.fullmatch(r"end of (\d+) months? from (\w+)", text):
            if period.group(2) not in known:
                raise self.fail(key, f"unknown anchor {period.group(2)!r} (known: {', '.join(known)})")
            return DateRule(period.group(2), (Offset(int(period.group(1)), "period_months"),), text)
        head, _, rest = text.partition(" ")
        if head not in known:
            raise self.fail(key, f"unknown anchor {head!r} (known: {', '.join(known)})")
        offsets: list[Offset] = []
        position = 0
        while position < len(rest):
            term = _TERM.match(rest, position)
            if not term:
                raise self.fail(
                    key,
                    f"cannot read {rest[position:]!r} in {text!r}: expected '+ N days|weeks|months|working days'",
                )
            sign = -1 if term.group(1) == "-" else 1
            unit = _UNITS[" ".join(term.group(3).split())]
            offsets.append(Offset(sign * int(term.group(2)), unit))
            position = term.end()
        return DateRule(head, tuple(offsets), text)

    def condition(self, value: Any, key: str, events: Mapping[str, EventDefinition]) -> Condition:
        if not isinstance(value, str):
            raise self.fail(key, f"must be a condition such as 'outcome is B', not {value!r}")
        text = " ".join(value.strip().split())
        if match := re.fullmatch(r"type is (\w+)", text):
            if match.group(1) not in ORDER_TYPES:
                raise self.fail(key, f"unknown order type {match.group(1)!r} (types: {', '.join(ORDER_TYPES)})")
            return Condition("type", match.group(1), text=text)
        if match := re.fullmatch(r"order (under|at least) (\d+) months?", text):
            kind: Literal["length_under", "length_at_least"] = (
                "length_under" if match.group(1) == "under" else "length_at_least"
            )
            return Condition(kind, match.group(2), text=text)
        if match := re.fullmatch(r"(\w+) (not )?recorded", text):
            self.known_event(match.group(1), key, events)
            return Condition("not_recorded" if match.group(2) else "recorded", match.group(1), text=text)
        if match := re.fullmatch(r"(\w+) is (\S+)", text):
            event = self.known_event(match.group(1), key, events)
            if event.values and match.group(2) not in event.values:
                raise self.fail(key, f"{match.group(2)!r} is not a value of {event.key} ({', '.join(event.values)})")
            return Condition("value", match.group(1), match.group(2), text=text)
        raise self.fail(
            key,
            f"cannot read condition {text!r}: use 'type is …', 'order under N months', "
            "'order at least N months', 'KEY recorded', 'KEY not recorded' or 'KEY is VALUE'",
        )

    def known_event(self, name: str, key: str, events: Mapping[str, EventDefinition]) -> EventDefinition:
        if name not in events:
            raise self.fail(key, f"unknown event {name!r} (known: {', '.join(sorted(events))})")
        return events[name]

    def reminders(self, value: Any, key: str) -> tuple[Offset, ...]:
        if not isinstance(value, list):
            raise self.fail(key, "must be a list of durations such as ['10 working days', '0 days']")
        return tuple(self.offset(item, f"{key}[{index}]") for index, item in enumerate(value))

    def escalation(self, value: Any, key: str) -> tuple[EscalationStep, ...]:
        if not isinstance(value, list | tuple):
            raise self.fail(key, "must be a list of {after = '…', to = ROLE} steps")
        steps = []
        for index, item in enumerate(value):
            where = f"{key}[{index}]"
            if not isinstance(item, Mapping) or set(item) != {"after", "to"}:
                raise self.fail(where, "each step needs exactly 'after' and 'to'")
            steps.append(
                EscalationStep(self.offset(item["after"], f"{where}.after"), self.role(item["to"], f"{where}.to"))
            )
        return tuple(steps)


def _events(reader: _Reader, raw: Any) -> dict[str, EventDefinition]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise reader.fail("events", "must be a table of event keys")
    events: dict[str, EventDefinition] = {}
    for name, spec in raw.items():
        where = f"events.{name}"
        if not _KEY.match(name):
            raise reader.fail(where, "event keys are lower_snake_case")
        if isinstance(spec, str):
            events[name] = EventDefinition(name, spec)
        elif isinstance(spec, Mapping):
            unknown = set(spec) - {"title", "values"}
            if unknown:
                raise reader.fail(f"{where}.{sorted(unknown)[0]}", "is not a field of an event (title, values)")
            values = spec.get("values", [])
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise reader.fail(f"{where}.values", "must be a list of strings")
            events[name] = EventDefinition(name, reader.text(spec, "title", f"{where}."), tuple(values))
        else:
            raise reader.fail(where, "must be a title, or a table with title and values")
    return events


def _milestone(
    reader: _Reader,
    raw: Any,
    index: int,
    events: Mapping[str, EventDefinition],
    defaults: tuple[tuple[Offset, ...], tuple[EscalationStep, ...]],
    override: str | None,
) -> MilestoneRule:
    where = f"milestones[{index}]"
    if not isinstance(raw, Mapping):
        raise reader.fail(where, "must be a table")
    unknown = set(raw) - _MILESTONE_KEYS
    if unknown:
        raise reader.fail(
            f"{where}.{sorted(unknown)[0]}",
            f"is not a field of a milestone ({', '.join(sorted(_MILESTONE_KEYS))})",
        )
    key = reader.text(raw, "key", f"{where}.")
    if not _KEY.match(key):
        raise reader.fail(f"{where}.key", f"{key!r} must be lower_snake_case")
    where = f"milestones.{key}"
    anchors = [*ORDER_ANCHORS, *events]
    due = reader.rule(override if override is not None else raw.get("due"), f"{where}.due", anchors)
    preferred = reader.rule(raw["preferred"], f"{where}.preferred", anchors) if "preferred" in raw else None
    when_raw = raw.get("when", [])
    if not isinstance(when_raw, list):
        raise reader.fail(f"{where}.when", "must be a list of conditions")
    when = tuple(reader.condition(item, f"{where}.when[{n}]", events) for n, item in enumerate(when_raw))
    repeat = None
    if "repeat" in raw:
        repeat = _repeat(reader, raw["repeat"], f"{where}.repeat", anchors, due)
    default = raw.get("default", False)
    if not isinstance(default, bool):
        raise reader.fail(f"{where}.default", "must be true or false")
    return MilestoneRule(
        key=key,
        title=reader.text(raw, "title", f"{where}."),
        owner=reader.role(raw.get("owner"), f"{where}.owner"),
        due=due,
        preferred=preferred,
        source=reader.text(raw, "source", f"{where}."),
        default=default,
        when=when,
        completed_by=reader.text(raw, "completed_by", f"{where}.", required=False) or key,
        reminders=reader.reminders(raw["reminders"], f"{where}.reminders") if "reminders" in raw else defaults[0],
        escalation=reader.escalation(raw["escalation"], f"{where}.escalation") if "escalation" in raw else defaults[1],
        repeat=repeat,
        owner_first=reader.role(raw["owner_first"], f"{where}.owner_first") if "owner_first" in raw else None,
        owner_last=reader.role(raw["owner_last"], f"{where}.owner_last") if "owner_last" in raw else None,
    )


def _repeat(reader: _Reader, raw: Any, where: str, anchors: list[str], due: DateRule) -> Repeat:
    if not isinstance(raw, Mapping):
        raise reader.fail(where, "must be a table such as { every = '3 months' }")
    unknown = set(raw) - {"every", "rolling", "for_each", "until"}
    if unknown:
        raise reader.fail(f"{where}.{sorted(unknown)[0]}", "is not a field of repeat (every, rolling, for_each, until)")
    if ("every" in raw) == ("for_each" in raw):
        raise reader.fail(where, "needs exactly one of 'every' or 'for_each'")
    every = reader.offset(raw["every"], f"{where}.every") if "every" in raw else None
    if every is not None and every.amount == 0:
        raise reader.fail(f"{where}.every", "must be longer than zero")
    rolling = raw.get("rolling", False)
    if not isinstance(rolling, bool):
        raise reader.fail(f"{where}.rolling", "must be true or false")
    for_each = raw.get("for_each")
    if for_each is not None:
        if for_each not in anchors or for_each in ORDER_ANCHORS:
            raise reader.fail(f"{where}.for_each", f"unknown event {for_each!r}")
        if due.anchor != for_each:
            raise reader.fail(f"{where}.for_each", f"the due expression must be anchored on {for_each!r}")
    until = reader.rule(raw.get("until", "last_day"), f"{where}.until", anchors)
    return Repeat(every, rolling, for_each, until)


def parse_procedure(text: str, file: str, overrides: Mapping[str, str] | None = None) -> Procedure:
    """A procedure from a file's text; `overrides` replaces named milestones' due expressions."""
    reader = _Reader(file)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise reader.fail("", f"is not valid TOML: {error}") from None
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise reader.fail(sorted(unknown)[0], f"is not a field of a procedure ({', '.join(sorted(_TOP_KEYS))})")
    procedure_id = reader.text(raw, "id", "")
    expected_id = Path(file).stem
    if procedure_id != expected_id:
        raise reader.fail("id", f"{procedure_id!r} must match the file name ({expected_id!r})")
    order_types = raw.get("order_types", list(ORDER_TYPES))
    if not isinstance(order_types, list) or not order_types or any(t not in ORDER_TYPES for t in order_types):
        raise reader.fail("order_types", f"must list some of {', '.join(ORDER_TYPES)}")
    events = _events(reader, raw.get("events"))
    reminders_raw = raw.get("reminders", {"before": list(DEFAULT_REMINDERS)})
    if not isinstance(reminders_raw, Mapping) or set(reminders_raw) != {"before"}:
        raise reader.fail("reminders", "must be a table with one field, 'before'")
    defaults = (
        reader.reminders(reminders_raw["before"], "reminders.before"),
        reader.escalation(raw.get("escalation", DEFAULT_ESCALATION), "escalation"),
    )
    acknowledge_days = raw.get("acknowledge_days")
    if acknowledge_days is not None and (
        isinstance(acknowledge_days, bool) or not isinstance(acknowledge_days, int) or not 1 <= acknowledge_days <= 60
    ):
        raise reader.fail("acknowledge_days", "must be a whole number of working days from 1 to 60")
    milestones_raw = raw.get("milestones")
    if not isinstance(milestones_raw, list) or not milestones_raw:
        raise reader.fail("milestones", "must be a non-empty list of [[milestones]] tables")
    keys = [m.get("key") for m in milestones_raw if isinstance(m, Mapping)]
    clash = sorted({k for k in keys if isinstance(k, str) and k in events})
    if clash:
        raise reader.fail(f"milestones.{clash[0]}", "a milestone key may not also be declared in [events]")
    # Milestone keys are events too (recording one marks it done), so anchors may name them.
    anchor_events = dict(events)
    for key in keys:
        if isinstance(key, str):
            anchor_events.setdefault(key, EventDefinition(key, key))
    for m in milestones_raw:
        if isinstance(m, Mapping) and isinstance(m.get("completed_by"), str):
            anchor_events.setdefault(m["completed_by"], EventDefinition(m["completed_by"], m["completed_by"]))
    overrides = dict(overrides or {})
    unknown_override = sorted(set(overrides) - {k for k in keys if isinstance(k, str)})
    if unknown_override:
        raise reader.fail(f"overrides.{unknown_override[0]}", "no milestone has that key")
    seen: set[str] = set()
    milestones = []
    for index, item in enumerate(milestones_raw):
        key = item.get("key") if isinstance(item, Mapping) else None
        rule = _milestone(reader, item, index, anchor_events, defaults, overrides.get(str(key)))
        if rule.key in seen:
            raise reader.fail(f"milestones[{index}].key", f"{rule.key!r} is used twice")
        seen.add(rule.key)
        milestones.append(rule)
    _no_circles(reader, milestones)
    for rule in milestones:
        _within_the_limit(reader, rule)
    return Procedure(
        id=procedure_id,
        title=reader.text(raw, "title", ""),
        authority=reader.text(raw, "authority", ""),
        document=reader.text(raw, "document", ""),
        order_types=tuple(order_types),
        events=events,
        milestones=tuple(milestones),
        path=Path(file),
        acknowledge_days=acknowledge_days,
    )


def _no_circles(reader: _Reader, milestones: list[MilestoneRule]) -> None:
    """Refuse steps that wait on each other in a circle: none of them could ever fall due."""
    done_by: dict[str, list[str]] = {}
    for rule in milestones:
        for event in {rule.key, rule.completed_by}:
            done_by.setdefault(event, []).append(rule.key)
    waits_on = {rule.key: done_by.get(rule.due.anchor, []) for rule in milestones}
    for rule in milestones:
        path = _path_back(rule.key, waits_on)
        if path is not None:
            steps = " → ".join(path)
            raise reader.fail(
                f"milestones.{rule.key}.due",
                f"the steps wait on each other in a circle ({steps}): none of them could ever fall due; anchor one "
                "of them on made, commenced, last_day or an event that no step in the circle completes",
            )


def _path_back(start: str, waits_on: Mapping[str, list[str]]) -> list[str] | None:
    """The steps from `start` back to itself, following what each waits on, if they lead back."""
    trail = [start]
    stack = [(start, iter(waits_on.get(start, ())))]
    seen = {start}
    while stack:
        _, waiting = stack[-1]
        following = next(waiting, None)
        if following is None:
            stack.pop()
            trail.pop()
            continue
        if following == start:
            return [*trail, start]
        if following not in seen:
            seen.add(following)
            trail.append(following)
            stack.append((following, iter(waits_on.get(following, ()))))
    return None


# How many of a recurring step the timeline projects: a year of six-weekly meetings is nine.
MAX_OCCURRENCES = 120
# The fewest calendar days each unit can be; an order, with its extensions, spans at most three years.
_SHORTEST_DAYS: dict[str, int] = {"days": 1, "working_days": 1, "weeks": 7, "months": 28, "period_months": 28}
_LONGEST_DAYS: dict[str, int] = {"days": 1, "working_days": 3, "weeks": 7, "months": 31, "period_months": 31}
_LONGEST_ORDER_DAYS = 3 * 366


def _within_the_limit(reader: _Reader, rule: MilestoneRule) -> None:
    """Refuse a recurrence that could repeat more than MAX_OCCURRENCES times within the longest order."""
    repeat = rule.repeat
    if repeat is None or repeat.every is None or repeat.until.anchor not in ORDER_ANCHORS:
        return  # one per recorded event, or until an event: the timeline says so if it ever passes the limit
    past_the_end = sum(max(o.amount, 0) * _LONGEST_DAYS[o.unit] for o in repeat.until.offsets)
    most = (_LONGEST_ORDER_DAYS + past_the_end) // (repeat.every.amount * _SHORTEST_DAYS[repeat.every.unit])
    if most > MAX_OCCURRENCES:
        raise reader.fail(
            f"milestones.{rule.key}.repeat.every",
            f"every {repeat.every} could repeat about {most} times in an order of three years, and sobot projects "
            f"at most {MAX_OCCURRENCES} of a step: repeat it less often",
        )


def procedure_files(extra_dirs: Iterable[Path] = ()) -> dict[str, Path]:
    """Procedure id → file: the built-in ones, then any in `extra_dirs`.

    An authority's file may not take a built-in's id (it would silently replace it for every order), nor
    another authority file's: ProcedureError names the file.
    """
    files = {path.stem: path for path in sorted(BUILTIN_DIR.glob("*.toml"))}
    for directory in extra_dirs:
        for path in sorted(Path(directory).glob("*.toml")):
            if path.stem in files:
                taken = files[path.stem]
                whose = "a built-in procedure's id" if taken.parent == BUILTIN_DIR else f"the id of {taken} too"
                raise ProcedureError(
                    path.name, "id", f"{path.stem!r} is {whose}: give this file its own name and id (a built-in's "
                    "deadlines are changed with SOBOT_DEADLINE_OVERRIDES)"
                )  # fmt: skip
            files[path.stem] = path
    return files


def _text_of(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ProcedureError(
            path.name, "", f"is not UTF-8 text (byte {error.start} is not): save it as UTF-8 and load it again"
        ) from None


def load_procedure(
    source: str | Path,
    overrides: Mapping[str, str] | None = None,
    extra_dirs: Iterable[Path] = (),
) -> Procedure:
    """A procedure by id (built-in or in `extra_dirs`) or by path."""
    path = Path(source)
    if path.suffix != ".toml":
        files = procedure_files(extra_dirs)
        if str(source) not in files:
            raise UnknownProcedure(str(source), sorted(files))
        path = files[str(source)]
    return parse_procedure(_text_of(path), path.name, overrides)


def load_builtin(
    overrides: Mapping[str, Mapping[str, str]] | None = None,
    extra_dirs: Iterable[Path] = (),
) -> dict[str, Procedure]:
    """Every procedure there is, by id; `overrides` maps a procedure id to its deadline overrides."""
    overrides = overrides or {}
    files = procedure_files(extra_dirs)
    unknown = sorted(set(overrides) - set(files))
    if unknown:
        raise UnknownProcedure(unknown[0], sorted(files))
    return {pid: parse_procedure(_text_of(path), path.name, overrides.get(pid)) for pid, path in files.items()}


class UnknownProcedure(LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"There is no procedure called {name!r}. The procedures are: {', '.join(known)}.")
        self.name = name
        self.known = known
