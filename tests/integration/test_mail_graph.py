"""The Graph backend against a loopback fake of Microsoft Graph that speaks its JSON, pages and throttles."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest

from mail.backends import NEEDS_ATTENTION, PROCESSED, Outgoing, RawMessage
from mail.backends.graph import GraphMailbox, GraphUnreachable, client_credentials
from tests.fakes import notification as shared_notification
from tests.fakes.graph import FakeGraph, serve_graph

UNIT = "safeguarding@council.example"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOi.fake.token"


def notification(number: int) -> bytes:
    return shared_notification(number, UNIT)


class Recorder:
    def __init__(self) -> None:
        self.token_calls = 0
        self.sleeps: list[float] = []

    def token(self) -> str:
        self.token_calls += 1
        return TOKEN

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    async with serve_graph(UNIT, TOKEN) as fake:
        yield fake


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def mailbox(graph: FakeGraph, recorder: Recorder) -> GraphMailbox:
    return GraphMailbox(UNIT, recorder.token, base_url=graph.base_url, sleep=recorder.sleep)


async def test_lists_the_whole_inbox_read_or_not_oldest_first_across_pages(
    graph: FakeGraph, mailbox: GraphMailbox
) -> None:
    opened = graph.deliver(notification(99), minutes_ago=120, is_read=True)  # opened in Outlook first
    ids = [graph.deliver(notification(n), minutes_ago=60 - n) for n in range(5)]

    found = await mailbox.new_messages()

    assert [m.mailbox_id for m in found] == [opened, *ids]
    pages = [url for method, url in graph.requests if method == "GET" and "/mailFolders/inbox/messages" in url]
    assert len(pages) == 3  # 6 messages at 2 a page
    assert all("isRead" not in url for url in pages)
    assert "%24skiptoken" in pages[-1] or "$skiptoken" in pages[-1]


async def test_mime_round_trips_byte_for_byte(graph: FakeGraph, mailbox: GraphMailbox) -> None:
    raw = notification(1)
    graph.deliver(raw)

    [message] = await mailbox.new_messages()

    assert message.mime == raw
    assert not graph.messages[message.mailbox_id].is_read  # reading is not marking read


async def test_mark_read_leaves_it_in_the_list(graph: FakeGraph, mailbox: GraphMailbox) -> None:
    graph.deliver(notification(1))
    [message] = await mailbox.new_messages()

    await mailbox.mark_read(message)

    assert graph.messages[message.mailbox_id].is_read
    assert [m.mailbox_id for m in await mailbox.new_messages()] == [message.mailbox_id]


async def test_move_creates_the_folder_once_then_reuses_it(graph: FakeGraph, mailbox: GraphMailbox) -> None:
    graph.deliver(notification(1), minutes_ago=2)
    graph.deliver(notification(2), minutes_ago=1)
    first, second = await mailbox.new_messages()

    await mailbox.move(first, PROCESSED)
    await mailbox.move(second, PROCESSED)

    assert list(graph.folders.values()).count(PROCESSED) == 1
    assert [m.mime for m in graph.in_folder(PROCESSED)] == [first.mime, second.mime]
    assert [m for m in graph.requests if m == ("POST", f"/v1.0/users/{UNIT}/mailFolders")] == [
        ("POST", f"/v1.0/users/{UNIT}/mailFolders")
    ]
    assert await mailbox.new_messages() == []


async def test_move_finds_an_existing_folder(graph: FakeGraph, mailbox: GraphMailbox) -> None:
    graph.folders["AAMkAGI2-existing"] = NEEDS_ATTENTION
    graph.deliver(notification(1))
    [message] = await mailbox.new_messages()

    await mailbox.move(message, NEEDS_ATTENTION)

    assert [m.folder_id for m in graph.in_folder(NEEDS_ATTENTION)] == ["AAMkAGI2-existing"]
    assert not any(method == "POST" and url.endswith("/mailFolders") for method, url in graph.requests)


async def test_send_posts_mime_with_threading_headers(graph: FakeGraph, mailbox: GraphMailbox) -> None:
    await mailbox.send(
        Outgoing(
            ("worker@council.example",),
            "Re: New Supervision Order 1",
            "Missing: Date made",
            "<p>Missing: Date made</p>",
            in_reply_to="order-1@council.example",
        )
    )

    [sent] = graph.sent
    assert sent["To"] == "worker@council.example"
    assert sent["From"] == UNIT
    assert sent["Subject"] == "Re: New Supervision Order 1"
    assert sent["In-Reply-To"] == "<order-1@council.example>"
    assert sent["References"] == "<order-1@council.example>"
    assert sent.get_body(("plain",)).get_content().strip() == "Missing: Date made"  # type: ignore[union-attr]
    assert "<p>Missing: Date made</p>" in sent.get_body(("html",)).get_content()  # type: ignore[union-attr]


async def test_429_waits_for_retry_after_then_succeeds(
    graph: FakeGraph, mailbox: GraphMailbox, recorder: Recorder
) -> None:
    graph.deliver(notification(1))
    graph.busy.append((429, "7"))

    found = await mailbox.new_messages()

    assert len(found) == 1
    assert recorder.sleeps == [7.0]


async def test_503_retried_a_bounded_number_of_times(graph: FakeGraph, recorder: Recorder) -> None:
    mailbox = GraphMailbox(UNIT, recorder.token, base_url=graph.base_url, sleep=recorder.sleep, max_retries=2)
    graph.busy.extend([(503, "1")] * 5)

    with pytest.raises(GraphUnreachable):
        await mailbox.new_messages()

    assert recorder.sleeps == [1.0, 1.0]
    assert isinstance(GraphUnreachable("x"), OSError)


async def test_token_provider_is_asked_and_its_token_sent(graph: FakeGraph, recorder: Recorder) -> None:
    mailbox = GraphMailbox(UNIT, recorder.token, base_url=graph.base_url, sleep=recorder.sleep)
    await mailbox.new_messages()
    assert recorder.token_calls >= 1

    refused = GraphMailbox(UNIT, lambda: "wrong", base_url=graph.base_url, sleep=recorder.sleep)
    # A refusal, as a refused IMAP login is: no message's fault, and no other request of the mailbox does better.
    with pytest.raises(PermissionError, match="401"):
        await refused.new_messages()


async def test_server_gone_is_an_os_error(recorder: Recorder) -> None:
    async with serve_graph(UNIT, TOKEN) as fake:
        base_url = fake.base_url
    mailbox = GraphMailbox(UNIT, recorder.token, base_url=base_url, sleep=recorder.sleep)

    with pytest.raises(ConnectionError):
        await mailbox.mark_read(RawMessage("AAMkAGI2-msg-0000-AAA=", b""))


async def test_two_moves_at_once_create_one_folder(graph: FakeGraph, mailbox: GraphMailbox) -> None:
    graph.deliver(notification(1), minutes_ago=2)
    graph.deliver(notification(2), minutes_ago=1)
    first, second = await mailbox.new_messages()

    await asyncio.gather(mailbox.move(first, NEEDS_ATTENTION), mailbox.move(second, NEEDS_ATTENTION))

    assert list(graph.folders.values()).count(NEEDS_ATTENTION) == 1
    assert len(graph.in_folder(NEEDS_ATTENTION)) == 2


async def test_two_sobots_making_the_folder_at_once_both_file_into_it(graph: FakeGraph, recorder: Recorder) -> None:
    graph.deliver(notification(1), minutes_ago=2)
    graph.deliver(notification(2), minutes_ago=1)
    one, other = (GraphMailbox(UNIT, recorder.token, base_url=graph.base_url, sleep=recorder.sleep) for _ in range(2))
    first, second = await one.new_messages()

    await asyncio.gather(one.move(first, PROCESSED), other.move(second, PROCESSED))

    assert list(graph.folders.values()).count(PROCESSED) == 1 and len(graph.in_folder(PROCESSED)) == 2


class FakeEntra:
    """Microsoft Entra's token endpoint as msal's http_client seam sees it: tenant metadata, then a token."""

    def __init__(self) -> None:
        self.token_requests: list[dict[str, str]] = []

    def get(self, url: str, **kwargs: object) -> SimpleNamespace:
        assert url == "https://login.microsoftonline.com/tenant-1/v2.0/.well-known/openid-configuration", url
        base = "https://login.microsoftonline.com/tenant-1"
        return _response(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{base}/v2.0",
            }
        )

    def post(self, url: str, data: dict[str, str] | None = None, **kwargs: object) -> SimpleNamespace:
        assert url == "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token", url
        self.token_requests.append(dict(data or {}))
        return _response({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": TOKEN})

    def close(self) -> None:
        pass


def _response(body: dict[str, object]) -> SimpleNamespace:
    return SimpleNamespace(
        status_code=200,
        text=json.dumps(body),
        headers={"Content-Type": "application/json"},
        raise_for_status=lambda: None,
    )


async def test_msal_client_credentials_token_reaches_graph(graph: FakeGraph, recorder: Recorder) -> None:
    entra = FakeEntra()
    provider = client_credentials("tenant-1", "client-1", "secret-1", http_client=entra)
    mailbox = GraphMailbox(UNIT, provider, base_url=graph.base_url, sleep=recorder.sleep)
    graph.deliver(notification(1))

    [message] = await mailbox.new_messages()
    await mailbox.mark_read(message)

    [request] = entra.token_requests  # msal's cache answers the second call
    assert request["grant_type"] == "client_credentials"
    assert request["scope"] == "https://graph.microsoft.com/.default"
    assert request["client_id"] == "client-1"
    assert graph.messages[message.mailbox_id].is_read
