"""The composition root builds the whole service: the jobs `sobot serve` runs are the ones it made, on the
clock, database and channels it was given."""

from __future__ import annotations

import mailbox
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from handlers import orders, people
from handlers.context import CLI
from rules.clock import FixedClock, SystemClock
from scheduler.dispatch import Message
from sobot.app import build_sobot
from sobot.settings import load_settings
from storage import Database
from tests.cards import texts
from tests.outbox_rig import STAFF, UNIT_ADDRESS, Rig, rig, sent_to

MADE = date(2026, 3, 3)  # a Tuesday


@pytest.fixture
async def r(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    # Thursday 5 March 2026, 09:00 London: two days after the order was made.
    async with rig(database, database_url, tmp_path / "mail", datetime(2026, 3, 5, 9, 0, tzinfo=UTC)) as made:
        yield made


async def test_the_dispatch_job_the_root_built_reminds_through_teams(r: Rig) -> None:
    assert r.sobot.jobs.names == ["dispatch", "digest", "mail"]
    await orders.create_order(r.ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", MADE,
                                                     social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
    chat = await r.in_teams("sam@example.gov.uk")
    await r.sobot.jobs.run("dispatch")
    steps = sorted(p.card["actions"][0]["data"]["step"] for p in sent_to(r.connector.sent, chat) if p.card)
    assert steps == ["case_summary", "inform_safeguarding_unit"]
    assert r.sobot.jobs.last_run["dispatch"] == r.clock.now(), "the job ran on the clock it was given"


async def test_the_mail_job_the_root_built_saves_an_emailed_order_and_asks_the_unit_in_teams(r: Rig) -> None:
    channel = await r.unit_channel()
    message = EmailMessage()
    message["From"], message["To"] = "Sam Worker <sam@example.gov.uk>", UNIT_ADDRESS
    message["Subject"], message["Message-ID"] = "New supervision order - C9", "<new-order-c9@example.gov.uk>"
    message.set_content("Child ID: C9\nChild name: Amy Brown\nOrder type: Supervision Order\nDate made: 3 March 2026\n"
                        "Length or Last day: 12 months\nSocial worker: sam@example.gov.uk\n")  # fmt: skip
    mailbox.Maildir(r.mailbox.root).add(mailbox.MaildirMessage(message.as_bytes()))
    await r.sobot.jobs.run("mail")
    assert "mail" in r.sobot.jobs.last_run, "the poll finished"
    assert (await orders.get_order(r.ctx, "SO-2026-0001", CLI)).child_local_id == "C9"
    [card] = [p.card for p in sent_to(r.connector.sent, channel) if p.card]
    assert "SO-2026-0001" in texts(card), "the mail job's notices go through the Teams agent the root built"


class Recorded:
    """Channels that keep what they are given, in place of Teams and email."""

    has_email = True

    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []

    async def teams(self, reference: dict[str, Any], message: Message) -> None:
        self.sent.append((reference["conversation"]["id"], message))

    async def email(self, to: str, message: Message) -> None:
        self.sent.append((to, message))


async def test_the_channels_given_are_the_ones_the_dispatch_job_sends_through(
    database: Database, database_url: str
) -> None:
    settings = load_settings({}, database_url=database_url, mail_backend="none")
    channels = Recorded()
    sobot = build_sobot(settings, clock=FixedClock(datetime(2026, 3, 5, 9, 0, tzinfo=UTC)), database=database,
                        channels=channels, environ={})  # fmt: skip
    try:
        assert sobot.poller is None and sobot.jobs.names == ["dispatch", "digest"], "no mailbox, no mail job"
        await people.import_people(sobot.context, STAFF, CLI)
        order = orders.NewOrder("C1", "Jane Mary Smith", "supervision", MADE, social_worker_email="sam@example.gov.uk")
        await orders.create_order(sobot.context, order, CLI)
        await sobot.jobs.run("dispatch")
        reminded = sorted(str(message.step) for to, message in channels.sent if to == "sam@example.gov.uk")
        assert reminded == ["case_summary", "inform_safeguarding_unit"]
    finally:
        await sobot.teams.messenger.close()


async def test_the_web_app_starts_the_jobs_and_stops_them(database: Database, database_url: str) -> None:
    settings = load_settings({}, database_url=database_url, mail_backend="none", dispatch_interval_seconds=3600)
    sobot = build_sobot(settings, clock=SystemClock(), database=database, channels=Recorded(), environ={})
    assert not sobot.jobs.running, "building the service runs nothing"
    client = TestClient(TestServer(sobot.app, host="127.0.0.1"))
    await client.start_server()
    try:
        assert sobot.jobs.running
        assert (await client.get("/readyz")).status == 200
    finally:
        await client.close()
    assert not sobot.jobs.running
