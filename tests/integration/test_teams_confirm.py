"""The unit confirms, in Teams chat, a step an import brought in past its date: done with its date, or outstanding."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from handlers import imports
from handlers.context import CLI
from handlers.import_sheet import read_sheet
from rules.clock import FixedClock
from storage import Database, models
from tests.connector import RecordingConnector
from tests.integration.test_teams import STAFF
from tests.teams import Teams, teams_app

SHEET = (
    "Council reference,Child ID,Child name,Order type,Date made,Procedure,Social worker\n"
    "LEG/1,C1001,Jane Mary Smith,SO,02/02/2026,wirral,sam.worker@example.gov.uk\n"
)


@pytest.fixture
async def teams(database: Database, database_url: str, connector: RecordingConnector) -> AsyncIterator[Teams]:
    clock = FixedClock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    async with teams_app(database, database_url, connector, clock, STAFF, Teams) as (made, ctx):
        keys = {key for p in ctx.procedures.values() for key in p.event_keys()}
        await imports.import_orders(ctx, read_sheet("tracker.csv", SHEET.encode(), keys), CLI)
        yield made


async def _state(database: Database, key: str) -> str | None:
    async with database.read() as session:
        return await session.scalar(select(models.Milestone.state).where(models.Milestone.key == key))


async def test_the_unit_confirms_imported_steps_in_chat(teams: Teams, database: Database) -> None:
    assert await _state(database, "inform_safeguarding_unit") == "to_confirm"
    refused = await teams.say("sam", "confirm SO-2026-0001 inform safeguarding unit done 04/02/2026")
    assert "Only members of the Safeguarding Unit can confirm an imported step" in refused[-1]["text"]
    assert await _state(database, "inform_safeguarding_unit") == "to_confirm"

    unsure = await teams.say("una", "confirm SO-2026-0001 inform safeguarding unit")
    assert "Say done (with its date) or outstanding" in unsure[-1]["text"]
    done = await teams.say("una", "confirm SO-2026-0001 inform safeguarding unit done 04/02/2026")
    assert "Confirmed on SO-2026-0001: Tell the Safeguarding Unit" in done[-1]["text"]
    assert "done 04 February 2026" in done[-1]["text"]
    assert await _state(database, "inform_safeguarding_unit") == "done"

    outstanding = await teams.say("una", "confirm SO-2026-0001 case summary outstanding")
    assert "Confirmed outstanding on SO-2026-0001" in outstanding[-1]["text"]
    assert await _state(database, "case_summary") == "open"
    again = await teams.say("una", "confirm SO-2026-0001 case summary outstanding")
    assert "has nothing to confirm on SO-2026-0001" in again[-1]["text"]
