"""The digest goes at its own time of day, whatever the time set: a window after it, never a fixed noon."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rules.calendar import WorkingCalendar
from rules.notices import WorkingHours
from scheduler.digest import Digest

LONDON = ZoneInfo("Europe/London")
THURSDAY = (2026, 12, 3)


def digest_at(at: time) -> Digest:
    ctx: Any = None  # `due` asks only the clock's reading it is given and the working calendar
    return Digest(ctx, WorkingHours(WorkingCalendar()), at)


@pytest.mark.parametrize("at", [time(8, 30), time(12, 0), time(13, 15), time(16, 45)])
def test_a_digest_is_due_from_its_time_and_not_long_after(at: time) -> None:
    digest = digest_at(at)
    on_time = datetime(*THURSDAY, at.hour, at.minute, tzinfo=LONDON)
    assert digest.due(on_time)
    assert digest.due(on_time.replace(minute=59) if at.minute < 59 else on_time)
    assert not digest.due(on_time.replace(hour=at.hour - 1)), "not before its time"
    assert not digest.due(on_time.replace(hour=min(at.hour + 4, 23))), "not sent hours late"


def test_no_digest_on_a_weekend() -> None:
    assert not digest_at(time(8, 30)).due(datetime(2026, 12, 5, 9, tzinfo=LONDON))
