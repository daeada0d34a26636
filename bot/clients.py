"""Outbound clients kept between turns, instead of the SDK's new pair on every turn.

The SDK's factory makes a connector client and a user-token client for every turn, each a new HTTP
session (with its own connection to Teams), then closes both when the turn ends; making each one also
searches every installed package for the SDK's version, for the User-Agent header. sobot keeps each
client for a few minutes and shares it between turns and proactive sends alike.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from typing import Any, cast

from microsoft_agents.activity import RoleTypes
from microsoft_agents.hosting.core import ChannelServiceClientFactoryBase, ClaimsIdentity, TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase, UserTokenClientBase

# A client carries the access token it was made with. MSAL hands out a token until about five minutes
# before it expires, so a client kept for four minutes never sends an expired one.
CLIENT_LIFETIME = 240.0
# A retired client may still be carrying a reply for a turn that began before it was retired.
RETIRED_GRACE = 60.0


class Kept:
    """A kept client as the SDK's turn sees it: all of it except close, which every turn calls on the way out."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    async def close(self) -> None:
        """Left open for the next turn; KeptClients closes it once it is retired."""


class KeptClients:
    """A ChannelServiceClientFactoryBase that keeps what another factory makes, per service, app and token scope."""

    def __init__(
        self,
        factory: ChannelServiceClientFactoryBase,
        *,
        lifetime: float = CLIENT_LIFETIME,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.factory = factory
        self.lifetime = lifetime
        self.clock = clock
        self._kept: dict[Hashable, tuple[float, Kept]] = {}
        self._retired: list[tuple[float, Any]] = []
        self._lock = asyncio.Lock()
        self.made = 0  # clients made by the wrapped factory, for the tests

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        recipient = context.activity.recipient if context is not None else None
        role = recipient.role if recipient is not None else None
        if role in (RoleTypes.agentic_identity, RoleTypes.agentic_user):
            # An agentic request's token belongs to that one agent instance or user: made afresh each time.
            return await self.factory.create_connector_client(
                context, claims_identity, service_url, audience, scopes, use_anonymous
            )
        key = ("connector", service_url, audience, _scopes(claims_identity, scopes), use_anonymous,
               _app_id(claims_identity), role == RoleTypes.connector_user)  # fmt: skip

        async def make() -> Any:
            return await self.factory.create_connector_client(
                context, claims_identity, service_url, audience, scopes, use_anonymous
            )

        return cast(ConnectorClientBase, await self._get(key, make))

    async def create_user_token_client(
        self, context: TurnContext, claims_identity: ClaimsIdentity, use_anonymous: bool = False
    ) -> UserTokenClientBase:
        if context.activity.is_agentic_request():
            return await self.factory.create_user_token_client(context, claims_identity, use_anonymous)
        key = ("user_token", _app_id(claims_identity), _scopes(claims_identity, None), use_anonymous)

        async def make() -> Any:
            return await self.factory.create_user_token_client(context, claims_identity, use_anonymous)

        return cast(UserTokenClientBase, await self._get(key, make))

    async def _get(self, key: Hashable, make: Callable[[], Any]) -> Kept:
        now = self.clock()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self.lifetime:
            return kept[1]
        async with self._lock:
            kept = self._kept.get(key)
            if kept is not None and now - kept[0] < self.lifetime:
                return kept[1]
            client = Kept(await make())
            self.made += 1
            self._kept[key] = (now, client)
            if kept is not None:
                self._retired.append((now, kept[1].client))
            await self._close_retired(now)
        return client

    async def _close_retired(self, now: float) -> None:
        due = [client for retired_at, client in self._retired if now - retired_at >= RETIRED_GRACE]
        self._retired = [(at, client) for at, client in self._retired if now - at < RETIRED_GRACE]
        for client in due:
            await client.close()

    async def close(self) -> None:
        """Close every client, kept or retired: when the service stops."""
        clients = [kept.client for _, kept in self._kept.values()] + [client for _, client in self._retired]
        self._kept, self._retired = {}, []
        for client in clients:
            await client.close()


def _app_id(claims_identity: ClaimsIdentity) -> str | None:
    return claims_identity.get_app_id()


def _scopes(claims_identity: ClaimsIdentity, scopes: list[str] | None) -> tuple[str, ...]:
    return tuple(scopes or claims_identity.get_token_scope())
