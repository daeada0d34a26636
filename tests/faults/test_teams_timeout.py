"""Teams' connector not answering in time: the order saved once and said so, the failure logged bare, service on."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientSession, ClientTimeout, web
from aiohttp.test_utils import TestServer
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient
from sqlalchemy import func, select

from bot import messenger
from handlers import people
from handlers.context import CLI
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from sobot.app import Services, create_app
from sobot.settings import load_settings
from storage import Database, models
from tests.connector import RecordingConnector, TokenlessClients
from tests.faults.teams import CHILD_BIRTH, CHILD_NAME, STAFF, Caller, activity, new_order

pytestmark = pytest.mark.postgres

# The connector client's timeout, short here; production's is the SDK's own.
CLIENT_TIMEOUT = 1.0
# How long a turn may wait on a post to another conversation, short here (bot.messenger.POST_SECONDS).
POST_SECONDS = 0.5
CHANNEL = "19:unit-channel@thread.tacv2"


@dataclass
class StallingConnector(RecordingConnector):
    """A recording connector that, for the conversations in `stalled`, takes the request and never answers."""

    stalled: set[str] = field(default_factory=set)
    unanswered: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def _post(self, request: web.Request) -> web.Response:
        conversation = request.match_info["conversation"]
        if conversation in self.stalled:
            self.unanswered.append(conversation)
            await self.release.wait()
        return await super()._post(request)


class ImpatientClients(TokenlessClients):
    """The SDK's connector client, with a client timeout of CLIENT_TIMEOUT seconds."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: list[ClientSession] = []

    async def create_connector_client(self, context: Any, claims_identity: Any, service_url: str, audience: str,
                                      scopes: Any = None, use_anonymous: bool = False) -> Any:  # fmt: skip
        session = ClientSession(base_url=service_url, timeout=ClientTimeout(total=CLIENT_TIMEOUT))
        self.sessions.append(session)
        return TeamsConnectorClient(endpoint=service_url, token="", session=session)


@pytest.fixture
async def connector() -> AsyncIterator[StallingConnector]:
    stalling = StallingConnector()
    stalling.server = TestServer(stalling.app(), host="127.0.0.1")
    await stalling.server.start_server()
    yield stalling
    stalling.release.set()
    await stalling.server.close()


async def serving(postgres_url: str, clients: TokenlessClients) -> tuple[TestServer, Database]:
    database = Database.from_url(postgres_url)
    settings = load_settings({}, database_url=postgres_url)
    services = Services(settings, FixedClock(datetime(2026, 3, 10, 10, tzinfo=UTC)), database, load_builtin(),
                        WorkingCalendar())  # fmt: skip
    await people.import_people(services.context(), STAFF, CLI)
    server = TestServer(create_app(services, run_jobs=False, environ={}, client_factory=clients), host="127.0.0.1")
    await server.start_server()
    return server, database


@pytest.fixture
async def bot(postgres_url: str) -> AsyncIterator[tuple[str, Database]]:
    clients = ImpatientClients()
    server, database = await serving(postgres_url, clients)
    try:
        yield str(server.make_url("")).rstrip("/"), database
    finally:
        await server.close()
        for session in clients.sessions:
            await session.close()


@pytest.fixture
async def sdk_clients_bot(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[str, Database]]:
    """The SDK's connector clients as they come (their session waits five minutes); posts elsewhere bounded short."""
    monkeypatch.setattr(messenger, "POST_SECONDS", POST_SECONDS)
    server, database = await serving(postgres_url, TokenlessClients())
    try:
        yield str(server.make_url("")).rstrip("/"), database
    finally:
        await server.close()


async def orders_saved(database: Database) -> list[tuple[str, int, int]]:
    """Each order, with its count of timeline steps and of audit lines saying it was created."""
    async with database.session() as db:
        rows = (await db.execute(select(models.Order.id, models.Order.reference).order_by(models.Order.id))).all()
        found = []
        for order_id, reference in rows:
            steps = await db.scalar(select(func.count()).where(models.Milestone.order_id == order_id))
            audit = models.AuditEntry
            created = await db.scalar(
                select(func.count()).where(audit.action == "order.create", audit.order_reference == reference)
            )
            found.append((reference, int(steps or 0), int(created or 0)))
        return found


async def submit_with_the_channel_silent(
    session: ClientSession, url: str, connector: StallingConnector, child: str
) -> tuple[str, float]:
    """Una makes the unit's channel the allocation channel, Teams stops answering there, and Sam saves an order:
    what Sam was told, and how long it took."""
    una, sam = Caller(session, url, connector, "una"), Caller(session, url, connector, "sam")
    assert "now gets" in await una.say("use this channel for allocations", CHANNEL)
    connector.stalled.add(CHANNEL)
    began = time.monotonic()
    saved = await sam.click("order.submit", new_order(child))
    return saved, time.monotonic() - began


async def saved_once_and_the_timeout_logged(database: Database, caplog: pytest.LogCaptureFixture) -> None:
    """The order stands once, whole and audited once, and the card that never arrived is logged as a timeout."""
    assert await orders_saved(database) == [("SO-2026-0001", 10, 1)]
    warned = [r for r in caplog.records if "SO-2026-0001" in r.getMessage() and r.levelno >= logging.WARNING]
    assert warned and "TimeoutError" in warned[0].getMessage()


async def test_the_allocation_card_not_reaching_teams_still_saves_the_order_once_and_says_so(
    bot: tuple[str, Database], connector: StallingConnector, caplog: pytest.LogCaptureFixture
) -> None:
    url, database = bot
    caplog.set_level(logging.INFO)
    async with ClientSession() as session:
        sam = Caller(session, url, connector, "sam")
        saved, took = await submit_with_the_channel_silent(session, url, connector, "C2001")
        assert connector.unanswered == [CHANNEL]  # the card was sent, and Teams never answered
        assert "Saved SO-2026-0001" in saved and "nothing was saved" not in saved
        assert took < CLIENT_TIMEOUT * 2  # one wait; no apology sent into the same silence

        # Told it was saved, Sam has no reason to try again; looking, Sam finds it once. The service goes on.
        mine = await sam.say("my orders")
        assert mine.count("SO-2026-0001") == 1 and "SO-2026-0002" not in mine
        assert "new order" in await sam.say("help")

    await saved_once_and_the_timeout_logged(database, caplog)
    assert CHILD_NAME not in caplog.text and CHILD_BIRTH not in caplog.text


async def test_a_silent_channel_keeps_the_submit_waiting_only_as_long_as_a_post_may_take(
    sdk_clients_bot: tuple[str, Database], connector: StallingConnector, caplog: pytest.LogCaptureFixture
) -> None:
    url, database = sdk_clients_bot
    async with ClientSession() as session:
        saved, took = await submit_with_the_channel_silent(session, url, connector, "C2003")
    assert connector.unanswered == [CHANNEL]
    assert "Saved SO-2026-0001" in saved
    assert POST_SECONDS <= took < POST_SECONDS * 4, "the connector's own five minutes are not waited for"
    await saved_once_and_the_timeout_logged(database, caplog)


async def test_an_answer_that_cannot_reach_teams_leaves_the_order_saved_once(
    bot: tuple[str, Database], connector: StallingConnector, caplog: pytest.LogCaptureFixture
) -> None:
    url, database = bot
    caplog.set_level(logging.INFO)
    async with ClientSession() as session:
        sam = Caller(session, url, connector, "sam")
        assert "new order" in await sam.say("help")
        connector.stalled.add("a:personal-sam")

        # The form sent as a message (Action.Submit, as older Teams clients do): saved, then the answer stalls.
        submit = activity(connector.url, "sam", type="message", value={"verb": "order.submit", **new_order("C2002")})
        began = time.monotonic()
        async with session.post(f"{url}/api/messages", json=submit) as response:
            status = response.status
        took = time.monotonic() - began
        assert connector.unanswered == ["a:personal-sam"]
        assert status in (200, 202)  # Teams is not told to deliver the turn again
        assert took < CLIENT_TIMEOUT * 2  # one wait; no apology sent into the same silence

        # Teams answers again: Sam, having heard nothing, looks before trying again, and finds it saved once.
        connector.stalled.clear()
        mine = await sam.say("my orders")
        assert mine.count("SO-2026-0001") == 1 and "SO-2026-0002" not in mine

    assert await orders_saved(database) == [("SO-2026-0001", 10, 1)]
    warned = [r for r in caplog.records if "did not reach Teams" in r.getMessage()]
    assert warned and warned[0].levelno == logging.WARNING and "TimeoutError" in warned[0].getMessage()
    assert CHILD_NAME not in caplog.text and CHILD_BIRTH not in caplog.text
