"""Who receives what would go to someone away: their cover, else their team manager, and how that is said (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Away:
    """One absence as the choice needs it: whose, from and to (both days included), and who covers."""

    absence_id: int
    person_id: int
    first_day: date
    last_day: date
    cover_id: int | None


def away_on(absences: Sequence[Away], person_id: int, day: date) -> Away | None:
    """The absence of this person that `day` falls in, if any."""
    return next((a for a in absences if a.person_id == person_id and a.first_day <= day <= a.last_day), None)


def covering(
    person_id: int, day: date, absences: Sequence[Away], managers: Mapping[int, int | None]
) -> tuple[int, Away] | None:
    """Who is sent, on `day`, what would go to `person_id`, and the absence that sends it there; None when they
    are not away, or when nobody there can take it (the cover and every manager above them away too).

    The named cover takes it; with none named, the person's team manager. A cover who is away themselves passes
    it on the same way, so a notice never lands on a second empty desk; a circle of covers ends in None.
    """
    absence = away_on(absences, person_id, day)
    if absence is None:
        return None
    seen = {person_id}
    holder: int | None = person_id
    away: Away | None = absence
    while away is not None and holder is not None:
        holder = away.cover_id if away.cover_id is not None else managers.get(holder)
        if holder is None or holder in seen:
            return None
        seen.add(holder)
        away = away_on(absences, holder, day)
    return (holder, absence) if holder is not None else None


def short_day(day: date) -> str:
    """A day as a notice names it: "Fri 28 Aug"."""
    return f"{day:%a} {day.day} {day:%b}"


def long_day(day: date) -> str:
    """A day as a record names it: "Fri 28 Aug 2026"."""
    return f"{day:%a} {day.day} {day:%b %Y}"


def for_whom(name: str, last_day: date) -> str:
    """What a notice sent to a cover says first: "For Megan Bowen, away until Fri 28 Aug"."""
    return f"For {name}, away until {short_day(last_day)}"


@dataclass(frozen=True)
class AutomaticReplies:
    """A person's Outlook automatic replies: "disabled", "alwaysEnabled", or "scheduled" from one instant to
    another (aware datetimes), as Microsoft Graph's automaticRepliesSetting gives them."""

    status: str
    start: datetime | None = None
    end: datetime | None = None


# Replies scheduled to end before midday end an absence the day before: "until 09:00 Monday" is back on Monday;
# replies that start from the evening start it the day after: "from 17:00 Friday" is away from Saturday.
BACK_BY = time(12, 0)
GONE_FROM = time(17, 0)


def days_away(
    replies: AutomaticReplies, today: date, next_working_day: date, zone: ZoneInfo
) -> tuple[date, date] | None:
    """The days automatic replies say someone is away (first, last), or None when they say nothing of today or later.

    Always on has no end: the absence is taken to last to the next working day, and is read again each morning,
    so it runs on while the replies do and ends the day they are turned off.
    """
    if replies.status == "alwaysEnabled":
        return today, next_working_day
    if replies.status != "scheduled" or replies.start is None or replies.end is None:
        return None
    starts = replies.start.astimezone(zone)
    first = starts.date() + timedelta(days=1) if starts.time() >= GONE_FROM else starts.date()
    ends = replies.end.astimezone(zone)
    last = ends.date() - timedelta(days=1) if ends.time() < BACK_BY else ends.date()
    if last < first or last < today:
        return None
    return first, last
