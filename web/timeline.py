"""The picture of an order's timeline, worked out as shapes (the template draws them as SVG): the order's span from
the day made to its last day and the three-year limit, one row per step with a mark for each occurrence, a chain
through recurring reviews, and today's line. Each state has its own shape as well as its colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from handlers.order_page import StepLine
from handlers.terms import day

WIDTH = 1000
LABELS = 250  # the left column of step names
RIGHT = 24
TOP = 56  # the axis and the order's span above the rows
ROW = 24
LEGEND = 44
LABEL_CHARACTERS = 38

# What each state is called, and the shape that marks it (the template draws each shape).
SHAPES = {"done": "circle", "open": "ring", "overdue": "triangle", "waiting": "square"}
WORDS = {"done": "done", "open": "open", "overdue": "overdue", "waiting": "waiting on an event"}


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    shape: str
    state: str
    title: str  # what the mark's <title> says


@dataclass(frozen=True)
class Row:
    y: float
    label: str
    full_title: str
    marks: tuple[Mark, ...]
    chain: tuple[tuple[float, float], ...]  # the points a recurring step's chain runs through


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Picture:
    width: int
    height: int
    span: tuple[float, float]  # x of the day made and of the last day
    limit_x: float
    today_x: float | None  # None when today is outside the picture
    rows: tuple[Row, ...]
    ticks: tuple[Tick, ...]
    legend_y: float
    summary: str
    plot: tuple[float, float]  # the x range of dates
    bottom: float  # where the rows end


def _shape_state(step: StepLine) -> str:
    if step.state in SHAPES:
        return step.state
    return "done" if step.done_on else "waiting"


def _when(step: StepLine) -> date | None:
    return step.done_on or step.due


def _describe(step: StepLine) -> str:
    name = step.title + (f" ({step.occurrence})" if step.recurring else "")
    if step.state == "done":
        return f"{name}: done {day(step.done_on)}" if step.done_on else f"{name}: done"
    if step.state == "waiting" or step.due is None:
        return f"{name}: waiting on {step.waiting_on}" if step.waiting_on else f"{name}: {step.state}"
    if step.state == "overdue":
        return f"{name}: due {day(step.due)}, overdue"
    return f"{name}: due {day(step.due)}, {step.state}"


def _months(start: date, end: date) -> list[date]:
    """The first of every third month from `start`'s month on, up to `end`."""
    first = date(start.year, start.month, 1)
    found = []
    while first <= end:
        found.append(first)
        month = first.month + 3
        first = date(first.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
    return found


def picture(reference: str, made: date, last_day: date, limit: date, today: date,
            steps: Sequence[StepLine]) -> Picture:  # fmt: skip
    """The shapes of an order's timeline (pure)."""
    dated = [when for s in steps if (when := _when(s)) is not None]
    start = made
    end = max([limit, last_day, *dated]) + timedelta(days=10)
    left, right = LABELS + 16.0, WIDTH - RIGHT

    def x(on: date) -> float:
        return round(left + (right - left) * (on - start).days / max((end - start).days, 1), 1)

    by_key: dict[str, list[StepLine]] = {}
    for step in steps:
        by_key.setdefault(step.key, []).append(step)
    rows = []
    for index, (_, occurrences) in enumerate(by_key.items()):
        y = TOP + ROW * index + ROW / 2
        marks = []
        for step in sorted(occurrences, key=lambda s: s.occurrence):
            state = _shape_state(step)
            when = _when(step)
            marks.append(Mark(x(when) if when else left - 8, y, SHAPES[state], state, _describe(step)))
        first = occurrences[0]
        title = first.title
        label = title if len(title) <= LABEL_CHARACTERS else title[: LABEL_CHARACTERS - 1].rstrip() + "…"
        chain = tuple((m.x, m.y) for m in marks if m.state != "waiting") if first.recurring else ()
        rows.append(Row(y, label, title, tuple(marks), chain if len(chain) > 1 else ()))
    bottom = TOP + ROW * len(rows)
    overdue = sum(1 for s in steps if s.state == "overdue")
    done = sum(1 for s in steps if s.state == "done")
    summary = (f"{reference}: made {day(made)}, last day {day(last_day)}, three-year limit {day(limit)}. "
               f"{len(steps)} steps: {done} done, {overdue} overdue. The table below lists each one.")  # fmt: skip
    return Picture(
        width=WIDTH, height=int(bottom + LEGEND), span=(x(made), x(last_day)), limit_x=x(limit),
        today_x=x(today) if start <= today <= end else None, rows=tuple(rows),
        ticks=tuple(Tick(x(m), f"{m:%b} {m.year}") for m in _months(start, end) if m >= start), legend_y=bottom + 26,
        summary=summary, plot=(left, right), bottom=bottom,
    )  # fmt: skip
