"""Who each role is for an order, on SQLite and PostgreSQL; a role with nobody in it is audited."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from handlers import orders, people
from handlers.context import CLI, Actor, Context
from handlers.recipients import recipients
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database, models

STAFF = """name,email,roles,team,manager_email
Tess Manager,tess@example.gov.uk,team_manager,North,
Sam Worker,sam@example.gov.uk,social_worker,North,tess@example.gov.uk
Ian Reviewer,ian@example.gov.uk,iro,IROs,
Una Unit,una@example.gov.uk,safeguarding_unit,Safeguarding,
Uma Unit,uma@example.gov.uk,safeguarding_unit,Safeguarding,
Nell North,nell@example.gov.uk,service_manager,North,
Steve South,steve@example.gov.uk,service_manager,South,
Hope Head,hope@example.gov.uk,head_of_service,Children's Services,
"""


async def test_each_role_resolves_for_the_order(database: Database) -> None:
    ctx = Context(database, load_builtin(), WorkingCalendar(), FixedClock(datetime(2026, 3, 10, tzinfo=UTC)), "wirral")
    await people.import_people(ctx, STAFF, CLI)
    await orders.create_order(ctx, orders.NewOrder("C1", "Jane Smith", "supervision", date(2026, 3, 3),
                                                   social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip

    async def emails(role: str, legal: str | None = None) -> list[str]:
        return [r.email for r in await recipients(ctx, "SO-2026-0001", role, legal)]

    assert await emails("social_worker") == ["sam@example.gov.uk"]
    assert await emails("team_manager") == ["tess@example.gov.uk"]  # the social worker's manager
    assert await emails("safeguarding_unit") == ["uma@example.gov.uk", "una@example.gov.uk"]
    assert await emails("service_manager") == ["nell@example.gov.uk"]  # the one in the social worker's team
    assert await emails("head_of_service") == ["hope@example.gov.uk"]  # none in the team: every holder
    assert await emails("legal", "legal@example.gov.uk") == ["legal@example.gov.uk"]

    # No IRO yet, and no receiving authority in the directory: nobody, and that is audited.
    assert await emails("iro") == [] and await emails("receiving_authority") == []
    await orders.allocate_iro(ctx, "SO-2026-0001", "Ian Reviewer", Actor("Una Unit", "una@example.gov.uk"))
    assert await emails("iro") == ["ian@example.gov.uk"]
    async with database.session() as session:
        nobody = (await session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "notify.nobody")
                                        .order_by(models.AuditEntry.id))).all()  # fmt: skip
    assert [(n.order_reference, n.details["role"], n.actor) for n in nobody] == [
        ("SO-2026-0001", "iro", "system"),
        ("SO-2026-0001", "receiving_authority", "system"),
    ]
