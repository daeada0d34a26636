"""Values kept for a while: fresh ones are trusted, old ones read again, and the store never grows unbounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers.kept import Kept

NOON = datetime(2026, 3, 10, 12, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_an_entry_is_trusted_for_its_time_and_no_longer() -> None:
    kept: Kept[str, int | None] = Kept(MINUTE)
    assert kept.get("a", NOON) is None
    kept.keep("a", None, NOON)  # "there is none" is a value too
    assert kept.get("a", NOON + MINUTE - timedelta(microseconds=1)) == (None,)
    assert kept.get("a", NOON + MINUTE) is None
    assert kept.get("a", NOON - timedelta(seconds=1)) is None, "a clock set back does not stretch the trust"


def test_forget_one_or_all() -> None:
    kept: Kept[str, int] = Kept(MINUTE)
    for n, key in enumerate("abc"):
        kept.keep(key, n, NOON)
    kept.forget("a")
    assert kept.get("a", NOON) is None and kept.get("b", NOON) == (1,)
    kept.forget()
    assert kept.get("b", NOON) is None and kept.get("c", NOON) is None


def test_past_its_limit_the_oldest_half_goes() -> None:
    kept: Kept[int, int] = Kept(MINUTE, limit=4)
    for n in range(4):
        kept.keep(n, n, NOON)
    kept.keep(0, 10, NOON)  # kept again: now the newest
    kept.keep(4, 4, NOON)
    assert [kept.get(n, NOON) for n in range(5)] == [(10,), None, None, (3,), (4,)]
