"""The security suites' two ways in: the real app in local mode on loopback, answering into a recording connector,
and the handlers themselves, called as each person with no channel in between."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from handlers import people
from handlers.context import CLI, Actor, Context
from handlers.directory import PersonView, identify
from handlers.errors import RequestError
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


class Handlers:
    """The operations in handlers/, asked directly as each persona (by the handle the directory's Entra id ends in)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.database = ctx.database

    async def person(self, who: str) -> PersonView | None:
        return await identify(self.ctx, f"entra-{who}", None)

    async def actor(self, who: str) -> Actor:
        """The persona as an operation sees them; a stranger is someone at the council the directory does not know."""
        person = await self.person(who)
        return person.actor if person is not None else Actor(who.title(), f"{who}@example.gov.uk")

    async def attempt(self, call: Awaitable[Any]) -> str:
        """What the operation said: nothing when it did what was asked, else its refusal or problem."""
        try:
            await call
        except RequestError as error:
            return str(error)
        return ""

    async def count(self, model: Any, *where: Any) -> int:
        async with self.database.session() as session:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.fixture
def direct(services: Services) -> Handlers:
    return Handlers(services.context())
