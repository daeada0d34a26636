"""A Teams client for the tests: activities as Teams sends them to the app, and what the bot answered."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from handlers import people
from handlers.context import CLI, Context
from rules.calendar import WorkingCalendar
from rules.clock import Clock
from rules.procedures import load_builtin
from sobot.app import Services, create_app
from sobot.settings import load_settings
from storage import Database
from tests.connector import RecordingConnector

_ids = itertools.count(1)
T = TypeVar("T", bound="Teams")


class Teams:
    """Sends activities as Teams would, and reads back what the bot answered."""

    def __init__(self, client: TestClient[Any, Any], connector: RecordingConnector, database: Database) -> None:
        self.client = client
        self.connector = connector
        self.database = database

    def activity(self, who: str, conversation: str | None = None, **fields: Any) -> dict[str, Any]:
        channel = conversation is not None and conversation.startswith("19:")
        return {
            "id": f"incoming-{next(_ids)}",
            "channelId": "msteams",
            "serviceUrl": self.connector.url,
            "from": {"id": f"29:{who}", "name": who, "aadObjectId": f"entra-{who}"},
            "recipient": {"id": "28:sobot", "name": "sobot"},
            "conversation": {"id": conversation or f"a:personal-{who}",
                             "conversationType": "channel" if channel else "personal", "tenantId": "tenant"},
            **fields,
        }  # fmt: skip

    async def say(self, who: str, text: str, conversation: str | None = None) -> list[dict[str, Any]]:
        """What the bot answered a chat line: every activity it sent in reply."""
        before = len(self.connector.sent)
        activity = self.activity(who, conversation, type="message", text=text)
        response = await self.client.post("/api/messages", json=activity)
        assert response.status in (200, 202), await response.text()
        return [s.body for s in self.connector.sent[before:]]

    async def invoke(
        self, who: str, verb: str, data: dict[str, Any], conversation: str | None = None
    ) -> dict[str, Any]:
        """The whole invoke response to an Action.Execute button."""
        value = {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
        activity = self.activity(who, conversation, type="invoke", name="adaptiveCard/action", value=value)
        response = await self.client.post("/api/messages", json=activity)
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    async def click(self, who: str, verb: str, data: dict[str, Any], conversation: str | None = None) -> dict[str, Any]:
        """The card an Action.Execute button is answered with."""
        card: dict[str, Any] = (await self.invoke(who, verb, data, conversation))["value"]
        return card

    async def count(self, model: Any, *where: Any) -> int:
        async with self.database.session() as session:
            return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@asynccontextmanager
async def teams_app(
    database: Database,
    database_url: str,
    connector: RecordingConnector,
    clock: Clock,
    staff: str,
    kind: type[T],
) -> AsyncIterator[tuple[T, Context]]:
    """The app on a test server with these people in its directory, its jobs not running, and a Teams client of
    `kind` (Teams, or a test's own kind of it) for it; and the app's context."""
    services = Services(load_settings({}, database_url=database_url), clock, database, load_builtin(),
                        WorkingCalendar())  # fmt: skip
    ctx = services.context()
    await people.import_people(ctx, staff, CLI)
    client = TestClient(TestServer(create_app(services, run_jobs=False, environ={})))
    await client.start_server()
    try:
        yield kind(client, connector, database), ctx
    finally:
        await client.close()
