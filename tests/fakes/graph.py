"""A loopback fake of Microsoft Graph's mail API: one user's mailbox in memory, in Graph's own JSON shapes."""

from __future__ import annotations

import base64
import itertools
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiohttp import web
from aiohttp.typedefs import Handler

INBOX_ID = "AAMkAGI2-inbox"
PAGE_SIZE = 2


@dataclass
class StoredMessage:
    id: str
    folder_id: str
    mime: bytes
    received: datetime
    is_read: bool = False


@dataclass
class FakeGraph:
    """The state a test arranges and then reads back: messages, folders, what was sent, what was asked."""

    user: str
    token: str
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=lambda: {INBOX_ID: "Inbox"})
    sent: list[EmailMessage] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    busy: list[tuple[int, str]] = field(default_factory=list)
    """Answers to give before any other, e.g. (429, "7"): the status and its Retry-After."""
    base_url: str = ""
    accepts: Callable[[str], bool] | None = None
    """Which bearer tokens are good, when not only `token` (e.g. those a fake Entra issued)."""
    on_send: Callable[[EmailMessage], None] | None = None
    """Called with each email sendMail accepted, before Graph answers 202: a test's moment to kill the sender."""
    failing: tuple[int, str] | None = None
    """(status, code): every request answered with that error, as a Graph that is down or refuses the app."""
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def deliver(self, mime: bytes, *, minutes_ago: int = 0, is_read: bool = False) -> str:
        message_id = self._new_id("msg")
        received = datetime(2026, 3, 3, 9, 0, tzinfo=UTC) - timedelta(minutes=minutes_ago)
        self.messages[message_id] = StoredMessage(message_id, INBOX_ID, mime, received, is_read)
        return message_id

    def sends(self) -> Counter[str]:
        """How many times each Message-ID was accepted for sending: a mail system drops a second copy by it."""
        return Counter(str(message["Message-ID"]) for message in self.sent)

    def in_folder(self, name: str) -> list[StoredMessage]:
        ids = [folder_id for folder_id, display in self.folders.items() if display == name]
        return [m for m in self.messages.values() if m.folder_id in ids]

    def _new_id(self, kind: str) -> str:
        # Graph's ids are long base64url strings ending in '='; these keep that shape.
        return f"AAMkAGI2-{kind}-{next(self._ids):04d}-AAA="

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        users = "/v1.0/users/{user}"
        app.router.add_get(users + "/mailFolders/inbox/messages", self._list_inbox)
        app.router.add_get(users + "/messages/{id}/$value", self._mime)
        app.router.add_patch(users + "/messages/{id}", self._update)
        app.router.add_post(users + "/messages/{id}/move", self._move)
        app.router.add_get(users + "/mailFolders", self._list_folders)
        app.router.add_post(users + "/mailFolders", self._create_folder)
        app.router.add_post(users + "/sendMail", self._send_mail)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, str(request.rel_url)))
        if self.failing is not None:
            status, code = self.failing
            return _error(status, code, "The service is not available." if status >= 500 else "Access is denied.")
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer != self.token and not (self.accepts is not None and self.accepts(bearer)):
            return _error(401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
        if self.busy:
            status, retry_after = self.busy.pop(0)
            response = _error(status, "TooManyRequests", "Please retry again later.")
            response.headers["Retry-After"] = retry_after
            return response
        if request.match_info.get("user", "").lower() != self.user.lower():
            return _error(404, "ErrorInvalidUser", f"The requested user '{request.match_info.get('user')}' is invalid.")
        return await handler(request)

    async def _list_inbox(self, request: web.Request) -> web.Response:
        query = request.query
        unread_only = query.get("$filter") == "isRead eq false"
        if query.get("$filter") not in (None, "isRead eq false"):
            return _error(400, "BadRequest", f"fake Graph does not understand $filter={query.get('$filter')}")
        found = [m for m in self.messages.values() if m.folder_id == INBOX_ID and not (unread_only and m.is_read)]
        if query.get("$orderby") == "receivedDateTime":
            found.sort(key=lambda m: m.received)
        else:
            found.sort(key=lambda m: m.received, reverse=True)  # Graph's default for a message list
        skip = int(query.get("$skiptoken", "0"))
        page = found[skip : skip + PAGE_SIZE]
        body: dict[str, object] = {
            "@odata.context": f"{self.base_url}/$metadata#users('{self.user}')/mailFolders('inbox')/messages(id)",
            "value": [{"@odata.etag": f'W/"{m.id}"', "id": m.id} for m in page],
        }
        if skip + PAGE_SIZE < len(found):
            next_query = {k: v for k, v in query.items() if k != "$skiptoken"} | {"$skiptoken": str(skip + PAGE_SIZE)}
            body["@odata.nextLink"] = str(request.url.with_query(next_query))
        return web.json_response(body)

    def _message(self, request: web.Request) -> StoredMessage | None:
        return self.messages.get(request.match_info["id"])

    async def _mime(self, request: web.Request) -> web.Response:
        message = self._message(request)
        if message is None:
            return _not_found()
        return web.Response(body=message.mime, content_type="text/plain")

    async def _update(self, request: web.Request) -> web.Response:
        message = self._message(request)
        if message is None:
            return _not_found()
        changes = await request.json()
        if "isRead" in changes:
            message.is_read = bool(changes["isRead"])
        return web.json_response(self._resource(message))

    async def _move(self, request: web.Request) -> web.Response:
        message = self._message(request)
        if message is None:
            return _not_found()
        destination = (await request.json()).get("destinationId")
        if destination not in self.folders:
            return _error(404, "ErrorInvalidIdMalformed", "Id is malformed.")
        # A move gives the message a new id in Graph, as it does here.
        del self.messages[message.id]
        message.id = self._new_id("msg")
        message.folder_id = destination
        self.messages[message.id] = message
        return web.json_response(self._resource(message), status=201)

    async def _list_folders(self, request: web.Request) -> web.Response:
        wanted = request.query.get("$filter")
        match = re.fullmatch(r"displayName eq '((?:[^']|'')*)'", wanted or "")
        if wanted is not None and match is None:
            return _error(400, "BadRequest", f"fake Graph does not understand $filter={wanted}")
        name = match.group(1).replace("''", "'") if match else None
        value = [
            {"id": folder_id, "displayName": display, "parentFolderId": "AAMkAGI2-root", "unreadItemCount": 0}
            for folder_id, display in self.folders.items()
            if name is None or display == name
        ]
        return web.json_response({"@odata.context": f"{self.base_url}/$metadata#mailFolders", "value": value})

    async def _create_folder(self, request: web.Request) -> web.Response:
        name = (await request.json()).get("displayName")
        if not name:
            return _error(400, "ErrorInvalidRequest", "displayName is required.")
        if name in self.folders.values():
            return _error(409, "ErrorFolderExists", "A folder with the specified name already exists.")
        folder_id = self._new_id("folder")
        self.folders[folder_id] = name
        return web.json_response(
            {"id": folder_id, "displayName": name, "parentFolderId": "AAMkAGI2-root", "childFolderCount": 0},
            status=201,
        )

    async def _send_mail(self, request: web.Request) -> web.Response:
        if request.content_type != "text/plain":
            return _error(400, "ErrorInvalidRequest", "fake Graph only takes MIME (text/plain) sendMail")
        try:
            mime = base64.b64decode(await request.read(), validate=True)
        except ValueError:
            return _error(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.")
        parsed = message_from_bytes(mime, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.sent.append(parsed)
        if self.on_send is not None:
            self.on_send(parsed)
        return web.Response(status=202)

    def _resource(self, message: StoredMessage) -> dict[str, object]:
        return {
            "id": message.id,
            "isRead": message.is_read,
            "parentFolderId": message.folder_id,
            "receivedDateTime": message.received.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _not_found() -> web.Response:
    return _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")


@asynccontextmanager
async def serve_graph(user: str, token: str, fake: FakeGraph | None = None) -> AsyncIterator[FakeGraph]:
    """Runs the fake on 127.0.0.1 on a free port; `fake.base_url` is what GraphMailbox takes."""
    fake = fake or FakeGraph(user=user, token=token)
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        fake.base_url = f"http://127.0.0.1:{port}/v1.0"
        yield fake
    finally:
        await runner.cleanup()
