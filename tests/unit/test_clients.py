"""Outbound clients are kept between turns, renewed before their token can expire, and closed once retired."""

from __future__ import annotations

from typing import Any

from microsoft_agents.activity import Activity, ChannelAccount, RoleTypes
from microsoft_agents.hosting.core import ClaimsIdentity

from bot.clients import CLIENT_LIFETIME, RETIRED_GRACE, KeptClients


class Client:
    def __init__(self, n: int) -> None:
        self.n = n
        self.closed = False

    async def close(self) -> None:
        self.closed = True


class Factory:
    """Makes numbered clients, as the SDK's factory makes one per call."""

    def __init__(self) -> None:
        self.made: list[Client] = []

    async def create_connector_client(self, *args: Any, **kwargs: Any) -> Client:
        self.made.append(Client(len(self.made)))
        return self.made[-1]

    async def create_user_token_client(self, *args: Any, **kwargs: Any) -> Client:
        return await self.create_connector_client()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Turn:
    """As much of a TurnContext as the factory reads: the activity."""

    def __init__(self, role: str | None = None) -> None:
        self.activity = Activity(type="message", recipient=ChannelAccount(id="28:bot", role=role))


CLAIMS = ClaimsIdentity({})


async def connector(kept: KeptClients, service_url: str = "https://smba.example/", role: str | None = None) -> Any:
    return await kept.create_connector_client(Turn(role), CLAIMS, service_url, "aud")  # type: ignore[arg-type]


async def test_turns_share_a_client_that_the_turns_own_close_leaves_open() -> None:
    factory = Factory()
    kept = KeptClients(factory, clock=Clock())  # type: ignore[arg-type]
    first = await connector(kept)
    await first.close()  # what the SDK does at the end of every turn
    second = await connector(kept)
    assert len(factory.made) == 1
    assert second.client is first.client is factory.made[0]
    assert not factory.made[0].closed
    assert second.n == 0  # everything but close reaches the client itself


async def test_each_service_url_and_the_user_token_client_have_their_own() -> None:
    factory = Factory()
    kept = KeptClients(factory, clock=Clock())  # type: ignore[arg-type]
    a = await connector(kept, "https://smba.example/emea/")
    b = await connector(kept, "https://smba.example/amer/")
    token = await kept.create_user_token_client(Turn(), CLAIMS)  # type: ignore[arg-type]
    assert len({id(a.client), id(b.client), id(token.client)}) == 3
    assert await connector(kept, "https://smba.example/emea/") is a


async def test_a_client_is_renewed_after_its_lifetime_and_the_old_one_closed_after_a_grace() -> None:
    factory, clock = Factory(), Clock()
    kept = KeptClients(factory, clock=clock)  # type: ignore[arg-type]
    old = await connector(kept)
    clock.now += CLIENT_LIFETIME - 1
    assert await connector(kept) is old
    clock.now += 1
    new = await connector(kept)
    assert new.client is not old.client
    assert not old.client.closed, "a turn that began before the renewal may still be using it"
    clock.now += RETIRED_GRACE
    await connector(kept, "https://smba.example/other/")  # any later making of a client tidies up
    assert old.client.closed
    assert not new.client.closed


async def test_agentic_requests_get_their_own_client_every_time() -> None:
    factory = Factory()
    kept = KeptClients(factory, clock=Clock())  # type: ignore[arg-type]
    first = await connector(kept, role=RoleTypes.agentic_user)
    second = await connector(kept, role=RoleTypes.agentic_user)
    assert first is not second and len(factory.made) == 2


async def test_close_closes_kept_and_retired_clients() -> None:
    factory, clock = Factory(), Clock()
    kept = KeptClients(factory, clock=clock)  # type: ignore[arg-type]
    await connector(kept)
    clock.now += CLIENT_LIFETIME
    await connector(kept)
    await kept.create_user_token_client(Turn(), CLAIMS)  # type: ignore[arg-type]
    await kept.close()
    assert [client.closed for client in factory.made] == [True, True, True]
    await connector(kept)
    assert len(factory.made) == 4, "after close nothing is kept"
