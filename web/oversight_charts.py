"""The oversight page's bar charts, laid out for SVG: each row's label, bars and the words beside them (pure).

A bar is drawn in the page's own text colour (currentColor), solid or outlined, and every bar carries its value in
words, so nothing depends on colour: the charts read the same in light, dark and forced-colours themes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from handlers.oversight import AllocationTimes, Figures, OnTime, Waited
from handlers.terms import counted

WIDTH = 900
LABEL_WIDTH = 190  # the labels' column, right-aligned to the bars' baseline
BAR_SPACE = 330  # the longest bar
ROW = 34  # each row's height
BAR = 18  # a lone bar's thickness; two bars of a row share it and a gap
TOP = 8


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    solid: bool  # solid, or an outline with no fill: the two series of a chart


@dataclass(frozen=True)
class Row:
    label: str
    label_y: float
    bars: tuple[Bar, ...]
    words: str  # the value, beside the bars
    words_x: float


@dataclass(frozen=True)
class LegendItem:
    solid: bool
    words: str


@dataclass(frozen=True)
class Chart:
    """One chart: its name for screen readers (title, desc) and its rows, in SVG user units."""

    key: str
    title: str
    desc: str
    rows: tuple[Row, ...]
    height: float
    legend: tuple[LegendItem, ...] = ()
    width: int = WIDTH
    label_width: int = LABEL_WIDTH


def _length(value: float, most: float) -> float:
    if most <= 0 or value <= 0:
        return 0.0
    return max(2.0, BAR_SPACE * value / most)  # a bar for any value above nothing stays visible


def _row_y(index: int) -> float:
    return TOP + index * ROW


def _chart(key: str, title: str, desc: str, rows: list[Row], legend: tuple[LegendItem, ...] = ()) -> Chart:
    extra = 24 if legend else 0
    return Chart(key, title, desc, tuple(rows), TOP * 2 + max(len(rows), 1) * ROW + extra, legend)


def percent_words(row: OnTime) -> str:
    if row.percent is None:
        return "no steps due"
    return f"{row.percent:.0f}% ({row.on_time} of {row.due})"


def on_time(key: str, title: str, rows: Sequence[OnTime], what: str) -> Chart:
    """Steps done on time as a share of those due, 0–100%, a row per team or procedure."""
    laid = []
    for index, row in enumerate(rows):
        y = _row_y(index)
        length = _length(row.percent or 0, 100)
        bar = Bar(LABEL_WIDTH, y + (ROW - BAR) / 2, length, BAR, True)
        laid.append(Row(row.name, y + ROW / 2, (bar,), percent_words(row), LABEL_WIDTH + length + 8))
    summary = "; ".join(f"{row.name}: {percent_words(row)}" for row in rows) or "no steps were due"
    desc = f"Bars of the share of steps done by their due day, {what}, on a scale of 0 to 100%. {summary}."
    return _chart(key, title, desc, laid)


def allocation_words(row: AllocationTimes) -> str:
    if row.median is None or row.p90 is None:
        return "none allocated yet" + (f" ({row.unallocated} waiting)" if row.unallocated else "")
    return f"median {row.median:g}, 90th percentile {row.p90} ({counted(row.allocated, 'order')})"


def allocation(rows: Sequence[AllocationTimes]) -> Chart:
    """Working days to the IRO's allocation: a solid bar for the median and an outlined one for the 90th percentile."""
    most = max((row.p90 or 0 for row in rows), default=0)
    laid = []
    half = (BAR - 2) / 2
    for index, row in enumerate(rows):
        y = _row_y(index) + (ROW - BAR) / 2
        median = _length(row.median or 0, most)
        p90 = _length(row.p90 or 0, most)
        bars = (Bar(LABEL_WIDTH, y, median, half, True), Bar(LABEL_WIDTH, y + half + 2, p90, half, False))
        laid.append(Row(row.name, _row_y(index) + ROW / 2, bars, allocation_words(row),
                        LABEL_WIDTH + max(median, p90) + 8))  # fmt: skip
    summary = "; ".join(f"{row.name}: {allocation_words(row)}" for row in rows)
    desc = (
        "Pairs of bars of the working days from the day an order was made to its IRO's allocation: the upper, solid, "
        f"the median; the lower, outlined, the 90th percentile, on a scale of 0 to {most} working days. {summary}."
    )
    legend = (LegendItem(True, "median"), LegendItem(False, "90th percentile"))
    return _chart("allocation", "Working days from order made to IRO allocated", desc, laid, legend)


def counts(key: str, title: str, named: Sequence[tuple[str, int]], of_what: str) -> Chart:
    most = max((count for _, count in named), default=0)
    laid = []
    for index, (label, count) in enumerate(named):
        y = _row_y(index)
        length = _length(count, most)
        bar = Bar(LABEL_WIDTH, y + (ROW - BAR) / 2, length, BAR, True)
        laid.append(Row(label, y + ROW / 2, (bar,), counted(count, of_what), LABEL_WIDTH + length + 8))
    summary = "; ".join(f"{label}: {count}" for label, count in named)
    return _chart(key, title, f"Bars of the number of {of_what}s. {summary}.", laid)


def waited(rows: Sequence[Waited]) -> Chart:
    return counts("waited", "Overdue steps by how long they have waited", [(w.bucket.label, w.steps) for w in rows],
                  "step")  # fmt: skip


def decisions(figures: Figures) -> Chart:
    named = [("Decision recorded", figures.ending_decided), ("Decision not recorded", figures.ending_undecided)]
    if figures.ending_no_decision:
        named.append(("Procedure names none", figures.ending_no_decision))
    return counts("ending", "Orders ending in the next 3 months: is their decision recorded?", named, "order")


def charts(figures: Figures) -> dict[str, Chart]:
    """Every chart of the page, by the key its template places it under."""
    return {
        "by_team": on_time("by-team", "Steps done on time, by team", figures.on_time_by_team, "by team"),
        "by_procedure": on_time(
            "by-procedure", "Steps done on time, by procedure", figures.on_time_by_procedure, "by procedure"
        ),
        "allocation": allocation(figures.allocation),
        "waited": waited(figures.waited),
        "ending": decisions(figures),
    }
