"""The security suites' bot: the real app in local mode on loopback, answering into a recording connector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer

from handlers import people
from handlers.context import CLI
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from sobot.app import Services, create_app
from sobot.settings import load_settings
from storage import Database
from tests.connector import RecordingConnector
from tests.teams import Teams

# One person for each role the directory knows, and for the per-order roles one linked to the order and one not.
STAFF = """name,email,roles,team,manager_email,entra_id
Tess Manager,tess.manager@example.gov.uk,team_manager,North,,entra-tess
Tom Manager,tom.manager@example.gov.uk,team_manager,South,,entra-tom
Sam Worker,sam.worker@example.gov.uk,social_worker,North,tess.manager@example.gov.uk,entra-sam
Sue Worker,sue.worker@example.gov.uk,social_worker,South,tom.manager@example.gov.uk,entra-sue
Ian Reviewer,ian.reviewer@example.gov.uk,iro,IRO service,,entra-ian
Ivy Reviewer,ivy.reviewer@example.gov.uk,iro,IRO service,,entra-ivy
Una Unit,una.unit@example.gov.uk,safeguarding_unit,Safeguarding Unit,,entra-una
Sean Service,sean.service@example.gov.uk,service_manager,North,,entra-sean
Hana Head,hana.head@example.gov.uk,head_of_service,North,,entra-hana
Lee Legal,lee.legal@example.gov.uk,legal,Legal,,entra-lee
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))


@pytest.fixture
async def services(database: Database, database_url: str, clock: FixedClock) -> Services:
    settings = load_settings({}, database_url=database_url, mail_backend="none")
    built = Services(settings, clock, database, load_builtin(), WorkingCalendar())
    await people.import_people(built.context(), STAFF, CLI)
    return built


@pytest.fixture
async def teams(services: Services, connector: RecordingConnector) -> AsyncIterator[Teams]:
    client = TestClient(TestServer(create_app(services, run_jobs=False, environ={}), host="127.0.0.1"))
    await client.start_server()
    yield Teams(client, connector, services.database)
    await client.close()
