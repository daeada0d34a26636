"""Bringing in a council's live orders from its spreadsheet: each row's problems or its timeline, all or nothing, what
the first working day would send, and each order audited as imported, by whom, from which file."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import permissions, records
from handlers.context import Actor, Context
from handlers.directory import independent
from handlers.errors import InvalidInput, NotAllowed, brief
from handlers.import_sheet import COUNCIL_REFERENCE, EXTENSIONS, IRO, ORDER_COLUMNS, Row, Sheet, title
from handlers.order_form import LABELS, FieldProblem, NewOrder, read_order
from handlers.terms import TYPE_NAMES, OrderTerms, extension, order_terms
from rules.dates import OutOfCalendar
from rules.procedures import Procedure
from rules.timeline import Milestone as PlannedStep
from rules.timeline import OrderFacts, RecordedEvent, build_timeline
from rules.ukdates import DateNotUnderstood, parse_uk_date
from storage import imports as bulk
from storage import models
from storage.outbox import UNIT, Planned

ACTION = "orders.import"
# The notices the planner would queue for some orders on a day, read in the import's own transaction.
Forecast = Callable[[AsyncSession, Sequence[int], date], Awaitable[Sequence[Planned]]]
# Told how many rows of how many are done, as the work goes.
Progress = Callable[[int, int], None]

NEW, UPDATED, UNCHANGED, BAD = "new", "updated", "unchanged", "bad"
# New orders written per round of statements.
ORDERS_AT_ONCE = 500
_DECIDED = re.compile(r"^(?P<last>.+?)\s+decided\s+(?:on\s+)?(?P<decided>.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class RowOutcome:
    """What became of one row (or would, in a dry run): its problems, or its order and its timeline in brief."""

    row: int
    outcome: str  # new, updated, unchanged or bad
    reference: str | None = None
    council_reference: str | None = None
    problems: tuple[str, ...] = ()
    done: int = 0
    to_confirm: int = 0
    next_step: str = ""


@dataclass(frozen=True)
class FirstDay:
    """How many notices of one kind would go to one recipient on the first working day."""

    kind: str  # reminder, escalation, or nobody (a note to the unit that no one holds a role)
    to: str
    count: int


@dataclass(frozen=True)
class ImportReport:
    file: str
    digest: str
    dry_run: bool
    written: bool
    rows: tuple[RowOutcome, ...]
    problems: tuple[str, ...]
    first_day: date
    notices: tuple[FirstDay, ...] = ()

    @property
    def bad(self) -> list[RowOutcome]:
        return [row for row in self.rows if row.problems]

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)

    def notices_of(self, kind: str) -> int:
        return sum(n.count for n in self.notices if n.kind == kind)


@dataclass
class _Candidate:
    """A row that reads as an order: what would be written for it."""

    row: Row
    new: NewOrder
    terms: OrderTerms
    procedure: Procedure
    council_reference: str | None
    social_worker_id: int | None
    iro_id: int | None
    extensions: list[tuple[date, date]]  # (new last day, decided on)
    events: list[RecordedEvent]
    fingerprint: str
    timeline: list[PlannedStep] = field(default_factory=list)
    # The steps (key, occurrence) past their date with nothing recorded: imported to be confirmed by the unit.
    unconfirmed: set[tuple[str, int]] = field(default_factory=set)
    match: Any = None  # the stored order it updates
    reference: str | None = None


class _DryRun(Exception):
    """Raised at the end of a dry run's transaction, so that everything it wrote is rolled back."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__("dry run")
        self.report = report


async def import_orders(
    ctx: Context,
    sheet: Sheet,
    actor: Actor,
    *,
    dry_run: bool = False,
    skip_bad: bool = False,
    forecast: Forecast | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Check every row; unless it is a dry run, write the good ones in one transaction, and only when every row is
    good or `skip_bad` says to leave the bad ones out. A row that repeats what was imported before changes nothing;
    a changed one updates its order. The report gives each row's outcome and, from `forecast`, what the first
    working day would send for the orders written."""
    person = await may_import(ctx, actor)
    today = ctx.today()
    first_day = ctx.calendar.on_or_after(today)
    if sheet.problems:
        return ImportReport(sheet.name, sheet.digest, dry_run, False, (), sheet.problems, first_day)
    async with ctx.database.read() as session:
        directory = _Directory((await session.scalars(select(models.Person))).all())
        known = await bulk.orders_known(session)
        children = {c.local_id: c for c in await bulk.children_known(session)}
    # In a thread of its own: a long file's checking is seconds of work that would hold up everyone else's requests.
    checked = await asyncio.to_thread(_check_all, ctx, sheet, directory, known, children, today, progress)
    candidates = [c for c in checked if isinstance(c, _Candidate)]
    bad = [o for o in checked if isinstance(o, RowOutcome)]
    if bad and not skip_bad and not dry_run:
        return ImportReport(sheet.name, sheet.digest, False, False, _outcomes(checked), (), first_day)
    try:
        async with ctx.database.session() as session:
            ids = await _write(ctx, session, sheet, candidates, person, actor, today, progress, dry_run)
            planned = await forecast(session, ids, first_day) if forecast and ids else []
            report = ImportReport(sheet.name, sheet.digest, dry_run, not dry_run, _outcomes(checked), (), first_day,
                                  _first_day(planned, directory))  # fmt: skip
            if dry_run:
                raise _DryRun(report)
    except _DryRun as done:
        # In a dry run the references new orders would take are not theirs yet: none is shown.
        rows = tuple(replace(r, reference=None) if r.outcome == NEW else r for r in done.report.rows)
        return replace(done.report, rows=rows)
    return report


def may_import_as(roles: Sequence[str]) -> bool:
    """Whether these roles may import orders (pure): for a channel deciding whether to offer the way in."""
    return permissions.may_everywhere(roles, ACTION)


async def may_import(ctx: Context, actor: Actor) -> models.Person | None:
    """The person importing, when the permission table lets them; the refusal audited otherwise."""
    async with ctx.database.read() as session:
        person = await records.actor_person(session, actor)
    if actor.administrator:
        return person
    if person is None or not person.active or not permissions.may_everywhere(person.roles, ACTION):
        refused = permissions.Refused(ACTION, None, permissions.refusal(ACTION, None), permissions.NEEDS[ACTION])
        await permissions.audit_refusal(ctx, actor, refused)
        raise NotAllowed(refused.sentence)
    return person


def _outcomes(checked: Sequence[_Candidate | RowOutcome]) -> tuple[RowOutcome, ...]:
    found = []
    for item in checked:
        if isinstance(item, RowOutcome):
            found.append(item)
            continue
        outcome = NEW if item.match is None else (UNCHANGED if item.match.import_fingerprint == item.fingerprint
                                                  else UPDATED)  # fmt: skip
        upcoming = next((s for s in item.timeline if s.state == "open" and s.due is not None
                         and (s.key, s.occurrence) not in item.unconfirmed), None)  # fmt: skip
        found.append(RowOutcome(
            item.row.number, outcome, item.reference or (item.match.reference if item.match else None),
            item.council_reference, (), sum(1 for s in item.timeline if s.state == "done"), len(item.unconfirmed),
            f"{upcoming.title}, due {upcoming.due:%d %b %Y}" if upcoming and upcoming.due else "",
        ))  # fmt: skip
    return tuple(sorted(found, key=lambda o: o.row))


class _Directory:
    """The people, read once, found by email or full name as the directory records them."""

    def __init__(self, people: Sequence[models.Person]) -> None:
        self.by_id = {p.id: p for p in people}
        self.by_email = {p.email.lower(): p for p in people if p.active}
        self.by_name: dict[str, list[models.Person]] = {}
        for person in people:
            if person.active:
                self.by_name.setdefault(" ".join(person.name.split()).casefold(), []).append(person)

    def find(self, text: str, role: str) -> models.Person | str:
        """The active person in `role` that `text` names, or what is wrong, for the column's sentence."""
        words = " ".join(text.split())
        found = self.by_email.get(words.lower())
        what = permissions.ROLE_WORDS[role].removeprefix("the ")
        if found is None:
            named = [p for p in self.by_name.get(words.casefold(), []) if role in p.roles]
            if len(named) > 1:
                either = " or ".join(f"{p.name} ({p.email})" for p in named)
                return f"'{brief(words)}' could be {either}: give their email."
            found = named[0] if named else None
        if found is None:
            return (f"there is no {what} '{brief(words)}' in the directory: give their email as the directory has it, "
                    "or ask an administrator to add them (sobot people import).")  # fmt: skip
        if role not in found.roles:
            return (
                f"{found.name} ({found.email}) is not {'an' if what[0] in 'aeiouIS' else 'a'} {what} in the directory."
            )
        return found

    def label(self, person_id: int) -> str:
        person = self.by_id.get(person_id)
        return f"{person.name} ({person.email})" if person else f"person {person_id}"


def _check_all(
    ctx: Context, sheet: Sheet, directory: _Directory, known: Sequence[Any], children: Mapping[str, Any], today: date,
    progress: Progress | None,
) -> list[_Candidate | RowOutcome]:  # fmt: skip
    by_council = {k.council_reference.casefold(): k for k in known if k.council_reference}
    by_facts = {(k.local_id, k.order_type, k.made): k for k in known if k.status == "open"}
    seen_council: dict[str, int] = {}
    seen_facts: dict[tuple[str, str, date], int] = {}
    names: dict[str, tuple[str, date | None]] = {c: (row.name, row.date_of_birth) for c, row in children.items()}
    checked: list[_Candidate | RowOutcome] = []
    for done, row in enumerate(sheet.rows, start=1):
        found = _check(ctx, row, directory, today)
        if isinstance(found, _Candidate):
            problems = []
            council = (found.council_reference or "").casefold()
            facts = (found.new.child_local_id, found.terms.order_type, found.terms.made)
            if council and council in seen_council:
                problems.append(f"Row {row.number} repeats row {seen_council[council]} (the same council reference "
                                f"{found.council_reference}): keep one of them.")  # fmt: skip
            elif facts in seen_facts:
                problems.append(f"Row {row.number} repeats row {seen_facts[facts]} (the same child ID, order type and "
                                "date made): keep one of them.")  # fmt: skip
            else:
                problems += _child_problems(row.number, found.new, names)
            if problems:
                checked.append(RowOutcome(row.number, BAD, None, found.council_reference, tuple(problems)))
            else:
                if council:
                    seen_council[council] = row.number
                seen_facts[facts] = row.number
                names.setdefault(found.new.child_local_id, (found.new.child_name, found.new.child_date_of_birth))
                found.match = by_council.get(council) if council else None
                found.match = found.match or by_facts.get(facts)
                checked.append(found)
        else:
            checked.append(RowOutcome(row.number, BAD, None, row.cells.get(COUNCIL_REFERENCE) or None, tuple(found)))
        if progress is not None:
            progress(done, len(sheet.rows))
    return checked


def _child_problems(number: int, new: NewOrder, names: Mapping[str, tuple[str, date | None]]) -> list[str]:
    """A child ID already known (stored, or on an earlier row) under another name or date of birth."""
    if new.child_local_id not in names:
        return []
    name, born = names[new.child_local_id]
    if name.casefold() != new.child_name.casefold():
        return [f"Row {number}, column '{title('child_name')}': child ID {new.child_local_id} is recorded as "
                f"{name}: check the ID and the name."]  # fmt: skip
    if born and new.child_date_of_birth and born != new.child_date_of_birth:
        return [f"Row {number}, column '{title('child_date_of_birth')}': child ID {new.child_local_id} is recorded "
                f"as born on {born:%d/%m/%Y}: check it."]  # fmt: skip
    return []


def _check(ctx: Context, row: Row, directory: _Directory, today: date) -> _Candidate | list[str]:
    """The row as an order ready to write, or a sentence for each problem, naming its column."""
    cells = row.cells
    where = f"Row {row.number}"

    def at(column: str, sentence: str) -> str:
        return f"{where}, column '{title(column)}': {sentence}"

    read = read_order({key: cells.get(key, "") for key in (*ORDER_COLUMNS, "length")}, today)
    if isinstance(read, list):
        return [_field_sentence(where, problem) for problem in read]
    new = read
    problems: list[str] = []
    procedure = ctx.procedures.get(new.procedure or ctx.default_procedure)
    if procedure is None:
        return [at("procedure", f"there is no procedure called '{brief(new.procedure or '')}': use one of "
                                f"{', '.join(sorted(ctx.procedures))}.")]  # fmt: skip
    terms = order_terms(new.order_type, new.made, new.commenced, new.months, new.last_day)
    if terms.order_type not in procedure.order_types:
        problems.append(at("procedure", f"the {procedure.id} procedure is not for a {TYPE_NAMES[terms.order_type]}: "
                                        "choose another procedure."))  # fmt: skip
    social_worker = None
    if new.social_worker_email or new.social_worker_name:
        found = directory.find(new.social_worker_email or new.social_worker_name or "", "social_worker")
        if isinstance(found, str):
            problems.append(at("social_worker", found))
        else:
            social_worker = found
    iro = None
    if cells.get(IRO):
        found = directory.find(cells[IRO], "iro")
        if isinstance(found, str):
            problems.append(at(IRO, found))
        elif social_worker is not None and not independent(found.id, social_worker.id, social_worker.manager_id):
            problems.append(at(IRO, f"{found.name} is the order's social worker or their manager, and an IRO is "
                                    "independent of both: name another IRO."))  # fmt: skip
        else:
            iro = found
    last_day = terms.last_day
    extended: list[tuple[date, date]] = []
    for part in _parts(cells.get(EXTENSIONS, "")):
        match = _DECIDED.match(part)
        if match is None:
            example = "e.g. 02/03/2028 decided 10/01/2027"
            problems.append(at(EXTENSIONS, f"'{brief(part)}' does not say when it was decided: write the new last day "
                                           f"and the day of the decision, {example}."))  # fmt: skip
            continue
        try:
            new_last, decided = parse_uk_date(match["last"]), parse_uk_date(match["decided"])
            last_day = extension(terms.made, last_day, new_last)
        except DateNotUnderstood as error:
            problems.append(at(EXTENSIONS, str(error)))
            continue
        except InvalidInput as error:
            problems.append(at(EXTENSIONS, _lower_first(str(error))))
            continue
        if decided > today:
            problems.append(at(EXTENSIONS, f"the decision on {decided:%d/%m/%Y} is in the future: give the day the "
                                           "court decided."))  # fmt: skip
            continue
        extended.append((new_last, decided))
    events = _events(row, procedure, terms.made, today, problems, at)
    if problems:
        return problems
    facts = OrderFacts(terms.order_type, terms.made, terms.commenced, last_day)
    try:
        # Without the reminder and escalation days: they are not stored (the planner works them out from the
        # procedure), and a long file would otherwise hold them in memory for every row at once.
        timeline = build_timeline(procedure, facts, events, ctx.calendar, notice_days=False)
    except OutOfCalendar as error:
        return [f"{where}: {error}: check the years of the order and its events."]
    fingerprint = hashlib.sha256(
        json.dumps([sorted(cells.items()), list(row.listed_events)], ensure_ascii=False).encode()
    ).hexdigest()
    return _Candidate(row, new, replace(terms, last_day=last_day), procedure, cells.get(COUNCIL_REFERENCE) or None,
                      social_worker.id if social_worker else None, iro.id if iro else None, extended, events,
                      fingerprint, timeline, past_and_unrecorded(timeline, today))  # fmt: skip


def past_and_unrecorded(timeline: Sequence[PlannedStep], today: date) -> set[tuple[str, int]]:
    """The open steps already past their date (pure): nothing says whether they were done on paper, so they are
    imported to be confirmed by the unit, neither reminded nor escalated until someone says."""
    return {(s.key, s.occurrence) for s in timeline if s.state == "open" and s.due is not None and s.due < today}


def _events(
    row: Row, procedure: Procedure, made: date, today: date, problems: list[str], at: Callable[[str, str], str]
) -> list[RecordedEvent]:
    known = procedure.event_keys()
    found = []
    cells = [(key, text) for key, text in row.cells.items() if key not in (*ORDER_COLUMNS, *_OWN) and text]
    for key, text in [*cells, *row.listed_events]:
        if key not in known:
            problems.append(at(key, f"the {procedure.title} has no event '{key}': leave it empty for this order, or "
                                    "choose the procedure that has it."))  # fmt: skip
            continue
        definition = known[key]
        for part in _parts(text):
            day_text, _, value = part.partition(": ")
            try:
                on = parse_uk_date(day_text.strip())
            except DateNotUnderstood as error:
                problems.append(at(key, str(error)))
                continue
            if on > today or on < made:
                when = "in the future" if on > today else "before the order was made"
                problems.append(at(key, f"{on:%d/%m/%Y} is {when}: give the day it happened under this order."))
                continue
            chosen = None
            if definition.values:
                chosen = next((v for v in definition.values if v.lower() == value.strip().lower()), None)
                if chosen is None:
                    problems.append(at(key, f"say which {definition.title.lower()} after the date, e.g. "
                                            f"'{on:%d/%m/%Y}: {definition.values[0]}' (one of "
                                            f"{', '.join(definition.values)})."))  # fmt: skip
                    continue
            elif value.strip():
                problems.append(at(key, f"{definition.title} takes no value: give just its date."))
                continue
            found.append(RecordedEvent(key, on, chosen))
    return found


_OWN = (COUNCIL_REFERENCE, IRO, EXTENSIONS, "length")


def _parts(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def _lower_first(sentence: str) -> str:
    return sentence[:1].lower() + sentence[1:]


def _field_sentence(where: str, problem: FieldProblem) -> str:
    """The order reader's sentence about a field, as a sentence about the row's column."""
    label = LABELS.get(problem.field, problem.field)
    column = "Length" if problem.field == "months" else label
    text = problem.sentence.removeprefix(f"{label}: ")
    if text == problem.sentence and text.startswith(label):
        return f"{where}, column '{column}'{text.removeprefix(label)}"  # "… column 'Child ID' is missing: …"
    if text == problem.sentence:
        return f"{where}: {text}"
    return f"{where}, column '{column}': {text}"


async def _write(
    ctx: Context, session: AsyncSession, sheet: Sheet, candidates: Sequence[_Candidate], person: models.Person | None,
    actor: Actor, today: date, progress: Progress | None, dry_run: bool = False,
) -> list[int]:  # fmt: skip
    """Write the new orders in bulk and update the changed ones: the ids of both, for the forecast."""
    now = ctx.clock.now()
    by = person.id if person else None
    fresh = [c for c in candidates if c.match is None]
    changed = [c for c in candidates if c.match is not None and c.match.import_fingerprint != c.fingerprint]
    known_children = {c.local_id: c.id for c in await bulk.children_known(session)}
    new_children = {}
    for c in fresh:
        if c.new.child_local_id not in known_children and c.new.child_local_id not in new_children:
            new_children[c.new.child_local_id] = {"local_id": c.new.child_local_id, "name": c.new.child_name,
                                                  "date_of_birth": c.new.child_date_of_birth}  # fmt: skip
    known_children.update(await bulk.add_children(session, list(new_children.values())))
    ids: list[int] = []
    if fresh:
        if dry_run:
            # Rolled back at the end: a dry run takes no numbers, so it holds up no order being saved meanwhile.
            for number, c in enumerate(fresh, start=1):
                c.reference = f"DRY-RUN-{number}"
        else:
            first = await bulk.take_order_numbers(session, today.year, len(fresh))
            for number, c in enumerate(fresh, start=first):
                c.reference = f"SO-{today.year}-{number:04d}"
        # A part at a time, so that the rows being written are never the whole file's at once.
        for start in range(0, len(fresh), ORDERS_AT_ONCE):
            part = fresh[start : start + ORDERS_AT_ONCE]
            part_ids = await bulk.add_orders(session, [_order_row(c, known_children[c.new.child_local_id], now)
                                                       for c in part])  # fmt: skip
            milestones, events, allocations, extensions, audit = [], [], [], [], []
            for order_id, c in zip(part_ids, part, strict=True):
                milestones += [_milestone_row(order_id, step, c.unconfirmed, now) for step in c.timeline]
                events += [{"order_id": order_id, "kind": e.key, "occurred_on": e.on, "value": e.value,
                            "recorded_by_id": by, "recorded_at": now, "details": f"imported from {sheet.name}"}
                           for e in c.events]  # fmt: skip
                if c.iro_id is not None:
                    allocations.append({"order_id": order_id, "iro_id": c.iro_id, "allocated_by_id": by,
                                        "allocated_at": now, "replaced_iro_id": None, "active": True})  # fmt: skip
                running = _first_last_day(c)
                for new_last, decided in c.extensions:
                    extensions.append({"order_id": order_id, "previous_last_day": running,
                                       "new_last_day": new_last, "decided_on": decided, "recorded_by_id": by,
                                       "recorded_at": now})  # fmt: skip
                    running = new_last
                audit.append(records.audit_values(ctx, actor, "order.import", c.reference,
                                                  _audit_details(sheet, c, NEW)))  # fmt: skip
            await bulk.add_rows(session, models.Milestone, milestones)
            await bulk.add_rows(session, models.Event, events)
            await bulk.add_rows(session, models.Allocation, allocations)
            await bulk.add_rows(session, models.OrderExtension, extensions)
            await bulk.add_rows(session, models.AuditEntry, audit)
            ids += part_ids
            if progress is not None:
                progress(len(ids), len(fresh) + len(changed))
    for c in changed:
        ids.append(await _update(ctx, session, sheet, c, person, actor, today))
    return ids


def _first_last_day(c: _Candidate) -> date:
    """The last day the court first set, before any extension."""
    return order_terms(c.new.order_type, c.new.made, c.new.commenced, c.new.months, c.new.last_day).last_day


def _order_row(c: _Candidate, child_id: int, now: Any) -> dict[str, Any]:
    return {
        "reference": c.reference, "child_id": child_id, "order_type": c.terms.order_type, "made": c.terms.made,
        "commenced": c.terms.commenced, "last_day": c.terms.last_day, "court": c.new.court.strip(),
        "other_orders": c.new.other_orders.strip(), "conditions": c.new.conditions.strip(),
        "procedure_id": c.procedure.id, "status": "open", "ended_on": None, "end_reason": None,
        "social_worker_id": c.social_worker_id, "notes": c.new.notes.strip(), "form_id": None,
        "council_reference": c.council_reference, "import_fingerprint": c.fingerprint,
        "created_at": now, "updated_at": now,
    }  # fmt: skip


def _milestone_row(order_id: int, step: PlannedStep, unconfirmed: set[tuple[str, int]], now: Any) -> dict[str, Any]:
    state = records.TO_CONFIRM if (step.key, step.occurrence) in unconfirmed else step.state
    return {"order_id": order_id, "key": step.key, "occurrence": step.occurrence, "title": step.title,
            "owner_role": step.owner, "due": step.due, "preferred_by": step.preferred_by,
            "waiting_on": step.waiting_on, "source": step.source, "state": state, "done_on": step.done_on,
            "done_by_id": None, "updated_at": now}  # fmt: skip


def _audit_details(sheet: Sheet, c: _Candidate, outcome: str, changes: Sequence[str] = ()) -> dict[str, Any]:
    details: dict[str, Any] = {"file": sheet.name, "sha256": sheet.digest, "row": c.row.number, "outcome": outcome}
    if c.council_reference:
        details["council_reference"] = c.council_reference
    if changes:
        details["changed"] = list(changes)
    return details


async def _update(
    ctx: Context, session: AsyncSession, sheet: Sheet, c: _Candidate, person: models.Person | None, actor: Actor,
    today: date,
) -> int:  # fmt: skip
    """Bring a stored order in line with its changed row: its facts, the events and extensions it lacks, its IRO;
    steps done stay done, and only a step new to it is marked to confirm."""
    order = await records.order(session, c.match.reference)
    now = ctx.clock.now()
    before = {(m.key, m.occurrence) for m in order.milestones}
    wanted = {"order_type": c.terms.order_type, "made": c.terms.made, "commenced": c.terms.commenced,
              "last_day": c.terms.last_day, "court": c.new.court.strip(), "other_orders": c.new.other_orders.strip(),
              "conditions": c.new.conditions.strip(), "procedure_id": c.procedure.id,
              "social_worker_id": c.social_worker_id, "notes": c.new.notes.strip(),
              "council_reference": c.council_reference or order.council_reference}  # fmt: skip
    changes = [name for name, value in wanted.items() if getattr(order, name) != value]
    for name, value in wanted.items():
        setattr(order, name, value)
    order.import_fingerprint = c.fingerprint
    order.updated_at = now
    recorded = {(e.kind, e.occurred_on) for e in order.events}
    for event in c.events:
        if (event.key, event.on) not in recorded:
            order.events.append(models.Event(kind=event.key, occurred_on=event.on, value=event.value,
                                             recorded_by=person, recorded_at=now,
                                             details=f"imported from {sheet.name}"))  # fmt: skip
            changes.append(f"event {event.key} {event.on.isoformat()}")
    extended = {x.new_last_day for x in order.extensions}
    running = max(extended, default=_first_last_day(c))
    for new_last, decided in c.extensions:
        if new_last not in extended:
            order.extensions.append(models.OrderExtension(previous_last_day=running, new_last_day=new_last,
                                                          decided_on=decided, recorded_by=person,
                                                          recorded_at=now))  # fmt: skip
            running = new_last
            changes.append(f"extension to {new_last.isoformat()}")
    current = next((a for a in order.allocations if a.active), None)
    if c.iro_id is not None and (current is None or current.iro_id != c.iro_id):
        if current is not None:
            current.active = False
            await session.flush()  # one active allocation at a time, as the database insists
        replaced = current.iro_id if current else None
        order.allocations.append(models.Allocation(iro_id=c.iro_id, allocated_by=person, allocated_at=now,
                                                   active=True, replaced_iro_id=replaced))  # fmt: skip
        changes.append("iro")
    await session.flush()
    await records.materialise(ctx, session, order)
    for row in order.milestones:
        if (row.key, row.occurrence) not in before and row.state == "open" and row.due and row.due < today:
            row.state = records.TO_CONFIRM
    await session.flush()
    c.unconfirmed = {(m.key, m.occurrence) for m in order.milestones if m.state == records.TO_CONFIRM}
    records.audit(session, ctx, actor, "order.import", order.reference, _audit_details(sheet, c, UPDATED, changes))
    return order.id


def _first_day(planned: Sequence[Planned], directory: _Directory) -> tuple[FirstDay, ...]:
    """The planner's rows as counts: of each kind, to each recipient."""
    counts: Counter[tuple[str, str]] = Counter()
    for row in planned:
        if row.role == UNIT or row.kind == "nobody":
            to = "the Safeguarding Unit"
        elif row.person_id is not None:
            to = directory.label(row.person_id)
        else:
            to = row.address or row.role
        counts[(row.kind, to)] += 1
    return tuple(FirstDay(kind, to, count) for (kind, to), count in sorted(counts.items()))
