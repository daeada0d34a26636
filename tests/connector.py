"""A recording Bot Framework connector on loopback: the SDK's real client sends to it, tests read it back."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import msal
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
    fail_with: int | None = None  # every post and update answered with this status
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
        if self.fail_with:
            return web.json_response({"error": {"code": str(self.fail_with)}}, status=self.fail_with)
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


def refusing_url() -> str:
    """A loopback service URL where nothing listens: Teams' connector down, every connection refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


class EntraRefuses:
    """Microsoft Entra's token endpoint, at msal's http_client seam, refusing the bot's secret as Entra does."""

    TENANT = "https://login.microsoftonline.com/tenant-1"

    def __init__(self) -> None:
        self.token_requests = 0

    def get(self, url: str, **kwargs: object) -> _EntraAnswer:
        if url.endswith("/common/discovery/instance"):  # the cloud's aliases, which msal asks for first
            discovery = f"{self.TENANT}/v2.0/.well-known/openid-configuration"
            aliases = ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"]
            cloud = {"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net",
                     "aliases": aliases}  # fmt: skip
            answer = {"tenant_discovery_endpoint": discovery, "api-version": "1.1", "metadata": [cloud]}
            return _EntraAnswer(200, answer)
        return _EntraAnswer(200, {"token_endpoint": f"{self.TENANT}/oauth2/v2.0/token",
                                  "authorization_endpoint": f"{self.TENANT}/oauth2/v2.0/authorize",
                                  "issuer": f"{self.TENANT}/v2.0"})  # fmt: skip

    def post(self, url: str, **kwargs: object) -> _EntraAnswer:
        self.token_requests += 1
        return _EntraAnswer(401, {"error": "invalid_client", "error_codes": [7000215],
                                  "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the "
                                  "secret being sent in the request is the client secret value, not the client "
                                  "secret ID, for a secret added to app 'bot-app-id'."})  # fmt: skip

    def close(self) -> None:
        pass


@dataclass
class _EntraAnswer:
    status_code: int
    body: dict[str, Any]

    @property
    def text(self) -> str:
        return json.dumps(self.body)

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json"}

    def raise_for_status(self) -> None:
        pass


class EntraTokens:
    """The bot's client-credentials token from msal, failing as the SDK's MsalAuth does when Entra refuses."""

    def __init__(self, entra: EntraRefuses) -> None:
        self.app = msal.ConfidentialClientApplication("bot-app-id", client_credential="not-the-secret",
                                                      authority=EntraRefuses.TENANT, http_client=entra)  # fmt: skip

    async def get_access_token(self, resource_url: str, scopes: list[str], force_refresh: bool = False) -> str:
        answer = await asyncio.to_thread(self.app.acquire_token_for_client, scopes=scopes)
        if not answer.get("access_token"):
            raise ValueError(f"Failed to acquire token. {answer}")
        return str(answer["access_token"])


BOT_SCOPE = "https://api.botframework.com/.default"


class RefusedTokenClients(RestChannelServiceClientFactory):
    """Outbound clients that ask Entra for the bot's token, as production does, and are refused it."""

    def __init__(self, entra: EntraRefuses) -> None:
        connections = LocalConnections()
        tokens = EntraTokens(entra)
        # Every connection's token is the bot's own, from Entra.
        connections.get_token_provider = lambda *_, **__: tokens  # type: ignore[assignment,method-assign,return-value]
        super().__init__(connections)  # type: ignore[arg-type]

    async def create_connector_client(self, context: Any, claims_identity: Any, service_url: str, audience: str,
                                      scopes: Any = None, use_anonymous: bool = False) -> Any:  # fmt: skip
        scopes = scopes or [BOT_SCOPE]
        return await super().create_connector_client(context, claims_identity, service_url, audience, scopes, False)


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
