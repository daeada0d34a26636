"""A recording Bot Framework connector on loopback: the SDK's real client sends to it, tests read it back."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from microsoft_agents.hosting.core import RestChannelServiceClientFactory

from bot.app import LocalConnections


@dataclass
class Sent:
    method: str
    conversation_id: str
    activity_id: str | None
    body: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.body.get("text") or "")

    @property
    def card(self) -> dict[str, Any] | None:
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                content: dict[str, Any] = attachment["content"]
                return content
        return None


@dataclass
class RecordingConnector:
    """Answers as Teams' connector service does; `members` maps a member id to what Teams says of them."""

    members: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    fail_with: int | None = None
    # Answers for the next posts, in turn: an HTTP status (with headers), or "hang" (never answer).
    script: deque[tuple[int, dict[str, str]] | str] = field(default_factory=deque)
    hung: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/")).rstrip("/") + "/"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation}/activities", self._post)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._post)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._put)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        return app

    def answer(self, *answers: int | tuple[int, dict[str, str]] | str) -> None:
        """Queue answers for the next posts: 429, (429, {"Retry-After": "7"}), 500, "hang"."""
        self.script.extend(a if isinstance(a, tuple | str) else (a, {}) for a in answers)

    async def _post(self, request: web.Request) -> web.Response:
        if self.fail_with:
            return web.json_response({"error": {"code": "Forbidden"}}, status=self.fail_with)
        if self.script:
            answer = self.script.popleft()
            if answer == "hang":
                self.hung += 1
                await asyncio.Event().wait()  # until the client gives up and the server closes
            assert isinstance(answer, tuple)
            status, headers = answer
            return web.json_response({"error": {"code": str(status)}}, status=status, headers=headers)
        body = await request.json()
        activity_id = f"activity-{next(self._ids)}"
        self.sent.append(Sent("POST", request.match_info["conversation"], activity_id, body))
        return web.json_response({"id": activity_id})

    async def _put(self, request: web.Request) -> web.Response:
        body = await request.json()
        activity_id = request.match_info["activity"]
        self.sent.append(Sent("PUT", request.match_info["conversation"], activity_id, body))
        return web.json_response({"id": activity_id})

    async def _member(self, request: web.Request) -> web.Response:
        member = self.members.get(request.match_info["member"])
        if member is None:
            return web.json_response({"error": {"code": "MemberNotFound"}}, status=404)
        return web.json_response(member)

    def to(self, conversation_id: str) -> list[Sent]:
        return [s for s in self.sent if s.conversation_id == conversation_id]

    def clear(self) -> None:
        self.sent.clear()


class TokenlessClients(RestChannelServiceClientFactory):
    """Outbound clients with no token: Microsoft's identity service is out of reach in tests."""

    def __init__(self) -> None:
        super().__init__(LocalConnections())  # type: ignore[arg-type]

    async def create_connector_client(self, context: Any, claims_identity: Any, service_url: str, audience: str,
                                      scopes: Any = None, use_anonymous: bool = False) -> Any:  # fmt: skip
        return await super().create_connector_client(context, claims_identity, service_url, audience, scopes, True)

    async def create_user_token_client(self, context: Any, claims_identity: Any, use_anonymous: bool = False) -> Any:
        return await super().create_user_token_client(context, claims_identity, True)


@asynccontextmanager
async def recording_connector() -> AsyncIterator[RecordingConnector]:
    """A RecordingConnector listening on loopback for as long as the block lasts."""
    recording = RecordingConnector()
    recording.server = TestServer(recording.app(), host="127.0.0.1")
    await recording.server.start_server()
    try:
        yield recording
    finally:
        await recording.server.close()
