"""The outbox's planner: each reminder and escalation the timelines call for becomes a queued row per person, once.

A step is looked at only when its next notice day has come (milestones.notify_on), so a tick over a large
database reads what is due and nothing else. Whom a role means is decided here, when the notification is
made; a role with nobody in it becomes a note to the Safeguarding Unit and an audit row, never silence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from handlers.recipients import Recipient, choose
from scheduler.calendar import WorkingCalendar
from scheduler.clock import Clock
from scheduler.notices import Notice, WorkingHours, due_notices
from scheduler.procedures import Procedure
from scheduler.timeline import Milestone, escalation_days, reminder_days
from storage import Database, models

# A step with no notice left to send waits here until its due date or state changes.
NEVER = date(9999, 12, 31)
UNIT = "safeguarding_unit"
BATCH = 2000


# The email asking the unit's mailbox to allocate an IRO for a new order (handlers.receipts queues it).
ALLOCATION = "allocation"


@dataclass(frozen=True)
class Planned:
    """One row to queue: a notice for one recipient (a person, an address, or the unit)."""

    dedupe_key: str
    order_id: int | None
    milestone_id: int | None
    kind: str
    role: str
    person_id: int | None
    address: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class Planner:
    database: Database
    procedures: Mapping[str, Procedure]
    calendar: WorkingCalendar
    hours: WorkingHours
    clock: Clock
    legal_address: str | None = None

    async def plan(self) -> int:
        """Queue every notice due by today; a notice already queued (by its dedupe key) is left alone.

        Each row waits for the next opening of working hours; the number of rows newly queued is returned.
        """
        now = self.clock.now()
        today = now.astimezone(self.hours.zone).date()
        total = 0
        last_id = 0
        while True:
            async with self.database.session() as session:
                rows = (
                    await session.execute(
                        select(
                            models.Milestone,
                            models.Order.reference,
                            models.Order.procedure_id,
                            models.Order.made,
                            models.Order.status,
                            models.Order.social_worker_id,
                        )
                        .join(models.Order, models.Milestone.order_id == models.Order.id)
                        .where(
                            models.Milestone.state == "open",
                            models.Milestone.notify_on <= today,
                            models.Milestone.id > last_id,
                        )
                        .order_by(models.Milestone.id)
                        .limit(BATCH)
                    )
                ).all()
                if not rows:
                    return total
                last_id = rows[-1][0].id
                total += await self._plan_batch(session, rows, today, now)
            if len(rows) < BATCH:
                return total

    async def _plan_batch(self, session: AsyncSession, rows: Sequence[Any], today: date, now: datetime) -> int:
        people = _People(session, self.legal_address)
        planned: list[Planned] = []
        next_days = []
        for row, reference, procedure_id, made, status, social_worker_id in rows:
            if status != "open":
                next_days.append({"mid": row.id, "old_due": row.due, "next": NEVER})
                continue
            step = self._step(row, procedure_id, made)
            for notice in due_notices(reference, step, today):
                planned += await people.rows_for(notice, row, social_worker_id)
            upcoming = [d for d in (*step.reminders, *(e.on for e in step.escalations)) if d > today]
            next_days.append({"mid": row.id, "old_due": row.due, "next": min(upcoming, default=NEVER)})
        queued = await queue(session, planned, self.hours.next_opening(now), now)
        await _audit_nobody(session, planned, queued, now)
        # Only a row still as it was read moves on: a step changed meanwhile is read again next tick.
        table = cast(Table, models.Milestone.__table__)
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("mid"), table.c.due == bindparam("old_due"), table.c.state == "open")
            .values(notify_on=bindparam("next")),
            next_days,
        )
        return len(queued)

    def _step(self, row: models.Milestone, procedure_id: str, made: date) -> Milestone:
        procedure = self.procedures[procedure_id]
        rule = procedure.milestone(row.key)
        assert row.due is not None
        reminders = reminder_days(rule, row.due, made, self.calendar) if rule else ()
        escalations = escalation_days(rule, row.due, self.calendar) if rule else ()
        # Reminders are kept from the day the order was made: an event-anchored step may be reminded of
        # from before its event, which only brings a reminder forward.
        return Milestone(row.key, row.occurrence, row.title, row.owner_role, row.due, row.preferred_by, None,
                         reminders, escalations, row.source, "open", None)  # fmt: skip


class _People:
    """The directory and each order's IRO, read once per batch, to turn a role into recipients."""

    def __init__(self, session: AsyncSession, legal_address: str | None) -> None:
        self.session = session
        self.legal_address = legal_address
        self._people: dict[int, models.Person] | None = None
        self._holders: dict[str, list[models.Person]] = {}
        self._iros: dict[int, int] = {}

    async def _load(self) -> dict[int, models.Person]:
        if self._people is None:
            self._people = {p.id: p for p in (await self.session.scalars(select(models.Person))).all()}
            for person in self._people.values():
                for role in person.roles:
                    self._holders.setdefault(role, []).append(person)
        return self._people

    async def _iro(self, order_id: int) -> int | None:
        if order_id not in self._iros:
            found = await self.session.scalar(
                select(models.Allocation.iro_id).where(models.Allocation.order_id == order_id,
                                                       models.Allocation.active.is_(True))
            )  # fmt: skip
            self._iros[order_id] = found or 0
        return self._iros[order_id] or None

    async def rows_for(self, notice: Notice, step: models.Milestone, social_worker_id: int | None) -> list[Planned]:
        kind, role = notice.kind, notice.role
        if notice.role == UNIT:
            return [Planned(f"{notice.dedupe_key}:unit", step.order_id, step.id, kind, role, None, None, {})]
        people = await self._load()
        social_worker = people.get(social_worker_id) if social_worker_id else None
        manager = people.get(social_worker.manager_id) if social_worker and social_worker.manager_id else None
        iro_id = await self._iro(step.order_id) if notice.role == "iro" else None
        iro = people.get(iro_id) if iro_id else None
        holders = self._holders.get(notice.role, [])
        found = choose(notice.role, social_worker, manager, iro, holders, self.legal_address)
        if not found:
            # Nobody holds the role for this order: the unit is told, and the audit says so.
            note = {"role": notice.role, "kind": notice.kind, "on": notice.on.isoformat()}
            return [Planned(f"{notice.dedupe_key}:nobody", step.order_id, step.id, "nobody", UNIT, None, None, note)]
        return [Planned(f"{notice.dedupe_key}:{_who(r)}", step.order_id, step.id, kind, role, r.person_id,
                        None if r.person_id else r.email, {}) for r in found]  # fmt: skip


def _who(recipient: Recipient) -> str:
    return f"p{recipient.person_id}" if recipient.person_id else f"a{recipient.email.lower()}"


async def queue(session: AsyncSession, planned: Sequence[Planned], not_before: datetime, now: datetime) -> list[int]:
    """Insert the rows not queued before (by dedupe key); the ids of those inserted.

    A newer notice of the same kind about the same step for the same recipient replaces one still waiting.
    """
    if not planned:
        return []
    common = {"state": "queued", "not_before": not_before, "attempts": 0, "created_at": now}
    values = [{"dedupe_key": p.dedupe_key, "order_id": p.order_id, "milestone_id": p.milestone_id, "kind": p.kind,
               "role": p.role, "person_id": p.person_id, "address": p.address, "payload": p.payload, **common}
              for p in planned]  # fmt: skip
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(models.Notification).on_conflict_do_nothing(index_elements=["dedupe_key"])
    inserted = (
        await session.execute(statement.returning(models.Notification.id, models.Notification.dedupe_key), values)
    ).all()
    ids = [row.id for row in inserted]
    new = {row.dedupe_key for row in inserted}
    steps = {p.milestone_id for p in planned if p.dedupe_key in new and p.milestone_id is not None
             and p.kind in ("reminder", "escalation")}  # fmt: skip
    if steps:
        # One statement for the batch: a queued row of the same step, kind and recipient as a newer one goes.
        older = models.Notification
        newer = aliased(models.Notification)
        await session.execute(
            update(older)
            .where(
                older.state == "queued", older.milestone_id.in_(steps),
                exists().where(
                    newer.id.in_(ids), newer.milestone_id == older.milestone_id, newer.kind == older.kind,
                    newer.id > older.id, newer.person_id.is_not_distinct_from(older.person_id),
                    newer.address.is_not_distinct_from(older.address),
                ),
            )
            .values(state="superseded", last_error="a newer notice about this step replaced it")
            .execution_options(synchronize_session=False)
        )  # fmt: skip
    return ids


async def _audit_nobody(
    session: AsyncSession, planned: Sequence[Planned], queued: Sequence[int], now: datetime
) -> None:
    if not queued:
        return
    keys = {p.dedupe_key: p for p in planned if p.kind == "nobody"}
    if not keys:
        return
    inserted = await session.scalars(
        select(models.Notification.dedupe_key).where(models.Notification.id.in_(queued),
                                                     models.Notification.dedupe_key.in_(list(keys)))
    )  # fmt: skip
    found = await session.execute(
        select(models.Order.id, models.Order.reference).where(
            models.Order.id.in_({p.order_id for p in keys.values() if p.order_id})
        )
    )
    references = {order_id: reference for order_id, reference in found}
    for key in inserted:
        p = keys[key]
        session.add(models.AuditEntry(at=now, actor="system", action="notify.nobody",
                                      order_reference=references.get(p.order_id or 0), outcome="refused",
                                      details=p.payload))  # fmt: skip


def opening_after(hours: WorkingHours, day: date) -> datetime:
    """The first opening of working hours after the whole of `day` (a snooze until `day` ends with it)."""
    end = datetime.combine(day, time(23, 59), tzinfo=hours.zone)
    return hours.next_opening(end).astimezone(UTC)
