"""The morning digest: on each working morning, each manager's and IRO's overdue and soon-due steps, queued once;
and the Safeguarding Unit's part, the imported steps it has still to confirm."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from handlers.confirm import checklist
from handlers.context import SYSTEM, Context
from handlers.queries import digests
from rules.notices import WorkingHours
from scheduler.cover import audit_cover, to_whoever_is_there
from storage.outbox import UNIT, Planned, queue

LOOKAHEAD_WORKING_DAYS = 10
# A digest longer than this lists the most pressing and says how many more: `overdue` in Teams shows all.
LINES = 40


@dataclass
class Digest:
    ctx: Context
    hours: WorkingHours
    at: time = time(8, 30)
    # This long after its time a missed digest is not sent late (it would be no summary of the day's start);
    # a window after the digest's own time, whatever that is, so a digest at noon or later still goes.
    late_by: timedelta = timedelta(hours=3, minutes=30)
    # The day this process last planned: the dispatch tick asks every minute all morning, the work is once a day.
    _planned_on: date | None = field(default=None, init=False, repr=False)

    def due(self, now: datetime) -> bool:
        local = now.astimezone(self.hours.zone)
        since = datetime.combine(local.date(), local.time()) - datetime.combine(local.date(), self.at)
        return self.hours.calendar.is_working_day(local.date()) and timedelta(0) <= since < self.late_by

    async def plan(self) -> int:
        """Queue today's digests, once each (by person and day); nothing for someone with nothing to read."""
        now = self.ctx.clock.now()
        if not self.due(now):
            return 0
        today = now.astimezone(self.hours.zone).date()
        if self._planned_on == today:
            return 0
        until = self.hours.calendar.add_working_days(today, LOOKAHEAD_WORKING_DAYS)
        planned = [
            Planned(f"digest:{person_id}:{today.isoformat()}", None, None, "digest", "digest", person_id, None,
                    {"steps": [{"due": s.due.isoformat(), "reference": s.reference, "initials": s.child_initials,
                                "title": s.title, "owner": s.owner, "overdue": s.overdue} for s in steps[:LINES]],
                     "overdue": sum(1 for s in steps if s.overdue), "total": len(steps)})
            for person_id, steps in (await digests(self.ctx, until)).items()
        ]  # fmt: skip
        unconfirmed = await checklist(self.ctx, SYSTEM)
        if unconfirmed:
            planned.append(
                Planned(f"digest:unit:{today.isoformat()}", None, None, "digest", UNIT, None, None,
                        {"steps": [{"due": s.due.isoformat() if s.due else today.isoformat(), "reference": s.reference,
                                    "initials": s.child_initials, "title": s.title, "owner": "to confirm",
                                    "overdue": False} for s in unconfirmed[:LINES]],
                         "to_confirm": len(unconfirmed), "overdue": 0, "total": len(unconfirmed)})
            )  # fmt: skip
        async with self.ctx.database.session() as session:
            # Someone away today: their digest goes to whoever covers them, saying for whom.
            planned = await to_whoever_is_there(session, planned, today)
            ids = await queue(session, planned, self.hours.next_opening(now), now)
            await audit_cover(session, planned, ids, now)
            queued = len(ids)
        self._planned_on = today
        return queued
