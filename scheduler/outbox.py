"""The outbox's planner: each reminder and escalation the timelines call for becomes a queued row per person, once.

When a person's acknowledgement of a step ends and the chain has nothing more for them, they are told once again.

A step is looked at only when its next notice day has come (milestones.notify_on), so a tick over a large
database reads what is due and nothing else. Whom a role means is decided here, when the notification is
made; a role with nobody in it becomes a note to the Safeguarding Unit and an audit row, never silence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rules.calendar import WorkingCalendar
from rules.clock import Clock
from rules.notices import Notice, WorkingHours, due_notices
from rules.procedures import Procedure
from rules.recipients import Recipient, choose
from rules.timeline import Milestone, escalation_days, reminder_days
from scheduler.cover import Cover, audit_cover, plan_returns
from storage import Database, models
from storage.outbox import UNIT, Planned, newly_queued, queue

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

        Each row waits for the next opening of working hours; the number of rows newly queued is returned. Someone
        back from an absence is sent, with them, the one summary of what went to others for them meanwhile.
        """
        total = await self._plan_steps()
        now = self.clock.now()
        today = now.astimezone(self.hours.zone).date()
        return total + await plan_returns(self.database, self.calendar, today, self.hours.next_opening(now), now)

    async def _plan_steps(self) -> int:
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
        people = _People(session, self.legal_address, today)
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
        holds = await _Holds.read(people.session, [row.id for row, *_ in rows])
        planned: list[Planned] = []
        next_days = []
        for row, reference, procedure_id, made, status, social_worker_id in rows:
            if status != "open":
                next_days.append({"mid": row.id, "old_due": row.due, "next": NEVER})
                continue
            step = self._step(row, procedure_id, made)
            chain_days: dict[int, date] = {}  # each person's latest notice of the chain due by today
            for notice in due_notices(reference, step, today):
                for p in await people.rows_for(notice, row, social_worker_id):
                    planned.append(p)
                    if p.person_id is not None:
                        chain_days[p.person_id] = max(notice.on, chain_days.get(p.person_id, notice.on))
            resumed, resume_days = holds.resumed(row, reference, today, self.calendar, chain_days)
            planned += resumed
            upcoming = [d for d in (*step.reminders, *(e.on for e in step.escalations), *resume_days) if d > today]
            next_days.append({"mid": row.id, "old_due": row.due, "next": min(upcoming, default=NEVER)})
        return planned, next_days

    async def _plan_batch(self, session: AsyncSession, rows: Sequence[Any], today: date, now: datetime) -> int:
        # Whoever is away on the day a row goes (the next opening of working hours) has it sent to their cover.
        sent_on = self.hours.next_opening(now).astimezone(self.hours.zone).date()
        planned, next_days = await self._notices(_People(session, self.legal_address, sent_on), rows, today)
        queued = await queue(session, planned, self.hours.next_opening(now), now)
        await _audit_nobody(session, planned, queued, now)
        await audit_cover(session, planned, queued, now)
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


@dataclass(frozen=True)
class _Told:
    kind: str
    role: str
    not_before: datetime


class _Holds:
    """The acknowledgements of a batch's steps, and what each person was last told of them.

    An acknowledgement holds a person's notices until its day (the dispatcher waits them out). When it ends with
    the step still open and nothing more of the chain due to them, they are told again, once: the latest notice
    they had, as the step stands that day. So an Acknowledge quiets someone for a while and never for good.
    """

    def __init__(self, ends: dict[int, dict[int, date]], told: dict[tuple[int, int], list[_Told]]) -> None:
        self._ends = ends  # milestone id → person id → the last day of their latest hold
        self._told = told  # (milestone id, person id) → their step notices, oldest first

    @classmethod
    async def read(cls, session: AsyncSession, milestone_ids: list[int]) -> _Holds:
        ends: dict[int, dict[int, date]] = {}
        if not milestone_ids:
            return cls(ends, {})
        answers = await session.execute(
            select(models.StepResponse.milestone_id, models.StepResponse.person_id, models.StepResponse.until)
            .where(models.StepResponse.milestone_id.in_(milestone_ids), models.StepResponse.kind == "acknowledged",
                   models.StepResponse.until.is_not(None))
        )  # fmt: skip
        for milestone_id, person_id, until in answers:
            mine = ends.setdefault(milestone_id, {})
            if until is not None:
                mine[person_id] = max(until, mine.get(person_id, until))
        told: dict[tuple[int, int], list[_Told]] = {}
        if ends:
            notices = await session.execute(
                select(models.Notification.milestone_id, models.Notification.person_id, models.Notification.kind,
                       models.Notification.role, models.Notification.not_before)
                .where(models.Notification.milestone_id.in_(list(ends)), models.Notification.person_id.is_not(None),
                       models.Notification.kind.in_(("reminder", "escalation")))
                .order_by(models.Notification.id)
            )  # fmt: skip
            for step_id, whom, kind, role, not_before in notices:
                if step_id is not None and whom is not None:
                    told.setdefault((step_id, whom), []).append(_Told(kind, role, not_before))
        return cls(ends, told)

    def resumed(self, step: models.Milestone, reference: str, today: date, calendar: WorkingCalendar,
                chain_days: Mapping[int, date]) -> tuple[list[Planned], list[date]]:  # fmt: skip
        """The notices due today because a hold on `step` has ended, and the days later holds end.

        `chain_days` are each person's latest notice day of the chain: one after the hold tells them already.
        """
        planned, later = [], []
        for person_id, until in self._ends.get(step.id, {}).items():
            resume = calendar.on_or_after(until + timedelta(days=1))
            if resume > today:
                later.append(resume)
                continue
            told = self._told.get((step.id, person_id), [])
            if person_id in chain_days and chain_days[person_id] > until:
                continue  # the chain has a notice for them since the hold ended
            # A notice goes out in working hours, so the day it may go is the same in UTC as in London.
            if not told or any(t.not_before.date() > until for t in told):
                continue  # never told of it, or told again since the hold ended (a notice it held, or the chain's)
            last = told[-1]
            key = f"{reference}:{step.key}:{step.occurrence}:resumed:{until.isoformat()}:p{person_id}"
            planned.append(Planned(key, step.order_id, step.id, last.kind, last.role, person_id, None, {}))
        return planned, later


class _People:
    """The directory and each order's IRO, read once per batch, to turn a role into recipients."""

    def __init__(self, session: AsyncSession, legal_address: str | None, sent_on: date) -> None:
        self.session = session
        self.legal_address = legal_address
        self.sent_on = sent_on
        self._cover: Cover | None = None
        self._people: dict[int, models.Person] | None = None
        self._holders: dict[str, list[models.Person]] = {}
        self._iros: dict[int, int] = {}

    async def _load(self) -> dict[int, models.Person]:
        if self._people is None:
            self._people = {p.id: p for p in (await self.session.scalars(select(models.Person))).all()}
            for person in self._people.values():
                for role in person.roles:
                    self._holders.setdefault(role, []).append(person)
            self._cover = await Cover.read(self.session, self.sent_on, self._people)
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
        return self._to_whoever_is_there(notice, step, found, iro_id, social_worker)

    def _to_whoever_is_there(
        self,
        notice: Notice,
        step: models.Milestone,
        found: list[Recipient],
        iro_id: int | None,
        social_worker: models.Person | None,
    ) -> list[Planned]:
        """The rows for these recipients, each sent instead to whoever covers them while they are away; and, at a
        reminder of a step its IRO owns, the unit's note if the IRO is away on the day it is due."""
        assert self._cover is not None
        planned: dict[str, Planned] = {}
        for recipient in found:
            to, facts = self._cover.redirect(recipient)
            key = f"{notice.dedupe_key}:{recipient_key(to)}"
            planned.setdefault(key, Planned(key, step.order_id, step.id, notice.kind, notice.role, to.person_id,
                                            None if to.person_id else to.email, facts))  # fmt: skip
        flag = self._cover.iro_away(notice, step, iro_id, social_worker)
        return [*planned.values(), *([flag] if flag else [])]


def recipient_key(recipient: Recipient) -> str:
    """How a notice's dedupe key names its recipient: by person, or by address."""
    return f"p{recipient.person_id}" if recipient.person_id else f"a{recipient.email.lower()}"


async def _audit_nobody(
    session: AsyncSession, planned: Sequence[Planned], queued: Sequence[int], now: datetime
) -> None:
    for p, reference in await newly_queued(session, [p for p in planned if p.kind == "nobody"], queued):
        session.add(models.AuditEntry(at=now, actor="system", action="notify.nobody", order_reference=reference,
                                      outcome="refused", details=p.payload))  # fmt: skip
