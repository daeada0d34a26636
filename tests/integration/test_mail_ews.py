"""The EWS backend, with the real exchangelib, against a loopback fake EWS server that answers its SOAP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from mail.backends import NEEDS_ATTENTION, PROCESSED, Outgoing, RawMessage
from mail.backends.ews import EwsMailbox, EwsUnreachable
from tests.fakes import notification as shared_notification
from tests.fakes.ews import FakeEws, serve_ews

UNIT = "safeguarding@council.example"
USER = r"COUNCIL\svc-sobot"
PASSWORD = "correct horse battery staple"


def notification(number: int) -> bytes:
    return shared_notification(number, UNIT)


@pytest.fixture
async def ews() -> AsyncIterator[FakeEws]:
    async with serve_ews(UNIT, USER, PASSWORD) as fake:
        yield fake


@pytest.fixture
def mailbox(ews: FakeEws) -> EwsMailbox:
    return EwsMailbox(
        UNIT, service_endpoint=ews.endpoint, username=USER, password=PASSWORD, auth_type="basic", max_wait=1
    )


async def test_lists_the_whole_inbox_read_or_not_oldest_first_with_mime(ews: FakeEws, mailbox: EwsMailbox) -> None:
    opened = notification(99)
    opened_id = ews.deliver(opened, minutes_ago=60, is_read=True)  # opened in Outlook first
    raws = [notification(n) for n in range(3)]
    ids = [ews.deliver(raw, minutes_ago=10 - n) for n, raw in enumerate(raws)]

    found = await mailbox.new_messages()

    assert [m.mailbox_id.split(" ")[0] for m in found] == [opened_id, *ids]
    assert [m.mime for m in found] == [opened, *raws]
    assert not any(ews.items[i].is_read for i in ids)
    assert "ResolveNames" not in ews.operations and "ConvertId" not in ews.operations  # no probing
    assert {"FindItem", "GetItem"} <= set(ews.operations)


async def test_mark_read(ews: FakeEws, mailbox: EwsMailbox) -> None:
    item_id = ews.deliver(notification(1))
    [message] = await mailbox.new_messages()

    await mailbox.mark_read(message)

    assert ews.items[item_id].is_read
    assert "UpdateItem" in ews.operations
    assert [m.mime for m in await mailbox.new_messages()] == [message.mime]  # read, and still the inbox's


async def test_move_creates_the_folder_once(ews: FakeEws, mailbox: EwsMailbox) -> None:
    ews.deliver(notification(1), minutes_ago=2)
    ews.deliver(notification(2), minutes_ago=1)
    first, second = await mailbox.new_messages()
    await mailbox.mark_read(first)  # the changekey in `first` is stale now, as it is in the poller

    await mailbox.move(first, PROCESSED)
    await mailbox.move(second, PROCESSED)

    assert [f.name for f in ews.folders.values()].count(PROCESSED) == 1
    assert ews.operations.count("CreateFolder") == 1
    assert [i.mime for i in ews.in_folder(PROCESSED)] == [first.mime, second.mime]
    assert await mailbox.new_messages() == []


async def test_two_sobots_making_the_folder_at_once_both_file_into_it(ews: FakeEws, mailbox: EwsMailbox) -> None:
    ews.deliver(notification(1), minutes_ago=2)
    ews.deliver(notification(2), minutes_ago=1)
    other = EwsMailbox(UNIT, service_endpoint=ews.endpoint, username=USER, password=PASSWORD, auth_type="basic",
                       max_wait=1)  # fmt: skip
    first, second = await mailbox.new_messages()

    await asyncio.gather(mailbox.move(first, PROCESSED), other.move(second, PROCESSED))

    assert [f.name for f in ews.folders.values()].count(PROCESSED) == 1
    assert [i.mime for i in ews.in_folder(PROCESSED)] == [first.mime, second.mime]


async def test_move_finds_an_existing_folder(ews: FakeEws, mailbox: EwsMailbox) -> None:
    top = ews.folder("msgfolderroot")
    assert top is not None
    ews._add_folder(NEEDS_ATTENTION, top.id)
    ews.deliver(notification(1))
    [message] = await mailbox.new_messages()

    await mailbox.move(message, NEEDS_ATTENTION)

    assert len(ews.in_folder(NEEDS_ATTENTION)) == 1
    assert "CreateFolder" not in ews.operations


async def test_send_carries_both_bodies_and_threading(ews: FakeEws, mailbox: EwsMailbox) -> None:
    await mailbox.send(
        Outgoing(
            ("worker@council.example",),
            "Re: New Supervision Order 1",
            "Missing: Date made",
            "<p>Missing: Date made</p>",
            in_reply_to="order-1@council.example",
            references=("order-0@council.example",),
        )
    )

    [sent] = ews.sent
    assert sent["To"] == "worker@council.example"
    assert sent["From"] == UNIT
    assert sent["In-Reply-To"] == "<order-1@council.example>"
    assert sent["References"] == "<order-0@council.example> <order-1@council.example>"
    assert sent.get_body(("plain",)).get_content().strip() == "Missing: Date made"  # type: ignore[union-attr]
    assert "<p>Missing: Date made</p>" in sent.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert len(ews.in_folder("sentitems")) == 1


async def test_wrong_password_is_refused(ews: FakeEws) -> None:
    mailbox = EwsMailbox(
        UNIT, service_endpoint=ews.endpoint, username=USER, password="wrong", auth_type="basic", max_wait=1
    )
    # Under FaultTolerance exchangelib takes a 401 for throttling and retries it until max_wait has passed.
    with pytest.raises(EwsUnreachable, match="wrong user name or password"):
        await mailbox.new_messages()
    assert ews.operations == []


async def test_server_gone_is_an_os_error() -> None:
    async with serve_ews(UNIT, USER, PASSWORD) as fake:
        endpoint = fake.endpoint
    mailbox = EwsMailbox(
        UNIT, service_endpoint=endpoint, username=USER, password=PASSWORD, auth_type="basic", max_wait=1
    )

    with pytest.raises(OSError):
        await mailbox.mark_read(RawMessage("AAMkADk= CQAAAB==", b""))
    assert isinstance(EwsUnreachable("x"), OSError)


async def test_two_moves_at_once_create_one_folder(ews: FakeEws, mailbox: EwsMailbox) -> None:
    ews.deliver(notification(1), minutes_ago=2)
    ews.deliver(notification(2), minutes_ago=1)
    first, second = await mailbox.new_messages()

    await asyncio.gather(mailbox.move(first, NEEDS_ATTENTION), mailbox.move(second, NEEDS_ATTENTION))

    assert ews.operations.count("CreateFolder") == 1
    assert len(ews.in_folder(NEEDS_ATTENTION)) == 2
