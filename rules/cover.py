"""Who receives what would go to someone away: their cover, else their team manager, and how that is said (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date


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
