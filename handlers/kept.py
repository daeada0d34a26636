"""What a process read lately and may trust for a little while, instead of reading it on every turn."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class _Entry(Generic[V]):
    value: V
    at: datetime


class Kept(Generic[K, V]):
    """Values kept for `ttl` from when they were read; after that they are read again.

    A change another process makes reaches this one within `ttl`; one this process makes calls `forget`.
    At most `limit` entries are kept: past that the oldest half is let go.
    """

    def __init__(self, ttl: timedelta, limit: int = 10_000) -> None:
        self.ttl = ttl
        self.limit = limit
        self._entries: dict[K, _Entry[V]] = {}

    def get(self, key: K, now: datetime) -> tuple[V] | None:
        """`(value,)` while the entry is fresh; None when there is none or it is too old to trust."""
        entry = self._entries.get(key)
        if entry is None or not timedelta(0) <= now - entry.at < self.ttl:
            return None
        return (entry.value,)

    def keep(self, key: K, value: V, now: datetime) -> None:
        if len(self._entries) >= self.limit and key not in self._entries:
            # Dicts keep insertion order: the first half are the oldest entries.
            for old in list(self._entries)[: self.limit // 2]:
                del self._entries[old]
        self._entries.pop(key, None)
        self._entries[key] = _Entry(value, now)

    def forget(self, key: K | None = None) -> None:
        """Forget one entry, or with no key every entry."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)
