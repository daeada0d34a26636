"""Lookups and bookkeeping the operations share: finding records, the timeline's rows, the audit log."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from handlers import closing
from handlers.context import Actor, Context
from handlers.errors import Ambiguous, InvalidInput, NotFound, brief
from rules.initials import initials
from rules.names import cleaned, meant
from rules.procedures import Procedure
from rules.timeline import Milestone as PlannedStep
from rules.timeline import OrderFacts, RecordedEvent, build_timeline
from storage import models, statements
from storage.statements import table

# A step of an imported order already past its date with nothing recorded: neither reminded nor escalated (the
# planner reads only open steps) until the Safeguarding Unit confirms it done or outstanding.
TO_CONFIRM = "to_confirm"

REFERENCE = re.compile(r"^(?:SO|ISO)-?(\d{4})-?(\d{1,6})$", re.IGNORECASE)


CHILDREN = table(models.Child)
PEOPLE = table(models.Person)
ORDERS = table(models.Order)
MILESTONES = table(models.Milestone)
AUDIT_LOG = table(models.AuditEntry)

# Built once: each call only binds its values, so SQLAlchemy finds the compiled form in its cache at once.
CHILD_BY_LOCAL_ID = select(CHILDREN.c.id, CHILDREN.c.name, CHILDREN.c.date_of_birth).where(
    CHILDREN.c.local_id == bindparam("wanted")
)
PERSON_BY_EMAIL = select(PEOPLE.c.id, PEOPLE.c.name, PEOPLE.c.active, PEOPLE.c.roles).where(
    PEOPLE.c.email == bindparam("wanted")
)
NEW_AUDIT_ENTRY = insert(AUDIT_LOG)
COUNTERS = table(models.ReferenceCounter)
GIVE_BACK_NUMBER = update(COUNTERS).where(COUNTERS.c.year == bindparam("wanted")).values(last=COUNTERS.c.last - 1)
# The open order a new one would repeat: the same child, type and day made.
OPEN_ORDER_LIKE = (
    select(ORDERS.c.reference, ORDERS.c.form_id)
    .join(CHILDREN, CHILDREN.c.id == ORDERS.c.child_id)
    .where(
        CHILDREN.c.local_id == bindparam("local_id"),
        ORDERS.c.order_type == bindparam("order_type"),
        ORDERS.c.made == bindparam("made"),
        ORDERS.c.status == "open",
    )
    .limit(1)
)


def procedure(ctx: Context, procedure_id: str) -> Procedure:
    found = ctx.procedures.get(procedure_id)
    if found is None:
        raise InvalidInput(
            f"There is no procedure called {brief(procedure_id)!r}. The procedures are: "
            f"{', '.join(sorted(ctx.procedures))}.",
            "procedure",
        )
    return found


def normalise_reference(text: str) -> str:
    """'so-2026-7', 'SO20260007' → 'SO-2026-0007'."""
    match = REFERENCE.match(text.strip())
    if not match:
        raise NotFound(f"{brief(text)!r} is not an order reference: they look like SO-2026-0007.")
    return f"SO-{match.group(1)}-{int(match.group(2)):04d}"


async def order(session: AsyncSession, reference: str) -> models.Order:
    """The order with everything the operations read, or NotFound."""
    wanted = normalise_reference(reference)
    found = await session.scalar(
        select(models.Order)
        .where(models.Order.reference == wanted)
        .options(
            selectinload(models.Order.child),
            selectinload(models.Order.social_worker),
            selectinload(models.Order.events),
            selectinload(models.Order.milestones),
            selectinload(models.Order.extensions),
            selectinload(models.Order.allocations).selectinload(models.Allocation.iro),
        )
    )
    if found is None:
        raise NotFound(f"There is no order {wanted}: check the reference.")
    return found


async def give_back_reference(session: AsyncSession, year: int) -> None:
    """Return the number child_and_reference just took, for an order not saved after all: the caller's transaction
    holds the year's counter (its row lock; on SQLite the write lock) since it took it, so it is still the last."""
    await session.execute(GIVE_BACK_NUMBER, {"wanted": year})


@dataclass(frozen=True)
class Named:
    """A stored row's id and the name it is recorded under."""

    id: int
    name: str


@dataclass(frozen=True)
class NamedPerson(Named):
    """A person's id and name, with the roles they hold."""

    roles: tuple[str, ...]


@dataclass(frozen=True)
class Child(Named):
    """A child's row, and whether the records lack the birthday the new order gives (see fill_birthday)."""

    lacks_birthday: bool = False


async def child_and_reference(
    session: AsyncSession, local_id: str, name: str, date_of_birth: date | None, year: int,
    order: Mapping[str, Any], steps: Sequence[Mapping[str, Any]],
) -> tuple[Child, str, int | None]:  # fmt: skip
    """The child with this local ID, created on first sight (a different name or birthday is refused), and the
    reference of the year's next order, taken for the order about to be saved (see give_back_reference): read and
    written in one statement where the database allows. That statement may write the order too, `order` (its
    columns but its reference and its child) with its `steps` (statements.add_child_and_take_number): the id of the
    order written, or None when the caller is to write it.

    A birthday the records lack is not written here but by fill_birthday, once the order that gives it is saved."""
    values = {"local_id": local_id, "name": name, "date_of_birth": date_of_birth}
    created, number, order_id = await statements.add_child_and_take_number(session, values, year, order, steps)
    try:
        child = Child(created, name) if created is not None else await _known_child(session, local_id, name,
                                                                                  date_of_birth)  # fmt: skip
    except InvalidInput:
        if number is not None:  # refused: nothing is left written, the number given back
            await give_back_reference(session, year)
        raise
    if number is None:  # the year's first order: its counter is made
        number = await models.next_order_number(session, year)
    return child, statements.reference(year, number), order_id


async def _known_child(session: AsyncSession, local_id: str, name: str, date_of_birth: date | None) -> Child:
    found = (await session.execute(CHILD_BY_LOCAL_ID, {"wanted": local_id})).one()
    if found.name.casefold() != name.casefold():
        raise InvalidInput(
            f"Child ID {local_id} is already recorded with another name: check the ID and the name.", "child_local_id"
        )
    if date_of_birth and found.date_of_birth and found.date_of_birth != date_of_birth:
        raise InvalidInput(
            f"Child ID {local_id} is already recorded with another date of birth: check it.", "child_date_of_birth"
        )
    return Child(found.id, found.name, lacks_birthday=bool(date_of_birth) and found.date_of_birth is None)


async def fill_birthday(session: AsyncSession, child_id: int, date_of_birth: date) -> None:
    await session.execute(update(CHILDREN).where(CHILDREN.c.id == child_id).values(date_of_birth=date_of_birth))


def _not_in_directory(email: str, what: str) -> NotFound:
    return NotFound(
        f"There is no {what} with the email {email.strip()} in the directory: check it, or ask an "
        "administrator to add them (sobot people import)."
    )


async def person_by_email(session: AsyncSession, email: str, what: str = "person") -> models.Person:
    found = await session.scalar(select(models.Person).where(models.Person.email == email.strip().lower()))
    if found is None or not found.active:
        raise _not_in_directory(email, what)
    return found


async def named_by_email(session: AsyncSession, email: str, what: str = "person") -> NamedPerson:
    """The active person with this email, as an id, a name and roles: what an order needs of its social worker."""
    found = (await session.execute(PERSON_BY_EMAIL, {"wanted": email.strip().lower()})).first()
    if found is None or not found.active:
        raise _not_in_directory(email, what)
    return NamedPerson(found.id, found.name, tuple(found.roles))


async def social_worker_named(session: AsyncSession, name: str) -> Named:
    """The one active social worker of this full name (case and spacing aside); refused when none or several."""
    wanted = " ".join(name.split()).casefold()
    people = (await session.scalars(select(models.Person).where(models.Person.active.is_(True)))).all()
    matches = [p for p in people if "social_worker" in p.roles and " ".join(p.name.split()).casefold() == wanted]
    if not matches:
        raise InvalidInput(
            f"Social worker: there is no social worker called '{brief(name)}' in the directory: give their email "
            "address, or ask an administrator to add them (sobot people import).",
            "social_worker_email",
        )
    if len(matches) > 1:
        both = " or ".join(f"{p.name} ({p.email})" for p in matches)
        raise InvalidInput(f"Social worker: '{name.strip()}' could be {both}: give their email address.",
                           "social_worker_email")  # fmt: skip
    return Named(matches[0].id, matches[0].name)


async def iro(session: AsyncSession, name_or_email: str) -> models.Person:
    """The IRO named (case-insensitive, full name or email); refused when unknown or ambiguous."""
    people = (await session.scalars(select(models.Person).where(models.Person.active.is_(True)))).all()
    iros = [p for p in people if "iro" in p.roles]
    matches = [iros[i] for i in meant(name_or_email, [(i, p.name, p.email) for i, p in enumerate(iros)])]
    listed = ", ".join(sorted(p.name for p in iros)) or "none yet"
    typed = brief(cleaned(name_or_email) or name_or_email.strip())
    if not matches:
        other = [people[i] for i in meant(name_or_email, [(i, p.name, p.email) for i, p in enumerate(people)])]
        if len(other) == 1:
            raise InvalidInput(f"{other[0].name} is not an IRO. The IROs are: {listed}.", "iro")
        raise NotFound(f"There is no IRO called {typed!r}. The IROs are: {listed}.")
    if len(matches) > 1:
        both = " or ".join(f"{p.name} ({p.email})" for p in matches)
        raise Ambiguous(f"{typed!r} could be {both}: give the full name or email.", "iro",
                        tuple((p.name, p.email) for p in matches))  # fmt: skip
    return matches[0]


async def actor_person(session: AsyncSession, actor: Actor) -> models.Person | None:
    if actor.email is None:
        return None
    found: models.Person | None = await session.scalar(
        select(models.Person).where(models.Person.email == actor.email.lower())
    )
    return found


def check_event_date(ctx: Context, on: date, made: date) -> None:
    if on > ctx.today():
        raise InvalidInput(f"{on:%d %B %Y} is in the future: record what has happened, on the day it happened.", "on")
    if on < made:
        raise InvalidInput(
            f"{on:%d %B %Y} is before the order was made ({made:%d %B %Y}): record what has happened under this "
            "order, on the day it happened.",
            "on",
        )


def facts(order: models.Order) -> OrderFacts:
    return OrderFacts(order.order_type, order.made, order.commenced, order.last_day, order.ended_on)


def recorded_events(order: models.Order) -> list[RecordedEvent]:
    return [RecordedEvent(e.kind, e.occurred_on, e.value) for e in order.events]


async def materialise(ctx: Context, session: AsyncSession, order: models.Order) -> None:
    """Bring the order's stored milestones in line with its timeline, keeping every step already done.

    The caller keeps `order.events` current (appending what it records), so only what was never loaded is read.
    Each step newly done is closed for those it was escalated to (handlers/closing.py).
    """
    await load(session, order, "events", "milestones")
    timeline = build_timeline(procedure(ctx, order.procedure_id), facts(order), recorded_events(order), ctx.calendar)
    stored = {(row.key, row.occurrence): row for row in order.milestones}
    done_by = {(e.kind, e.occurred_on): e.recorded_by_id for e in order.events}
    now = ctx.clock.now()
    seen = set()
    newly_done = []
    for step in timeline:
        slot = (step.key, step.occurrence)
        seen.add(slot)
        row = stored.get(slot)
        if row is None:
            row = models.Milestone(order_id=order.id, key=step.key, occurrence=step.occurrence)
            order.milestones.append(row)
        row.title = step.title
        row.owner_role = step.owner
        row.due = step.due
        row.preferred_by = step.preferred_by
        row.waiting_on = step.waiting_on
        row.source = step.source
        if row.state == TO_CONFIRM and step.state == "open":
            pass  # brought in from a spreadsheet past its date: it waits for the unit to confirm it
        elif row.state != "done" or step.state == "done":
            if row.state != "done" and step.state == "done" and row.id is not None:
                newly_done.append(row)
            row.state = step.state
            row.done_on = step.done_on
            rule = procedure(ctx, order.procedure_id).milestone(step.key)
            completion = rule.completed_by if rule else step.key
            row.done_by_id = done_by.get((completion, step.done_on)) if step.done_on else None
        row.updated_at = now
    for slot, row in stored.items():
        # A step the timeline no longer holds (its condition stopped holding) is waived, never deleted.
        if slot not in seen and row.state in ("open", "waiting", TO_CONFIRM):
            row.state = "waived"
            row.updated_at = now
    await session.flush()
    if newly_done:
        await load(session, order, "child")
        await closing.tell_escalatees(ctx, session, order.id, order.reference, initials(order.child.name), newly_done)


def first_timeline(ctx: Context, procedure: Procedure, facts: OrderFacts) -> list[PlannedStep]:
    """A new order's timeline: nothing has been recorded yet."""
    return build_timeline(procedure, facts, [], ctx.calendar)


def new_steps(timeline: Sequence[PlannedStep], now: datetime) -> list[dict[str, Any]]:
    """A new order's timeline as its rows will store it (statements.STEP_COLUMNS), as `materialise` would: one per
    step, in the timeline's order. Nothing is recorded yet, so no step was done by anyone."""
    return [
        {"key": step.key, "occurrence": step.occurrence, "title": step.title, "owner_role": step.owner,
         "due": step.due, "preferred_by": step.preferred_by, "waiting_on": step.waiting_on, "source": step.source,
         "state": step.state, "done_on": step.done_on, "done_by_id": None, "updated_at": now}
        for step in timeline
    ]  # fmt: skip


async def load(session: AsyncSession, instance: object, *names: str) -> None:
    """Read the named relationships of `instance` that are not loaded yet, and no others."""
    missing = [name for name in names if name in inspect(instance).unloaded]
    if missing:
        await session.refresh(instance, missing)


def audit(
    session: AsyncSession,
    ctx: Context,
    actor: Actor,
    action: str,
    reference: str | None,
    details: dict[str, Any],
    outcome: str = "ok",
) -> None:
    session.add(models.AuditEntry(**audit_values(ctx, actor, action, reference, details, outcome)))


def audit_values(
    ctx: Context, actor: Actor, action: str, reference: str | None, details: dict[str, Any], outcome: str = "ok"
) -> dict[str, Any]:
    """One audit line's columns: `audit` adds them to the session; a new order writes them with its own statement."""
    return {"at": ctx.clock.now(), "actor": actor.label, "action": action, "order_reference": reference,
            "outcome": outcome, "details": details}  # fmt: skip
