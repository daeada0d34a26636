"""What is overdue reads the same milestones everywhere: chat's "overdue", `sobot orders list --overdue`, the digest."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime

from handlers import orders, people, queries
from handlers.context import CLI, Context
from handlers.directory import identify
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database

STAFF = """name,email,roles,team,manager_email
Tess Manager,tess@example.gov.uk,team_manager,North,
Sam Worker,sam@example.gov.uk,social_worker,North,tess@example.gov.uk
Una Unit,una@example.gov.uk,safeguarding_unit,Safeguarding,
"""


async def test_chat_the_command_line_and_the_digest_agree_on_what_is_overdue(database: Database) -> None:
    clock = FixedClock(datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    ctx = Context(database, load_builtin(), WorkingCalendar(), clock, "wirral")
    await people.import_people(ctx, STAFF, CLI)
    for number, (made, procedure) in enumerate([(date(2026, 1, 5), "wirral"), (date(2026, 1, 5), "camden"),
                                                (date(2025, 12, 1), "sussex")], start=1):  # fmt: skip
        await orders.create_order(ctx, orders.NewOrder(f"C{number}", "Ann Other", "supervision", made,
                                                       procedure=procedure, social_worker_email="sam@example.gov.uk"),
                                  CLI)  # fmt: skip
    await orders.record_event(ctx, "SO-2026-0001", "inform_safeguarding_unit", date(2026, 1, 6), CLI)
    clock.set(datetime(2026, 3, 20, 10, 0, tzinfo=UTC))

    unit = await identify(ctx, None, "una@example.gov.uk")
    manager = await identify(ctx, None, "tess@example.gov.uk")
    assert unit is not None and manager is not None
    in_chat = Counter(s.reference for s in await queries.due_steps(ctx, unit, until=None, overdue_only=True))
    listed = {s.reference: s.overdue_count for s in await queries.order_summaries(ctx, overdue_only=True)}
    digest = await queries.digests(ctx, ctx.calendar.add_working_days(ctx.today(), 10))
    in_digest = Counter(s.reference for s in digest[manager.id] if s.overdue)
    assert dict(in_chat) == listed == dict(in_digest)
    assert len(listed) == 3 and sum(listed.values()) >= 5
