"""The outbox's planner: each reminder and escalation the timelines call for becomes a queued row, once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from scheduler.calendar import WorkingCalendar
from scheduler.clock import Clock
from scheduler.notices import WorkingHours, due_notices
from scheduler.procedures import Procedure
from scheduler.timeline import Milestone, escalation_days, reminder_days
from storage import Database, models

# Reminders start at most ten working days ahead: three calendar weeks covers them, holidays included.
LOOKAHEAD = timedelta(days=21)


@dataclass(frozen=True)
class Planner:
    database: Database
    procedures: Mapping[str, Procedure]
    calendar: WorkingCalendar
    hours: WorkingHours
    clock: Clock

    async def plan(self) -> int:
        """Queue every notice due by today; a notice already queued (by its dedupe key) is left alone.

        Each row waits for the next opening of working hours; the number of rows newly queued is returned.
        """
        now = self.clock.now()
        today = now.astimezone(self.hours.zone).date()
        not_before = self.hours.next_opening(now)
        async with self.database.session() as session:
            rows = await session.execute(
                select(models.Milestone, models.Order.reference, models.Order.procedure_id, models.Order.made)
                .join(models.Order, models.Milestone.order_id == models.Order.id)
                .where(
                    models.Order.status == "open",
                    models.Milestone.state == "open",
                    models.Milestone.due <= today + LOOKAHEAD,
                )
            )
            queued = []
            for row, reference, procedure_id, made in rows:
                for notice in due_notices(reference, self._step(row, procedure_id, made), today):
                    queued.append(
                        {"dedupe_key": notice.dedupe_key, "order_id": row.order_id, "milestone_id": row.id,
                         "kind": notice.kind, "role": notice.role, "state": "queued", "not_before": not_before,
                         "attempts": 0, "created_at": now}
                    )  # fmt: skip
            if not queued:
                return 0
            insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
            result = await session.execute(
                insert(models.Notification).values(queued).on_conflict_do_nothing(index_elements=["dedupe_key"])
            )
            return max(int(getattr(result, "rowcount", 0) or 0), 0)

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
