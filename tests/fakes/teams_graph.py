"""A loopback fake of Microsoft Graph's Teams app installation API for users, in Graph's own JSON shapes.

It answers what sobot asks to reach someone who never opened the bot: install the organisation's catalogue app
in their personal scope (POST /users/{id}/teamwork/installedApps, 201 with no body, 409 when it is there
already), find that installation (GET …/installedApps?$expand=teamsApp&$filter=teamsApp/id eq '…'), and the
one-to-one chat it made (GET …/installedApps/{id}/chat). It also answers each user's Outlook automatic replies
(GET /users/{id}/mailboxSettings/automaticRepliesSetting, with MailboxSettings.Read), as Graph's v1.0 writes that
resource: its status and, when scheduled, its start and end as dateTimeTimeZone in the zone the user set.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from aiohttp.typedefs import Handler

PERMISSION = "TeamsAppInstallation.ReadWriteSelfForUser.All"
MAILBOX_SETTINGS = "MailboxSettings.Read"


@dataclass
class GraphUser:
    id: str  # the Entra object id
    upn: str
    installed: str | None = None  # the installation id, once the app is installed for them
    chat_id: str | None = None
    replies: str = "disabled"  # their automatic replies: disabled, alwaysEnabled or scheduled
    # Scheduled, from and to: the wall-clock time and the zone as Outlook keeps them ("GMT Standard Time", "UTC").
    replies_from: tuple[str, str] | None = None
    replies_to: tuple[str, str] | None = None

    def away(self, start: str, end: str, zone: str = "GMT Standard Time") -> None:
        """Outlook's automatic replies scheduled from `start` to `end` (ISO wall-clock times in `zone`)."""
        self.replies, self.replies_from, self.replies_to = "scheduled", (start, zone), (end, zone)


@dataclass
class FakeTeamsGraph:
    """The tenant as Graph sees it: its users, the catalogue app, and what was asked."""

    token: str
    catalog_app_id: str
    users: list[GraphUser] = field(default_factory=list)
    roles: tuple[str, ...] = (PERMISSION, MAILBOX_SETTINGS)  # the application permissions the token carries
    requests: list[tuple[str, str]] = field(default_factory=list)
    installs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    base_url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def user(self, id: str, upn: str) -> GraphUser:
        made = GraphUser(id, upn)
        self.users.append(made)
        return made

    def _find(self, key: str) -> GraphUser | None:
        return next((u for u in self.users if key in (u.id, u.upn) or key.lower() == u.upn.lower()), None)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        user = "/v1.0/users/{user}/teamwork/installedApps"
        app.router.add_post(user, self._install)
        app.router.add_get(user, self._list)
        app.router.add_get(user + "/{installation}/chat", self._chat)
        app.router.add_get("/v1.0/users/{user}/mailboxSettings/automaticRepliesSetting", self._replies)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, str(request.rel_url)))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "InvalidAuthenticationToken", "Access token is empty.")
        if "/mailboxSettings/" in request.path:
            if MAILBOX_SETTINGS not in self.roles:
                return _error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        elif PERMISSION not in self.roles:
            return _error(403, "Forbidden", "Missing role permissions on the request. API requires one of "
                          f"'{PERMISSION}, TeamsAppInstallation.ReadWriteForUser.All'. Roles on the request "
                          f"'{', '.join(self.roles)}'.")  # fmt: skip
        if self._find(request.match_info["user"]) is None:
            return _error(404, "NotFound", f"Failed to get user {request.match_info['user']}.")
        return await handler(request)

    async def _install(self, request: web.Request) -> web.Response:
        found = self._find(request.match_info["user"])
        assert found is not None
        body = await request.json()
        self.installs.append((found.id, body))
        wanted = {f"{host}/v1.0/appCatalogs/teamsApps/{self.catalog_app_id}"
                  for host in ("https://graph.microsoft.com", self.base_url)}  # fmt: skip
        if body.get("teamsApp@odata.bind") not in wanted:
            return _error(404, "NotFound", "The definition for app was not found in the org-wide catalog.")
        if found.installed is not None:
            return _error(409, "Conflict", "App is already installed for this user.")
        raw = f"{found.id}##{self.catalog_app_id}".encode()
        found.installed = base64.b64encode(raw).decode()
        found.chat_id = f"19:{found.id}_{next(self._ids):04d}@unq.gbl.spaces"
        return web.Response(status=201)

    async def _list(self, request: web.Request) -> web.Response:
        found = self._find(request.match_info["user"])
        assert found is not None
        wanted = f"teamsApp/id eq '{self.catalog_app_id}'"
        if request.query.get("$filter") != wanted or request.query.get("$expand") != "teamsApp":
            return _error(400, "BadRequest", "Only the filter on the catalogue app is answered here.")
        value = []
        if found.installed is not None:
            app = {"id": self.catalog_app_id, "externalId": "sobot-manifest", "displayName": "sobot",
                   "distributionMethod": "organization"}  # fmt: skip
            value.append({"id": found.installed, "teamsApp": app})
        context = f"https://graph.microsoft.com/v1.0/$metadata#users('{found.id}')/teamwork/installedApps(teamsApp())"
        return web.json_response({"@odata.context": context, "value": value})

    async def _chat(self, request: web.Request) -> web.Response:
        found = self._find(request.match_info["user"])
        assert found is not None
        if found.installed is None or request.match_info["installation"] != found.installed:
            return _error(404, "NotFound", "The app installation was not found.")
        return web.json_response({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#chats/$entity",
                                  "id": found.chat_id})  # fmt: skip

    async def _replies(self, request: web.Request) -> web.Response:
        found = self._find(request.match_info["user"])
        assert found is not None

        def when(wall: tuple[str, str] | None) -> dict[str, str]:
            # Graph always writes the schedule, in the zone it was set in, with seven places of seconds.
            day, zone = wall or ("2026-01-01T00:00:00", "UTC")
            return {"dateTime": f"{day}.0000000", "timeZone": zone}

        context = (
            f"https://graph.microsoft.com/v1.0/$metadata#users('{found.id}')/mailboxSettings/automaticRepliesSetting"
        )
        return web.json_response({
            "@odata.context": context, "status": found.replies, "externalAudience": "all",
            "internalReplyMessage": "<html><body>I am away.</body></html>",
            "externalReplyMessage": "<html><body>I am away.</body></html>",
            "scheduledStartDateTime": when(found.replies_from), "scheduledEndDateTime": when(found.replies_to),
        })  # fmt: skip


def _error(status: int, code: str, message: str) -> web.Response:
    inner = {"date": "2026-03-05T09:00:00", "request-id": "7d0b8f2a-0000-4000-8000-000000000000",
             "client-request-id": "7d0b8f2a-0000-4000-8000-000000000000"}  # fmt: skip
    return web.json_response({"error": {"code": code, "message": message, "innerError": inner}}, status=status)


@asynccontextmanager
async def teams_graph(token: str, catalog_app_id: str) -> AsyncIterator[FakeTeamsGraph]:
    """A FakeTeamsGraph listening on loopback for as long as the block lasts."""
    fake = FakeTeamsGraph(token, catalog_app_id)
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.base_url = str(server.make_url("/")).rstrip("/")
    try:
        yield fake
    finally:
        await server.close()
