"""Claims on the unit's mailbox messages are forgotten once long past, and forgetting one acts on nothing twice."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from handlers import people, receipts
from handlers.context import CLI, Context
from mail.backends import PROCESSED
from mail.backends.maildir import MaildirMailbox
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database, models
from tests import mailing
from tests.vouching import vouched

CORPUS = Path(__file__).parent.parent / "unit" / "mail_corpus"
UNIT = "safeguarding.unit@example.gov.uk"
NOW = datetime(2026, 3, 18, 9, tzinfo=UTC)


def context(database: Database) -> Context:
    return Context(database, load_builtin(), WorkingCalendar(), FixedClock(NOW), "wirral")


async def claim_keys(ctx: Context) -> list[str]:
    async with ctx.database.session() as session:
        return sorted(await session.scalars(select(models.MailClaim.message_key)))


async def test_only_claims_whose_lease_ended_long_ago_are_forgotten(database: Database) -> None:
    ctx = context(database)
    clock = ctx.clock
    assert isinstance(clock, FixedClock)
    # Claimed eight days ago and filed; claimed then and failed, its next try long past; claimed an hour ago.
    clock.set(NOW - timedelta(days=8))
    await receipts.claim(ctx, {"<filed@x>", "<failed@x>"}, "one", timedelta(minutes=10))
    await receipts.failed_try(ctx, "<failed@x>", "one", clock.now() + timedelta(hours=1), "OSError: gone")
    clock.set(NOW - timedelta(hours=1))
    await receipts.claim(ctx, {"<recent@x>"}, "one", timedelta(minutes=10))
    # One whose failure's next try is far ahead (set so by hand): its lease has not ended, so it stays.
    await receipts.claim(ctx, {"<waiting@x>"}, "one", timedelta(minutes=10))
    await receipts.failed_try(ctx, "<waiting@x>", "one", NOW + timedelta(days=30), "OSError: gone")
    clock.set(NOW)

    assert await receipts.prune_claims(ctx, timedelta(days=7)) == 2
    assert await claim_keys(ctx) == ["<recent@x>", "<waiting@x>"]
    assert await receipts.prune_claims(ctx, timedelta(days=7)) == 0
    # The one left is still held by its poller until its lease ends: no one else takes it.
    assert await receipts.claim(ctx, {"<recent@x>"}, "two", timedelta(minutes=10)) == {"<recent@x>": 0}


async def test_the_poller_forgets_old_claims_and_a_filed_message_back_in_the_inbox_makes_no_second_order(
    database: Database, tmp_path: Path
) -> None:
    ctx = context(database)
    clock = ctx.clock
    assert isinstance(clock, FixedClock)
    await people.import_people(ctx, "name,email,roles\nTom Jones,tom.jones@example.gov.uk,social_worker\n", CLI)
    box = MaildirMailbox(tmp_path / "mailbox", UNIT)
    raw = vouched((CORPUS / "01_plain_template.eml").read_bytes())
    mailbox.Maildir(box.root).add(mailbox.MaildirMessage(raw))
    poller = mailing.poller(ctx, box, UNIT, ["example.gov.uk"])
    first = await poller.poll_once()
    assert len(first.orders) == 1 and len(await claim_keys(ctx)) == 1

    # Within the week the claim stays; past it, the next poll (an hour or more after the last prune) forgets it.
    clock.advance(timedelta(days=6))
    await poller.poll_once()
    assert len(await claim_keys(ctx)) == 1
    clock.advance(timedelta(days=2))
    await poller.poll_once()
    assert await claim_keys(ctx) == []

    # A person moves the filed message back to the inbox: it is claimed afresh, and its receipt files it again.
    mailbox.Maildir(box.root).add(mailbox.MaildirMessage(raw))
    again = await poller.poll_once()
    assert again.orders == [] and again.already_done == 1 and len(box.folder(PROCESSED)) == 2
