"""The oversight figures' own arithmetic (pure): working days counted from one walk of the calendar agree with the
calendar's own count, the 90th percentile is by nearest rank, and each wait falls in one bucket."""

from __future__ import annotations

import random
from datetime import date, timedelta

from handlers.oversight import BUCKETS, WorkingDayCount, bucket_of, percentile_90
from rules.calendar import WorkingCalendar


def test_working_days_from_one_walk_agree_with_the_calendar_across_holidays_and_closures() -> None:
    calendar = WorkingCalendar(closure_days=[date(2026, 12, 29), date(2026, 12, 30)])
    rng = random.Random(14)
    days = [date(2025, 11, 1) + timedelta(days=rng.randrange(500)) for _ in range(200)]
    count = WorkingDayCount(calendar, days)
    for start, end in zip(days, reversed(days), strict=True):
        assert count.between(start, end) == calendar.working_days_between(start, end), (start, end)
    # Christmas 2026: Fri 25 and Mon 28 (Boxing Day's substitute) are bank holidays, 29 and 30 closure days.
    assert count.between(date(2026, 12, 24), date(2026, 12, 31)) == 1
    # A day outside the walked span is still answered, by the calendar itself.
    assert count.between(date(2020, 1, 1), date(2020, 1, 8)) == 5


def test_the_90th_percentile_is_the_nearest_rank() -> None:
    assert percentile_90([7]) == 7
    assert percentile_90([10, 3]) == 10  # ceil(0.9 × 2) = 2nd
    assert percentile_90(list(range(1, 11))) == 9  # ceil(0.9 × 10) = 9th
    assert percentile_90(list(range(1, 12))) == 10  # ceil(9.9) = 10th
    assert percentile_90([5] * 19 + [100]) == 5  # 18th of 20


def test_each_wait_has_exactly_one_bucket() -> None:
    assert [bucket_of(n).label for n in (0, 1, 5, 6, 10, 11, 20, 21, 400)] == [
        "1–5 working days", "1–5 working days", "1–5 working days", "6–10 working days", "6–10 working days",
        "11–20 working days", "11–20 working days", "over 20 working days", "over 20 working days",
    ]  # fmt: skip
    for waited in range(1, 60):
        assert sum(b.holds(waited) for b in BUCKETS) == 1
