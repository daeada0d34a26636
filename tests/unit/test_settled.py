"""Once `sobot serve` has started, what it made is out of the garbage collector's sight, so a full collection
walks only what came after: no pause of the whole heap in a Teams turn or the mail poll."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sobot.serve import settled


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_what_was_made_at_start_is_frozen_and_what_comes_after_is_collected(unfrozen: None) -> None:
    started: list[list[int]] = [[n] for n in range(1000)]  # made while starting
    assert gc.get_freeze_count() == 0 and any(o is started for o in gc.get_objects())
    # (The count is of objects frozen and still alive: any freed since, by another thread, leaves it.)
    assert settled() > len(started) and gc.get_freeze_count() > len(started)
    assert not any(o is started for o in gc.get_objects())  # out of every generation the collector walks
    later: list[list[int]] = [[n] for n in range(10)]
    assert any(o is later for o in gc.get_objects())  # made after: the collector still sees it
