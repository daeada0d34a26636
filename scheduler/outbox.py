"""The outbox's planner: each reminder and escalation the timelines call for becomes a queued row per person, once.

A step is looked at only when its next notice day has come (milestones.notify_on), so a tick over a large
database reads what is due and nothing else. Whom a role means is decided here, when the notification is
made; a role with nobody in it becomes a note to the Safeguarding Unit and an audit row, never silence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rules.calendar import WorkingCalendar
from rules.clock import Clock
from rules.notices import Notice, WorkingHours, due_notices
from rules.procedures import Procedure
from rules.recipients import Recipient, choose
from rules.timeline import Milestone, escalation_days, reminder_days
from storage import Database, models
from storage.outbox import UNIT, Planned, queue

# A step with no notice left to send waits here until its due date or state changes.
NEVER = date(9999, 12, 31)
BATCH = 2000
# What the planner reads of a step and its order.
_STEP_COLUMNS = select(
    models.Milestone,
    models.Order.reference,
    models.Order.procedure_id,
    models.Order.made,
    models.Order.status,
    models.Order.social_worker_id,
)


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
                        _STEP_COLUMNS.join(models.Order, models.Milestone.order_id == models.Order.id)
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

    async def forecast(self, session: AsyncSession, order_ids: Sequence[int], today: date) -> list[Planned]:
        """The rows `plan` would queue on `today` for these orders, read in the caller's transaction and queued
        nowhere: what an import's dry run shows will go out on its first working day."""
        planned: list[Planned] = []
        people = _People(session, self.legal_address)
        for start in range(0, len(order_ids), BATCH):
            wanted = order_ids[start : start + BATCH]
            await people.know_iros(wanted)
            rows = (
                await session.execute(
                    _STEP_COLUMNS.join(models.Order, models.Milestone.order_id == models.Order.id)
                    .where(models.Milestone.state == "open", models.Order.id.in_(wanted))
                    .order_by(models.Milestone.id)
                )
            ).all()
            planned += (await self._notices(people, rows, today))[0]
        return planned

    async def _notices(
        self, people: _People, rows: Sequence[Any], today: date
    ) -> tuple[list[Planned], list[dict[str, Any]]]:
        """The rows these steps call for by `today`, and each step's next notice day."""
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
        return planned, next_days

    async def _plan_batch(self, session: AsyncSession, rows: Sequence[Any], today: date, now: datetime) -> int:
        planned, next_days = await self._notices(_People(session, self.legal_address), rows, today)
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

    async def know_iros(self, order_ids: Sequence[int]) -> None:
        """Read the IROs of many orders in one statement, where many orders are planned at once (a forecast)."""
        found = await self.session.execute(
            select(models.Allocation.order_id, models.Allocation.iro_id).where(
                models.Allocation.order_id.in_(order_ids), models.Allocation.active.is_(True)
            )
        )
        self._iros.update(dict.fromkeys(order_ids, 0))
        self._iros.update({order_id: iro_id for order_id, iro_id in found})

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
        return [Planned(f"{notice.dedupe_key}:{recipient_key(r)}", step.order_id, step.id, kind, role, r.person_id,
                        None if r.person_id else r.email, {}) for r in found]  # fmt: skip


def recipient_key(recipient: Recipient) -> str:
    """How a notice's dedupe key names its recipient: by person, or by address."""
    return f"p{recipient.person_id}" if recipient.person_id else f"a{recipient.email.lower()}"


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
