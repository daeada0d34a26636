"""Importing a council's live orders, on SQLite and PostgreSQL: the dry run, all or nothing, the first working day's
notices, a re-import that changes nothing, a changed row updated in place, and the unit's confirmations."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from handlers import confirm, imports, people
from handlers.context import CLI, Actor, Context
from handlers.errors import NotAllowed
from handlers.import_sheet import read_sheet
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.notices import WorkingHours
from rules.procedures import load_builtin
from scheduler.digest import LINES, Digest
from scheduler.dispatch import digest_message
from scheduler.outbox import Planner
from storage import Database, models
from tests.caseload_sheet import STAFF, caseload

TODAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # Monday 7 December 2026, in working hours
UNIT = Actor("Una Unit", "una.unit@example.gov.uk")


async def _count(database: Database, model: type[models.Base], *where: object) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _setup(database: Database) -> tuple[Context, Planner]:
    clock = FixedClock(TODAY)
    ctx = Context(database, load_builtin(), WorkingCalendar(), clock, "wirral")
    await people.import_people(ctx, STAFF, CLI)
    return ctx, Planner(database, ctx.procedures, ctx.calendar, WorkingHours(ctx.calendar), clock)


def _keys(ctx: Context) -> set[str]:
    return {key for p in ctx.procedures.values() for key in p.event_keys()}


async def test_a_councils_caseload_is_checked_imported_and_quiet_on_its_first_day(database: Database) -> None:
    ctx, planner = await _setup(database)
    book = caseload(ctx.procedures, TODAY.date())
    sheet = read_sheet("legal-tracker.xlsx", book.xlsx(), _keys(ctx))
    assert sheet.problems == ()

    dry = await imports.import_orders(ctx, sheet, UNIT, dry_run=True, forecast=planner.forecast)
    # Exactly the bad rows, each with its sentence; every other row would be a new order; nothing is written.
    assert {row.row: list(row.problems) for row in dry.bad} == book.bad
    assert dry.count(imports.NEW) == 300 and not dry.written
    assert await _count(database, models.Order) == 0
    assert await _count(database, models.Notification) == 0
    # Steps done on paper are done, steps past their date with nothing written down wait to be confirmed, and the
    # first working day sends reminders for what is coming but no escalation at all.
    assert sum(row.done for row in dry.rows) > 300 and sum(row.to_confirm for row in dry.rows) > 50
    assert dry.first_day == date(2026, 12, 7)
    assert dry.notices_of("reminder") > 0
    assert dry.notices_of("escalation") == 0

    # With bad rows and no --skip-bad, nothing is written.
    refused = await imports.import_orders(ctx, sheet, UNIT, forecast=planner.forecast)
    assert not refused.written and await _count(database, models.Order) == 0

    done = await imports.import_orders(ctx, sheet, UNIT, skip_bad=True, forecast=planner.forecast)
    assert done.written and done.count(imports.NEW) == 300 and len(done.bad) == 6
    assert await _count(database, models.Order) == 300
    assert await _count(database, models.AuditEntry, models.AuditEntry.action == "order.import") == 300
    async with database.session() as session:
        audit = await session.scalar(select(models.AuditEntry).where(models.AuditEntry.action == "order.import")
                                     .order_by(models.AuditEntry.id).limit(1))  # fmt: skip
        assert audit is not None and audit.actor == "una.unit@example.gov.uk"
        assert audit.details["file"] == "legal-tracker.xlsx" and audit.details["sha256"] == sheet.digest
        first = await session.scalar(select(models.Order).where(models.Order.council_reference == "LEG/00001"))
        assert first is not None and first.reference == next(r.reference for r in done.rows if r.row == 2)
    unconfirmed = await _count(database, models.Milestone, models.Milestone.state == "to_confirm")
    assert unconfirmed == sum(row.to_confirm for row in done.rows)

    # The first working day: the planner queues what the dry run said, and nothing for a step to confirm.
    assert await planner.plan() == sum(n.count for n in done.notices) == sum(n.count for n in dry.notices)
    async with database.session() as session:
        kinds = (await session.scalars(select(models.Notification.kind))).all()
        states = (await session.scalars(
            select(models.Milestone.state).join(models.Notification, models.Notification.milestone_id
                                                == models.Milestone.id))).all()  # fmt: skip
    assert "escalation" not in kinds and set(states) == {"open"}

    # The same file again changes nothing: no new order, no new audit line.
    again = await imports.import_orders(ctx, sheet, UNIT, skip_bad=True, forecast=planner.forecast)
    assert again.count(imports.UNCHANGED) == 300 and again.notices == ()
    assert await _count(database, models.Order) == 300
    assert await _count(database, models.AuditEntry, models.AuditEntry.action == "order.import") == 300

    # A changed row updates its order in place.
    book.rows[0]["court"] = "Family Court at Bradford"
    changed = read_sheet("legal-tracker-2.xlsx", book.xlsx(), _keys(ctx))
    updated = await imports.import_orders(ctx, changed, UNIT, skip_bad=True)
    assert updated.count(imports.UPDATED) == 1 and updated.count(imports.UNCHANGED) == 299
    assert await _count(database, models.Order) == 300
    async with database.session() as session:
        order = await session.scalar(select(models.Order).where(models.Order.council_reference == "LEG/00001"))
        assert order is not None and order.court == "Family Court at Bradford" and order.reference == first.reference
        line = await session.scalar(select(models.AuditEntry).where(models.AuditEntry.action == "order.import")
                                    .order_by(models.AuditEntry.id.desc()).limit(1))  # fmt: skip
        assert line is not None and line.details["outcome"] == "updated" and line.details["changed"] == ["court"]


async def test_the_unit_confirms_an_imported_step_done_or_outstanding(database: Database) -> None:
    ctx, planner = await _setup(database)
    book = caseload(ctx.procedures, TODAY.date(), count=20, bad=False)
    await imports.import_orders(ctx, read_sheet("t.csv", book.csv(), _keys(ctx)), UNIT)
    waiting = await confirm.checklist(ctx, UNIT)
    assert len(waiting) == await _count(database, models.Milestone, models.Milestone.state == "to_confirm") > 1
    with pytest.raises(NotAllowed):
        await confirm.checklist(ctx, Actor("Sam Worker", "sam.worker@example.gov.uk"))
    assert await _count(database, models.AuditEntry, models.AuditEntry.action == "step.confirm",
                        models.AuditEntry.outcome == "refused") == 1  # fmt: skip

    done, outstanding = waiting[0], waiting[1]
    await confirm.confirm_step(ctx, done.reference, done.key, UNIT, TODAY.date(), done.occurrence)
    await confirm.confirm_step(ctx, outstanding.reference, outstanding.key, UNIT, None, outstanding.occurrence)

    async def state(step: confirm.ToConfirm) -> str | None:
        async with database.session() as session:
            return await session.scalar(
                select(models.Milestone.state).join(models.Order, models.Order.id == models.Milestone.order_id)
                .where(models.Order.reference == step.reference, models.Milestone.key == step.key,
                       models.Milestone.occurrence == step.occurrence)
            )  # fmt: skip

    assert await state(done) == "done"
    assert await state(outstanding) == "open"
    async with database.session() as session:
        lines = (await session.scalars(select(models.AuditEntry.details)
                                       .where(models.AuditEntry.action == "step.confirm"))).all()  # fmt: skip
    assert len(await confirm.checklist(ctx, UNIT)) == len(waiting) - 2
    assert {line.get("outstanding", False) for line in lines} == {True, False}
    # The outstanding step is the planner's again: past its date, it escalates today.
    await planner.plan()
    async with database.session() as session:
        escalated = (await session.scalars(select(models.Notification.dedupe_key)
                                           .where(models.Notification.kind == "escalation"))).all()  # fmt: skip
    assert any(
        key.startswith(f"{outstanding.reference}:{outstanding.key}:{outstanding.occurrence}:") for key in escalated
    )


async def test_only_the_unit_imports_and_a_refusal_is_audited(database: Database) -> None:
    ctx, _ = await _setup(database)
    book = caseload(ctx.procedures, TODAY.date(), count=2, bad=False)
    with pytest.raises(NotAllowed, match="Only members of the Safeguarding Unit can import orders"):
        await imports.import_orders(ctx, read_sheet("t.csv", book.csv(), _keys(ctx)),
                                    Actor("Sam Worker", "sam.worker@example.gov.uk"))  # fmt: skip
    assert await _count(database, models.Order) == 0
    assert await _count(database, models.AuditEntry, models.AuditEntry.action == "orders.import",
                        models.AuditEntry.outcome == "refused") == 1  # fmt: skip


async def test_the_units_digest_lists_the_steps_it_has_to_confirm(database: Database) -> None:
    ctx, _ = await _setup(database)
    book = caseload(ctx.procedures, TODAY.date(), count=120, bad=False)
    await imports.import_orders(ctx, read_sheet("t.csv", book.csv(), _keys(ctx)), UNIT)
    waiting = await confirm.checklist(ctx, UNIT)
    assert len(waiting) > LINES, "more than a digest lists, so it says how many more"

    await Digest(ctx, WorkingHours(ctx.calendar)).plan()  # 09:00 on a Monday: the digest's morning
    async with database.session() as session:
        note = await session.scalar(select(models.Notification).where(models.Notification.dedupe_key
                                                                      == "digest:unit:2026-12-07"))  # fmt: skip
    assert note is not None and note.person_id is None and note.address is None, "for the unit's own channel"
    assert note.payload["to_confirm"] == len(waiting)
    message = digest_message(note.payload)
    assert message.headline.startswith(f"Good morning: {len(waiting)} imported steps to confirm")
    assert message.lines[0] == (f"{waiting[0].due:%d %b %Y}  {waiting[0].reference} ({waiting[0].child_initials})  "
                                f"{waiting[0].title}  [to confirm]")  # fmt: skip
    assert message.lines[-1] == f"… and {len(waiting) - LINES} more: the dashboard's import page lists them all."


EXTENDED = (
    "Council reference,Child ID,Child name,Order type,Date made,Procedure,Social worker,IRO,Extensions,"
    "first_cin_meeting\n"
    "LEG/1,C1,Jane Smith,SO,03/03/2026,wirral,sam.worker@example.gov.uk,Ira Reviewer,"
    "02/03/2028 decided 10/11/2026,20/03/2026\n"
)
# The same order a month on: another IRO, and the case summary written down since.
CHANGED = (
    "Council reference,Child ID,Child name,Order type,Date made,Procedure,Social worker,IRO,Extensions,"
    "first_cin_meeting,case_summary\n"
    "LEG/1,C1,Jane Smith,SO,03/03/2026,wirral,sam.worker@example.gov.uk,ian.other@example.gov.uk,"
    "02/03/2028 decided 10/11/2026,20/03/2026,16/03/2026\n"
)


async def test_extensions_events_and_the_iro_come_in_and_a_changed_row_adds_what_it_lacks(database: Database) -> None:
    ctx, _ = await _setup(database)
    first = await imports.import_orders(ctx, read_sheet("t.csv", EXTENDED.encode(), _keys(ctx)), UNIT)
    assert first.count(imports.NEW) == 1, first.bad
    async with database.session() as session:
        order = await session.scalar(select(models.Order).where(models.Order.council_reference == "LEG/1"))
        assert order is not None and order.last_day == date(2028, 3, 2)
        extension = await session.scalar(select(models.OrderExtension))
        assert extension is not None and (extension.previous_last_day, extension.decided_on) == (
            date(2027, 3, 2),
            date(2026, 11, 10),
        )
        events = (await session.execute(select(models.Event.kind, models.Event.occurred_on))).all()
        assert events == [("first_cin_meeting", date(2026, 3, 20))]
        iro = await session.scalar(
            select(models.Person.email).join(models.Allocation, models.Allocation.iro_id == models.Person.id)
        )
        assert iro == "ira.reviewer@example.gov.uk"

    again = await imports.import_orders(ctx, read_sheet("t2.csv", CHANGED.encode(), _keys(ctx)), UNIT)
    assert again.count(imports.UPDATED) == 1 and again.rows[0].reference == first.rows[0].reference
    async with database.session() as session:
        kinds = sorted((await session.scalars(select(models.Event.kind))).all())
        active = (await session.execute(select(models.Allocation.iro_id, models.Allocation.active)
                                        .order_by(models.Allocation.id))).all()  # fmt: skip
        line = await session.scalar(select(models.AuditEntry).where(models.AuditEntry.action == "order.import")
                                    .order_by(models.AuditEntry.id.desc()).limit(1))  # fmt: skip
    assert kinds == ["case_summary", "first_cin_meeting"]
    assert [flag for _, flag in active] == [False, True] and active[0][0] != active[1][0]
    assert line is not None and line.details["changed"] == ["event case_summary 2026-03-16", "iro"]
