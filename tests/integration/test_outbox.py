"""The outbox's planner on SQLite and PostgreSQL: each due notice queued once, for working hours."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from handlers import orders, people
from handlers.context import CLI, Context
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.notices import WorkingHours
from rules.procedures import load_builtin
from scheduler.outbox import Planner
from storage import Database, models

STAFF = "name,email,roles\nSam Worker,sam.worker@example.gov.uk,social_worker\n"


async def queued(database: Database) -> list[tuple[str, str]]:
    async with database.session() as session:
        rows = (await session.scalars(select(models.Notification).order_by(models.Notification.dedupe_key))).all()
        return [(row.dedupe_key, row.not_before.isoformat()) for row in rows]


async def test_due_notices_are_queued_once_for_the_next_opening(database: Database) -> None:
    clock = FixedClock(datetime(2026, 3, 5, 7, 0, tzinfo=UTC))  # Thu 5 Mar 2026, before working hours
    ctx = Context(database, load_builtin(), WorkingCalendar(), clock, "wirral")
    await people.import_people(ctx, STAFF, CLI)
    await orders.create_order(ctx, orders.NewOrder("C1", "Jane Smith", "supervision", date(2026, 3, 3),
                                                   social_worker_email="sam.worker@example.gov.uk"), CLI)  # fmt: skip
    planner = Planner(database, ctx.procedures, ctx.calendar, WorkingHours(ctx.calendar), clock)

    # Made Tue 3 Mar. On Thu 5 Mar: the unit must be told today (reminder of the day); the case summary
    # (due Tue 17 Mar) was first reminded on 3 Mar, ten working days before. Allocation's first reminder
    # is Fri 6 Mar: not yet. Both wait for 08:30 London (GMT: 08:30 UTC).
    assert await planner.plan() == 2
    assert await queued(database) == [
        ("SO-2026-0001:case_summary:1:reminder:social_worker:2026-03-03:p1", "2026-03-05T08:30:00+00:00"),
        ("SO-2026-0001:inform_safeguarding_unit:1:reminder:social_worker:2026-03-05:p1", "2026-03-05T08:30:00+00:00"),
    ]
    assert await planner.plan() == 0  # planned again: nothing twice
    # Each step waits for its next notice day: the case summary's next reminder is two working days before
    # it is due (Fri 13 Mar); the allocation's first is Fri 6 Mar.
    async with database.session() as session:
        next_days = dict((await session.execute(select(models.Milestone.key, models.Milestone.notify_on))).all())
    assert next_days["case_summary"] == date(2026, 3, 13)
    assert next_days["allocate_iro"] == date(2026, 3, 6)

    # Wed 11 Mar 09:00: telling the unit is overdue (team manager since Fri 6 Mar); allocating the IRO was
    # due Tue 10 Mar (its reminder of the day) and escalates to the team manager today.
    clock.set(datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
    assert await planner.plan() == 3
    keys = [key for key, _ in await queued(database)]
    # Nobody is the team manager here: each escalation to them becomes a note to the unit.
    assert "SO-2026-0001:inform_safeguarding_unit:1:escalation:team_manager:2026-03-06:nobody" in keys
    assert "SO-2026-0001:allocate_iro:1:reminder:safeguarding_unit:2026-03-10:unit" in keys
    assert "SO-2026-0001:allocate_iro:1:escalation:team_manager:2026-03-11:nobody" in keys

    # Done steps call for nothing more, even as their chain would move on.
    await orders.record_event(ctx, "SO-2026-0001", "inform_safeguarding_unit", date(2026, 3, 11), CLI)
    clock.set(datetime(2026, 3, 13, 9, 0, tzinfo=UTC))  # the service manager's day for that step
    before = set(keys)
    await planner.plan()
    assert not any("inform_safeguarding_unit" in key for key, _ in await queued(database) if key not in before)


async def test_a_changed_step_is_planned_again_at_once(database: Database) -> None:
    """The database resets a step's next notice day when its due date or state changes, however it changed."""
    clock = FixedClock(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    ctx = Context(database, load_builtin(), WorkingCalendar(), clock, "wirral")
    await people.import_people(ctx, STAFF, CLI)
    await orders.create_order(ctx, orders.NewOrder("C1", "Jane Smith", "supervision", date(2026, 3, 3),
                                                   social_worker_email="sam.worker@example.gov.uk"), CLI)  # fmt: skip
    planner = Planner(database, ctx.procedures, ctx.calendar, WorkingHours(ctx.calendar), clock)
    await planner.plan()

    async def notify_on(key: str) -> date:
        async with database.session() as session:
            found = await session.scalar(select(models.Milestone.notify_on).where(models.Milestone.key == key))
            assert found is not None
            return found

    assert await notify_on("case_summary") > date(2026, 3, 5)
    async with database.session() as session:
        step = await session.scalar(select(models.Milestone).where(models.Milestone.key == "case_summary"))
        assert step is not None
        step.due = date(2026, 3, 6)
    assert await notify_on("case_summary") == date(1970, 1, 1)
    await planner.plan()  # due tomorrow now: looked at again today, its next notice day is its due date
    assert await notify_on("case_summary") == date(2026, 3, 6)
    async with database.session() as session:
        step = await session.scalar(select(models.Milestone).where(models.Milestone.key == "case_summary"))
        assert step is not None
        step.title = "a new title"  # neither due date nor state: left alone
    assert await notify_on("case_summary") == date(2026, 3, 6)


async def test_after_downtime_a_newer_notice_replaces_one_still_waiting(database: Database) -> None:
    clock = FixedClock(datetime(2026, 3, 13, 19, 0, tzinfo=UTC))  # Fri 13 Mar, after hours
    ctx = Context(database, load_builtin(), WorkingCalendar(), clock, "wirral")
    await people.import_people(ctx, STAFF, CLI)
    await orders.create_order(ctx, orders.NewOrder("C1", "Jane Smith", "supervision", date(2026, 3, 3),
                                                   social_worker_email="sam.worker@example.gov.uk"), CLI)  # fmt: skip
    planner = Planner(database, ctx.procedures, ctx.calendar, WorkingHours(ctx.calendar), clock)
    await planner.plan()  # the case summary's reminder of today waits for Monday's opening ...
    clock.set(datetime(2026, 3, 17, 9, 0, tzinfo=UTC))  # ... which nothing sent: the service was down
    await planner.plan()
    async with database.session() as session:
        rows = (
            await session.execute(
                select(models.Notification.dedupe_key, models.Notification.state)
                .where(models.Notification.dedupe_key.like("%case_summary:1:reminder%"))
                .order_by(models.Notification.id)
            )
        ).all()
    assert [(key.split(":")[5], state) for key, state in rows] == [
        ("2026-03-13", "superseded"),
        ("2026-03-17", "queued"),
    ]
