"""Absences from Teams chat through the real Agents SDK pipeline, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from rules.clock import FixedClock
from storage import Database, models
from tests.connector import RecordingConnector
from tests.teams import Teams, teams_app

STAFF = """name,email,roles,team,manager_email,entra_id
Rita Lead,rita@example.gov.uk,team_manager,IROs,,entra-rita
Megan Bowen,megan@example.gov.uk,iro,IROs,rita@example.gov.uk,entra-megan
Jane Smith,jane@example.gov.uk,iro,IROs,rita@example.gov.uk,entra-jane
Sam Worker,sam@example.gov.uk,social_worker,North,,entra-sam
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 8, 10, 10, 0, tzinfo=UTC))  # Mon 10 Aug 2026


@pytest.fixture
async def teams(
    database: Database, database_url: str, connector: RecordingConnector, clock: FixedClock
) -> AsyncIterator[Teams]:
    async with teams_app(database, database_url, connector, clock, STAFF, Teams) as (made, _ctx):
        yield made


async def said(teams: Teams, who: str, line: str) -> str:
    replies = await teams.say(who, line)
    assert replies, line
    return str(replies[-1]["text"])


async def test_megan_says_she_is_away_and_who_covers_then_that_she_is_back(teams: Teams, clock: FixedClock) -> None:
    answer = await said(teams, "megan", "away 14/08/2026 to 28/08/2026, cover Jane Smith")
    assert answer.startswith("Recorded: Megan Bowen is away Fri 14 Aug 2026 to Fri 28 Aug 2026; Jane Smith covers.")
    assert "Megan Bowen is away Fri 14 Aug 2026" in await said(teams, "sam", "who is away")
    async with teams.database.read() as session:
        [stored] = (await session.scalars(select(models.Absence))).all()
        audit = (await session.scalars(select(models.AuditEntry.actor).where(
            models.AuditEntry.action == "absence.record"))).all()  # fmt: skip
    assert (stored.first_day, stored.last_day, stored.recorded_by) == (date(2026, 8, 14), date(2026, 8, 28),
                                                                      "megan@example.gov.uk")  # fmt: skip
    assert list(audit) == ["megan@example.gov.uk"]

    clock.set(datetime(2026, 8, 20, 9, 0, tzinfo=UTC))
    answer = await said(teams, "megan", "i'm back")
    assert answer == "Welcome back: your absence now ends Wed 19 Aug 2026, and what is sent comes to you again."
    assert await said(teams, "megan", "cancel away") == "You are not recorded away today or later: nothing to cancel."


async def test_what_cannot_be_recorded_gets_its_sentence_in_chat(teams: Teams) -> None:
    assert "cannot cover their own absence" in await said(teams, "megan", "away 14/08/2026 to 28/08/2026, cover Megan")
    assert "there is nobody called 'Zara' in the directory" in await said(
        teams, "megan", "away 14/08/2026 to 28/08/2026, cover Zara"
    )
    assert "is before the first" in await said(teams, "megan", "away 28/08/2026 to 14/08/2026")
    refused = await said(teams, "sam", "away for Megan Bowen 14/08/2026 to 28/08/2026")
    assert refused == ("You can record only your own absence, or that of someone you manage; ask their manager or "
                       "the Safeguarding Unit.")  # fmt: skip
    # Her manager may record it for her.
    assert "Megan Bowen is away" in await said(teams, "rita", "away for Megan Bowen 14/08/2026 to 28/08/2026")
    async with teams.database.read() as session:
        rows = (await session.execute(select(models.AuditEntry.actor, models.AuditEntry.outcome).where(
            models.AuditEntry.action == "absence.record").order_by(models.AuditEntry.id))).all()  # fmt: skip
    assert [tuple(row) for row in rows] == [("sam@example.gov.uk", "refused"), ("rita@example.gov.uk", "ok")]
