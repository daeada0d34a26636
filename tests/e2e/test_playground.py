"""The bot on a port, driven by a real Teams client: the Microsoft 365 Agents Playground."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.cards import texts
from tests.e2e.conftest import CONVERSATION
from tests.e2e.playground import Playground


@pytest.fixture
async def playground(playground_port: int) -> AsyncIterator[Playground]:
    async with aiohttp.ClientSession() as session:
        client = Playground(f"http://127.0.0.1:{playground_port}", session)
        await client.open()
        yield client
        await client.close()


FORM = {
    "child_local_id": "C42", "child_name": "Sam Taylor", "child_date_of_birth": "2018-02-01",
    "order_type": "supervision", "made": "2026-03-03", "commenced": "", "months": "12", "last_day": "",
    "court": "Leeds Family Court", "other_orders": "", "conditions": "", "procedure": "wirral",
    "social_worker": "alexw@example.com", "notes": "",
}  # fmt: skip


async def test_a_new_user_records_an_order_and_the_unit_allocates_an_iro(playground: Playground) -> None:
    channel = playground.config["teams"][0]["channels"][0]["id"]

    await playground.say(CONVERSATION, "help")
    assert "new order" in (await playground.next(CONVERSATION)).text

    await playground.say(channel, "use this channel for allocations", mention=True)
    assert "now gets" in (await playground.next(channel)).text

    await playground.say(CONVERSATION, "new order")
    form = await playground.next(CONVERSATION)
    assert form.card is not None and "New Supervision Order" in texts(form.card)

    answer = await playground.execute(CONVERSATION, form.message_id, "order.submit", {**FORM, "made": "31/02/2026"})
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert "February 2026 has 28 days" in texts(answer["value"])
    assert "Sam Taylor" in texts(answer["value"])  # what was typed is kept

    answer = await playground.execute(CONVERSATION, form.message_id, "order.submit", FORM)
    summary = texts(answer["value"])
    assert "Saved SO-" in summary and "S.T." in summary and "pending" in summary
    reference = re.search(r"SO-\d{4}-\d{4}", summary)
    assert reference is not None

    request = await playground.next(channel)
    assert request.card is not None and f"Allocate an IRO: {reference.group(0)}" in texts(request.card)
    assert "Megan Bowen (0 open)" in texts(request.card)

    thread = f"{channel};messageid={request.message_id}"  # the card is the root of its own thread
    megan = {"reference": reference.group(0), "iro": "meganb@example.com"}
    clicked = await playground.execute(thread, request.message_id, "order.allocate", megan)
    assert "Allocated to Megan Bowen by Alex Wilber" in texts(clicked["value"])
    updated = await playground.next(channel, action="updateMessage")
    assert updated.message_id == request.message_id and "Allocated to Megan Bowen" in texts(updated.card)

    told = await playground.next(CONVERSATION)  # proactive: the social worker hears who the IRO is
    assert f"Megan Bowen is the IRO for {reference.group(0)}" in told.text
