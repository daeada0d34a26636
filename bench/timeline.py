"""How fast timelines are computed: every procedure, a spread of orders with recorded events."""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta

from rules.calendar import WorkingCalendar
from rules.dates import order_last_day
from rules.procedures import load_builtin
from rules.timeline import OrderFacts, RecordedEvent, build_timeline

ORDERS_PER_PROCEDURE = 2_000


def orders(kind: str) -> list[tuple[OrderFacts, list[RecordedEvent]]]:
    start = date(2026, 1, 5)
    found = []
    for n in range(ORDERS_PER_PROCEDURE):
        made = start + timedelta(days=n % 365)
        facts = OrderFacts(kind, made, made, order_last_day(made, 12 if n % 4 else 6))
        events = [RecordedEvent("first_cin_meeting", made + timedelta(days=20))] if n % 2 else []
        found.append((facts, events))
    return found


def main() -> None:
    calendar = WorkingCalendar()
    procedures = load_builtin()
    print(f"timeline: {ORDERS_PER_PROCEDURE} orders per procedure, median of 5 runs")
    for procedure in procedures.values():
        kind = procedure.order_types[0]
        sample = orders(kind)
        runs = []
        steps = 0
        for _ in range(5):
            began = time.perf_counter()
            steps = sum(len(build_timeline(procedure, facts, events, calendar)) for facts, events in sample)
            runs.append(time.perf_counter() - began)
        median = statistics.median(runs)
        print(f"  {procedure.id:15} {len(sample) / median:10,.0f} timelines/s  "
              f"{median / len(sample) * 1e6:7.1f} µs each  ({steps / len(sample):.1f} steps per order)")  # fmt: skip


if __name__ == "__main__":
    main()
