"""Which reminder or escalation a step is due today, and when notifications may go out (working hours)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from rules.calendar import WorkingCalendar
from rules.timeline import Milestone

Kind = Literal["reminder", "escalation"]
LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class Notice:
    """One notification a step calls for: to the step's owner (a reminder) or up the chain (an escalation)."""

    reference: str
    key: str
    occurrence: int
    kind: Kind
    role: str
    on: date  # the day the procedure file set for it, which names it in the dedupe key

    @property
    def dedupe_key(self) -> str:
        return f"{self.reference}:{self.key}:{self.occurrence}:{self.kind}:{self.role}:{self.on.isoformat()}"


def due_notices(reference: str, step: Milestone, today: date) -> list[Notice]:
    """The notices an open step calls for by `today`: the latest reminder and the latest escalation.

    After downtime a step that missed several reminders gets only the latest; an escalation past its
    day replaces the ones before it, since the chain has moved on.
    """
    if step.state != "open" or step.due is None:
        return []
    notices = []
    reminders = [day for day in step.reminders if day <= today]
    if reminders:
        notices.append(Notice(reference, step.key, step.occurrence, "reminder", step.owner, max(reminders)))
    escalations = [e for e in step.escalations if e.on <= today]
    if escalations:
        latest = max(escalations, key=lambda e: e.on)
        notices.append(Notice(reference, step.key, step.occurrence, "escalation", latest.to, latest.on))
    return notices


@dataclass(frozen=True)
class WorkingHours:
    """When notifications may go out: working days, between two local times, in the authority's zone."""

    calendar: WorkingCalendar
    start: time = time(8, 30)
    end: time = time(17, 30)
    zone: ZoneInfo = LONDON

    def is_open(self, instant: datetime) -> bool:
        local = instant.astimezone(self.zone)
        return self.calendar.is_working_day(local.date()) and self.start <= local.time() < self.end

    def next_opening(self, instant: datetime) -> datetime:
        """`instant` itself when open, else the next start of working hours (aware, in the zone)."""
        if self.is_open(instant):
            return instant
        local = instant.astimezone(self.zone)
        day = local.date()
        if local.time() >= self.start:
            day += timedelta(days=1)
        day = self.calendar.on_or_after(day)
        # Built from the wall clock of that day, so the clock changes move nothing: 08:30 is 08:30.
        return datetime.combine(day, self.start, tzinfo=self.zone)


def opening_after(hours: WorkingHours, day: date) -> datetime:
    """The first opening of working hours after the whole of `day` (a snooze until `day` ends with it)."""
    end = datetime.combine(day, time(23, 59), tzinfo=hours.zone)
    return hours.next_opening(end).astimezone(UTC)
