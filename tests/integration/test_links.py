"""Links both ways: what sobot sends about an order, by Teams or by email, opens that order's page on the dashboard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from handlers import orders
from handlers.context import CLI
from handlers.notes import queue_note
from storage import Database
from tests.cards import texts
from tests.outbox_rig import Rig, rig, sent_to

MADE = date(2026, 3, 3)
PAGE = "https://sobot.example.gov.uk/orders/SO-2026-0001"


@pytest.fixture
async def r(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    # Thursday 5 March 2026, 09:00 London: two days after the order was made. The address is given without its
    # closing slash, as people write it.
    async with rig(database, database_url, tmp_path / "mail", datetime(2026, 3, 5, 9, 0, tzinfo=UTC),
                   public_url="https://sobot.example.gov.uk") as made:  # fmt: skip
        await orders.create_order(made.ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", MADE,
                                                            social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
        yield made


def opened(card: dict[str, Any] | None) -> list[str]:
    """Where a card's "Open in sobot" buttons go."""
    actions = (card or {}).get("actions", [])
    return [a["url"] for a in actions if a.get("type") == "Action.OpenUrl" and a.get("title") == "Open in sobot"]


def parts(mail: EmailMessage) -> tuple[str, str]:
    plain, markup = mail.get_body(("plain",)), mail.get_body(("html",))
    assert plain is not None and markup is not None
    return plain.get_content(), markup.get_content()


async def test_a_reminder_by_email_carries_the_orders_page_in_both_parts(r: Rig) -> None:
    await r.tick()
    reminders = [m for m in r.emails() if m["To"] == "sam@example.gov.uk"]
    assert reminders, "Sam has no chat with the bot: reminded by email"
    for mail in reminders:
        text, markup = parts(mail)
        assert text.rstrip().endswith(f"Open in sobot: {PAGE}")
        assert f'<a href="{PAGE}">Open in sobot</a>' in markup
        assert "Jane" not in PAGE and "Jane" not in text


async def test_a_reminder_in_teams_carries_the_button_to_the_orders_page(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    await r.tick()
    posts = [p for p in sent_to(r.connector.sent, chat) if p.card is not None]
    assert posts and all(opened(p.card) == [PAGE] for p in posts)


async def test_the_allocation_request_and_the_saved_orders_card_open_the_order(r: Rig) -> None:
    sam = await r.person("sam@example.gov.uk")
    form = {"child_local_id": "C2", "child_name": "Ann Lee", "order_type": "supervision", "made": "04/03/2026",
            "months": "12", "procedure": "wirral", "social_worker": "sam@example.gov.uk"}  # fmt: skip
    saved = await r.agent.submit_order(sam, form)
    assert saved.card is not None and "Saved SO-2026-0002" in texts(saved.card)
    second = "https://sobot.example.gov.uk/orders/SO-2026-0002"
    assert opened(saved.card) == [second]
    await r.tick()
    [request] = [m for m in r.emails() if "Allocate an IRO" in str(m["Subject"])]
    text, markup = parts(request)
    assert f"Open in sobot: {second}" in text and f'<a href="{second}">Open in sobot</a>' in markup


async def test_the_digest_links_the_caseload_and_each_order_it_lists(r: Rig) -> None:
    r.clock.set(datetime(2026, 3, 17, 8, 30, tzinfo=UTC))
    await r.tick(digest=True)
    [digest] = [m for m in r.emails() if m["To"] == "nell@example.gov.uk" and "Good morning" in str(m["Subject"])]
    text, markup = parts(digest)
    assert "Open in sobot: https://sobot.example.gov.uk/caseload" in text
    assert '<a href="https://sobot.example.gov.uk/caseload">Open in sobot</a>' in markup
    assert f'<a href="{PAGE}">SO-2026-0001 (J.M.S.): ' in markup


async def test_a_note_in_teams_about_an_order_links_to_it(r: Rig) -> None:
    # A note (as the outbox carries the news of an allocation to someone it could not tell at once) is text alone.
    chat = await r.in_teams("tess@example.gov.uk")
    tess = await r.person("tess@example.gov.uk")
    await queue_note(r.ctx, "allocated:test", "SO-2026-0001", tess.id, "Ian Reviewer is the IRO for SO-2026-0001.")
    await r.tick()
    [note] = [p for p in sent_to(r.connector.sent, chat) if p.text.startswith("Ian Reviewer is the IRO")]
    assert note.text == f"Ian Reviewer is the IRO for SO-2026-0001.\n\n[Open in sobot]({PAGE})"
