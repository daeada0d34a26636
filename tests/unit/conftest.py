"""Shared by the procedure tests: a timeline for an order under a built-in procedure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import pytest

from rules.calendar import WorkingCalendar
from rules.dates import order_last_day
from rules.procedures import load_builtin
from rules.timeline import Milestone, OrderFacts, RecordedEvent, build_timeline

PROCEDURES = load_builtin()
Timeline = Callable[..., list[Milestone]]


def make_timeline(
    procedure: str,
    made: date,
    *,
    last_day: date | None = None,
    commenced: date | None = None,
    order_type: str = "supervision",
    events: Sequence[tuple[str, date] | tuple[str, date, str]] = (),
    ended_on: date | None = None,
) -> list[Milestone]:
    order = OrderFacts(order_type, made, commenced or made, last_day or order_last_day(made), ended_on)
    recorded = [RecordedEvent(*event) for event in events]
    return build_timeline(PROCEDURES[procedure], order, recorded, WorkingCalendar())


@pytest.fixture
def timeline() -> Timeline:
    return make_timeline


def step(milestones: list[Milestone], key: str, occurrence: int = 1) -> Milestone:
    found = [m for m in milestones if m.key == key and m.occurrence == occurrence]
    assert found, f"no {key} #{occurrence} in {[(m.key, m.occurrence) for m in milestones]}"
    return found[0]


def occurrences(milestones: list[Milestone], key: str) -> list[Milestone]:
    return [m for m in milestones if m.key == key]
