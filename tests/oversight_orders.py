"""A fixture of orders whose oversight figures are known: each order's steps, allocations and events chosen by hand,
so a test can work out every figure (tests/integration/test_oversight_figures.py does, line by line)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from handlers.context import Context
from storage import models

STAFF = """name,email,roles,team,manager_email
Tess Manager,tess@example.gov.uk,team_manager,North,
Tom Manager,tom@example.gov.uk,team_manager,South,
Sam Worker,sam@example.gov.uk,social_worker,North,tess@example.gov.uk
Sue Worker,sue@example.gov.uk,social_worker,South,tom@example.gov.uk
Ian Reviewer,ian@example.gov.uk,iro,IRO service,
Una Unit,una@example.gov.uk,safeguarding_unit,Safeguarding,
Sean Service,sean@example.gov.uk,service_manager,North,
Hana Head,hana@example.gov.uk,head_of_service,,
Lee Legal,lee@example.gov.uk,legal,Legal,
Nat Teamless,nat@example.gov.uk,team_manager,,
"""
# Thursday 3 December 2026: the 12 months are 4 December 2025 to today, steps due up to yesterday (2 December)
# count, and orders ending up to 3 March 2027 are listed.
TODAY = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def d(text: str) -> date:
    return date.fromisoformat(text)


# Each order: reference, procedure, social worker, made, last day, status, its allocations (UTC instants), its steps
# (due, state, done on) and the events recorded.
ORDERS = [
    # A, North. Allocated 23:30 UTC on Wed 3 June = Thu 4 June in London (BST): 3 working days after Mon 1 June.
    ("SO-2026-0001", "wirral", "sam", "2026-06-01", "2027-05-31", "open", ["2026-06-03T23:30"],
     [("2026-06-03", "done", "2026-06-03"),   # on time
      ("2026-07-01", "done", "2026-07-02"),   # late
      ("2026-11-26", "open", None),           # overdue: Thu 26 Nov to Thu 3 Dec is 5 working days
      ("2026-11-30", "open", None),           # overdue 3 working days
      ("2026-12-03", "open", None),           # due today: neither counted nor overdue
      (None, "waiting", None)], []),
    # B, South. Allocated Mon 16 March: 10 working days after Mon 2 March. Ends 1 March 2027, undecided.
    ("SO-2026-0002", "camden", "sue", "2026-03-02", "2027-03-01", "open", ["2026-03-16T10:00"],
     [("2026-04-02", "done", "2026-04-01"),   # on time
      ("2026-10-01", "open", None),           # overdue 45 working days
      ("2026-11-20", "waived", None)], []),   # never asked for: not counted
    # C, North. Made before the 12 months (so not among the allocation times); extended to 31 December, decided.
    ("SO-2025-0001", "wirral", "sam", "2025-12-01", "2026-12-31", "open", ["2025-12-02T10:00"],
     [("2025-12-03", "done", "2025-12-03"),   # due before the 12 months: not counted
      ("2025-12-04", "done", "2025-12-10"),   # the first day of the 12 months, late
      ("2026-11-18", "open", None),           # overdue 11 working days
      ("2026-11-19", "open", None)],          # overdue 10 working days
     [("outcome", "2026-11-30", "A")]),
    # D, South. Unallocated. Ends 28 February 2027; an event that is not Sussex's decision is recorded.
    ("SO-2026-0003", "sussex", "sue", "2026-09-01", "2027-02-28", "open", [],
     [("2026-09-03", "done", "2026-09-03"), ("2026-12-02", "done", "2026-12-02")],  # both on time, one yesterday
     [("continuation_possible", "2026-11-02", None)]),
    # E, North, an interim order under Bradford (which names no decision). Allocated the next working day, then
    # reallocated: the first allocation is the one counted.
    ("SO-2026-0004", "bradford", "sam", "2026-11-02", "2027-01-15", "open", ["2026-11-03T10:00", "2026-11-20T10:00"],
     [("2026-11-04", "done", "2026-11-04")], []),
    # F, South, ended. Made Mon 22 Dec 2025, allocated Mon 29 Dec: 3 working days over Christmas and Boxing Day.
    ("SO-2025-0002", "camden", "sue", "2025-12-22", "2027-01-10", "ended", ["2025-12-29T10:00"],
     [("2026-10-15", "done", "2026-10-14"),   # on time
      ("2026-11-02", "open", None)], []),     # due and not done (counted late), but its order ended: not overdue
    # G, North. Unallocated; ends on the last day looked at, its decision recorded.
    ("SO-2026-0005", "camden", "sam", "2026-03-04", "2027-03-03", "open", [], [],
     [("further_order_decision", "2026-12-01", None)]),
    # H, South. Ends the day after the last day looked at.
    ("SO-2026-0006", "camden", "sue", "2026-03-05", "2027-03-04", "open", [], [], []),
]  # fmt: skip


async def add_orders(ctx: Context) -> None:
    """Write the orders above, with their steps, allocations and events, as they stand today."""
    now = ctx.clock.now()
    async with ctx.database.session() as session:
        staff = {p.email.split("@")[0]: p for p in (await session.scalars(select(models.Person))).all()}
        for number, (reference, procedure, worker, made, last_day, status, allocated, steps, events) in enumerate(
            ORDERS, start=1
        ):
            child = models.Child(local_id=f"C{number}", name=f"Child Number{number} Smith")
            order = models.Order(
                reference=reference, child=child, order_type="supervision", made=d(made), commenced=d(made),
                last_day=d(last_day), procedure_id=procedure, status=status, social_worker=staff[worker],
                created_at=now, updated_at=now,
            )  # fmt: skip
            for i, at in enumerate(allocated):
                order.allocations.append(
                    models.Allocation(iro=staff["ian"], allocated_at=datetime.fromisoformat(at).replace(tzinfo=UTC),
                                      active=i == len(allocated) - 1)
                )  # fmt: skip
            for i, (due, state, done_on) in enumerate(steps, start=1):
                order.milestones.append(
                    models.Milestone(key=f"step_{i}", occurrence=1, title=f"Step {i}", owner_role="social_worker",
                                     due=due and d(due), state=state, done_on=done_on and d(done_on), source="§1",
                                     updated_at=now)
                )  # fmt: skip
            for kind, on, value in events:
                order.events.append(models.Event(kind=kind, occurred_on=d(on), value=value, recorded_at=now))
            session.add(order)
