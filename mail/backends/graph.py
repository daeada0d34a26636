"""The unit's mailbox in Exchange Online, reached through Microsoft Graph with an app-only token.

Sending posts the message as base64 MIME to sendMail (Graph's MIME format, Content-Type text/plain).
Graph's JSON sendMail refuses In-Reply-To and References in internetMessageHeaders, and createReply needs
the Graph id of the message answered, which changes when it is moved; MIME keeps every threading header
as `mail.compose.to_mime` writes it, the same as the other backends.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from yarl import URL

from mail.backends import NEEDS_ATTENTION, PROCESSED, Outgoing, RawMessage
from mail.compose import to_mime

DEFAULT_BASE_URL = "https://graph.microsoft.com/v1.0"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
RETRIED_STATUSES = frozenset({429, 503, 504})

TokenProvider = Callable[[], str]
"""Returns a current bearer token. Called in a worker thread, so it may block (msal does)."""

Sleeper = Callable[[float], Awaitable[None]]


class GraphUnreachable(ConnectionError):
    """Graph could not be reached, or kept answering 'too busy' after every retry; nothing was changed."""


class GraphError(Exception):
    """Graph answered a request with an error that retrying will not fix (a permission, a missing id)."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"Graph answered {method} {url} with {status}: {body[:500]}")
        self.status = status
        self.body = body


class GraphAccessRefused(GraphError, PermissionError):
    """Graph refused the token or the mailbox (401, 403): no request of this mailbox will do better until the app's
    credentials or permissions are put right."""


def client_credentials(
    tenant_id: str,
    client_id: str,
    client_secret: str,
    *,
    authority_host: str = "https://login.microsoftonline.com",
    http_client: Any = None,
    scope: str = GRAPH_SCOPE,
) -> TokenProvider:
    """An app-only token provider (client credentials) for the app registration given `Mail.ReadWrite` and
    `Mail.Send` application permissions. msal caches the token and renews it when it nears expiry.

    msal fetches its tenant's metadata when the application is made, so that happens on the first call (in the
    worker thread GraphMailbox calls it from), not here. `http_client` is msal's own (requests-like) seam.
    """
    import msal

    lock = threading.Lock()
    made: list[msal.ConfidentialClientApplication] = []

    def token() -> str:
        with lock:
            if not made:
                made.append(
                    msal.ConfidentialClientApplication(
                        client_id,
                        client_credential=client_secret,
                        authority=f"{authority_host.rstrip('/')}/{tenant_id}",
                        # The authority is the settings' own host and tenant: nothing to look up about it first.
                        instance_discovery=False,
                        http_client=http_client,
                    )
                )
            result = made[0].acquire_token_for_client(scopes=[scope])
        if "access_token" not in result:
            raise PermissionError(
                f"Microsoft Entra refused a token ({scope}) for app {client_id} in tenant {tenant_id}: "
                f"{result.get('error')}: {result.get('error_description')}"
            )
        return str(result["access_token"])

    return token


class GraphMailbox:
    """The mailbox of one user (the unit's shared mailbox, by id or UPN), read and sent as that user."""

    def __init__(
        self,
        user: str,
        token_provider: TokenProvider,
        *,
        base_url: str = DEFAULT_BASE_URL,
        sleep: Sleeper = asyncio.sleep,
        max_retries: int = 4,
        timeout: float = 30.0,
        address: str | None = None,
    ) -> None:
        self.user = user
        self.address = address or user  # the From of what is sent; give it when `user` is an object id
        self._token_provider = token_provider
        self._base = URL(base_url.rstrip("/")) / "users" / user
        self._sleep = sleep
        self._max_retries = max_retries
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._folder_ids: dict[str, str] = {}
        self._folder_lock = asyncio.Lock()

    async def new_messages(self) -> list[RawMessage]:
        # Every message in the inbox, read or not: isRead is what people in Outlook set, not sobot's record.
        async with self._session() as session:
            token = await self._token()
            url: URL | None = (self._base / "mailFolders" / "inbox" / "messages").with_query(
                {"$select": "id", "$orderby": "receivedDateTime", "$top": "50"}
            )
            ids: list[str] = []
            while url is not None:
                page = await self._json(session, token, "GET", url)
                ids.extend(str(item["id"]) for item in page.get("value", []))
                next_link = page.get("@odata.nextLink")
                url = URL(next_link, encoded=True) if next_link else None
            found = []
            for message_id in ids:
                mime = await self._request(session, token, "GET", self._base / "messages" / message_id / "$value")
                found.append(RawMessage(message_id, mime))
            return found

    async def mark_read(self, message: RawMessage) -> None:
        async with self._session() as session:
            token = await self._token()
            await self._json(
                session, token, "PATCH", self._base / "messages" / message.mailbox_id, json={"isRead": True}
            )

    async def move(self, message: RawMessage, folder: str) -> None:
        async with self._session() as session:
            token = await self._token()
            destination = await self._folder_id(session, token, folder)
            url = self._base / "messages" / message.mailbox_id / "move"
            await self._json(session, token, "POST", url, json={"destinationId": destination})

    async def send(self, message: Outgoing) -> None:
        mime = to_mime(message, self.address)
        body = base64.b64encode(mime.as_bytes())
        async with self._session() as session:
            token = await self._token()
            await self._request(
                session, token, "POST", self._base / "sendMail", data=body, headers={"Content-Type": "text/plain"}
            )

    async def _folder_id(self, session: aiohttp.ClientSession, token: str, name: str) -> str:
        """The id of a top-level folder, created when missing, remembered for this mailbox's life."""
        if name not in (PROCESSED, NEEDS_ATTENTION):
            raise ValueError(f"sobot only files mail into {PROCESSED!r} or {NEEDS_ATTENTION!r}, not {name!r}")
        async with self._folder_lock:  # two moves at once must not both create the folder
            if name in self._folder_ids:
                return self._folder_ids[name]
            quoted = name.replace("'", "''")
            url = (self._base / "mailFolders").with_query({"$filter": f"displayName eq '{quoted}'", "$select": "id"})
            found = (await self._json(session, token, "GET", url)).get("value", [])
            if found:
                self._folder_ids[name] = str(found[0]["id"])
            else:
                try:
                    created = await self._json(
                        session, token, "POST", self._base / "mailFolders", json={"displayName": name}
                    )
                except GraphError as error:
                    if error.status != 409:
                        raise
                    # Another sobot on this mailbox made it first (ErrorFolderExists): use that one.
                    created = (await self._json(session, token, "GET", url)).get("value", [{}])[0]
                self._folder_ids[name] = str(created["id"])
        return self._folder_ids[name]

    def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=self._timeout)

    async def _token(self) -> str:
        return await asyncio.to_thread(self._token_provider)

    async def _json(
        self, session: aiohttp.ClientSession, token: str, method: str, url: URL, **kwargs: Any
    ) -> dict[str, Any]:
        body = await self._request(session, token, method, url, **kwargs)
        if not body:
            return {}
        parsed = json.loads(body)
        return parsed if isinstance(parsed, dict) else {}

    async def _request(
        self,
        session: aiohttp.ClientSession,
        token: str,
        method: str,
        url: URL,
        *,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> bytes:
        """One Graph call; 429, 503 and 504 are retried after Retry-After (or a doubling pause), a few times."""
        all_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        for attempt in range(self._max_retries + 1):
            try:
                async with session.request(method, url, headers=all_headers, **kwargs) as response:
                    body = await response.read()
                    if response.status < 300:
                        return body
                    if response.status not in RETRIED_STATUSES:
                        refused = GraphAccessRefused if response.status in (401, 403) else GraphError
                        raise refused(method, str(url), response.status, body.decode("utf-8", "replace"))
                    if attempt == self._max_retries:
                        raise GraphUnreachable(
                            f"Graph still answered {response.status} to {method} {url} "
                            f"after {self._max_retries} retries"
                        )
                    pause = _retry_after(response.headers.get("Retry-After"), default=2.0**attempt)
            except (aiohttp.ClientError, TimeoutError) as error:
                raise GraphUnreachable(f"Graph could not be reached for {method} {url}: {error!r}") from error
            await self._sleep(pause)
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt


def _retry_after(value: str | None, *, default: float) -> float:
    """Graph sends Retry-After in seconds; an absent or unreadable one falls back to `default`."""
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default
