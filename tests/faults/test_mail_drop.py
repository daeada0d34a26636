"""The mail servers dropping mid-poll, on a real Dovecot and SMTP server, at cuts tests/integration does not make.

tests/integration/test_mail_poller.py cuts a Maildir poll after the first message is read and before a move;
test_mail_imap.py stops Dovecot under one message's mark and move. Here the poller runs on IMAP with several
orders in the inbox, and the connection is cut as the second message's move to Processed goes out, or as the
second order's allocation request is being sent by SMTP (by the outbox's dispatcher, which sends every email).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from handlers import people
from handlers.context import CLI, Context
from mail.backends import PROCESSED
from mail.backends.imap import ImapMailbox
from mail.poller import Notices
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database, models
from tests import mailing
from tests.faults.proxy import Proxy
from tests.integration import test_mail_imap as imap
from tests.vouching import vouched

pytestmark = pytest.mark.postgres

# The real Dovecot and aiosmtpd of the IMAP suite (it skips, or fails in CI, when Dovecot is not installed).
dovecot = imap.dovecot
user = imap.user
smtp = imap.smtp

STAFF = """name,email,roles,team,manager_email,entra_id
Tom Jones,tom.jones@example.gov.uk,social_worker,North,,
Jane Smith,jane.smith@example.gov.uk,iro,IROs,,
"""
TEMPLATE = Path(__file__).parent.parent / "unit" / "mail_corpus" / "01_plain_template.eml"
CHILD_IDS = ("LCS-200001", "LCS-200002", "LCS-200003")


def order_email(child_id: str) -> bytes:
    raw = TEMPLATE.read_bytes().replace(b"LCS-104233", child_id.encode())
    return vouched(raw.replace(b"20260303154210.1001", uuid.uuid4().hex.encode()))


@pytest.fixture
async def ctx(postgres_url: str) -> AsyncIterator[Context]:
    database = Database.from_url(postgres_url)
    context = Context(database, load_builtin(), WorkingCalendar(), FixedClock(datetime(2026, 3, 4, 9, tzinfo=UTC)),
                      "wirral")  # fmt: skip
    await people.import_people(context, STAFF, CLI)
    try:
        yield context
    finally:
        await database.dispose()


@pytest.fixture
def imap_proxy(dovecot: imap.Dovecot) -> Iterator[Proxy]:
    with Proxy("127.0.0.1", dovecot.port) as proxy:
        yield proxy


@pytest.fixture
def smtp_proxy(smtp: tuple[imap.Recorded, int]) -> Iterator[Proxy]:
    with Proxy("127.0.0.1", smtp[1]) as proxy:
        yield proxy


def unit_mailbox(dovecot: imap.Dovecot, user: str, imap_proxy: Proxy, smtp_proxy: Proxy) -> ImapMailbox:
    return imap.mailbox(dovecot, user, smtp_proxy.port, port=imap_proxy.port, smtp_username=imap.UNIT,
                        smtp_password=imap.PASSWORD)  # fmt: skip


async def evidence(ctx: Context) -> tuple[dict[str, str], dict[str, int], int]:
    """Each child's order reference; each message's receipts; how many order.create audit lines."""
    async with ctx.database.session() as db:
        orders = dict((await db.execute(select(models.Child.local_id, models.Order.reference).join(
            models.Order, models.Order.child_id == models.Child.id))).all())  # fmt: skip
        per_order = select(models.ProcessedMail.order_reference, func.count()).group_by(
            models.ProcessedMail.order_reference)  # fmt: skip
        receipts = dict((await db.execute(per_order.where(models.ProcessedMail.order_reference.is_not(None)))).all())
        created = await db.scalar(select(func.count()).where(models.AuditEntry.action == "order.create"))
    return {k: str(v) for k, v in orders.items()}, {str(k): int(v) for k, v in receipts.items()}, int(created or 0)


def poller(ctx: Context, box: ImapMailbox) -> mailing.Poller:
    return mailing.poller(ctx, box, imap.UNIT, ["example.gov.uk"], Notices())


def dispatcher(ctx: Context, box: ImapMailbox) -> mailing.Dispatcher:
    sending = mailing.dispatcher(ctx, box, imap.UNIT, ["unit-team@example.gov.uk"])
    sending.concurrency = 1  # one send at a time, so the cut falls on the second
    return sending


def requests_sent(recorded: imap.Recorded) -> list[str]:
    """The subjects of the allocation requests the SMTP server accepted."""
    found = [message_from_bytes(e.original_content or b"", policy=policy.default) for e in recorded.envelopes]
    return sorted(str(m["Subject"]) for m in found)


async def test_imap_cut_as_the_second_move_to_processed_goes_out(
    ctx: Context, dovecot: imap.Dovecot, user: str, smtp: tuple[imap.Recorded, int], imap_proxy: Proxy,
    smtp_proxy: Proxy,
) -> None:  # fmt: skip
    imap.deliver(dovecot, user, *(order_email(child) for child in CHILD_IDS))
    box = unit_mailbox(dovecot, user, imap_proxy, smtp_proxy)
    try:
        imap_proxy.cut_when(b"UID MOVE 2 ")
        with pytest.raises(OSError):
            await poller(ctx, box).poll_once()
        assert imap_proxy.tripped.is_set()
        # The three were acted on in one batch, committed before any was moved: the first is filed, the second
        # and third are committed with their receipts but unfiled.
        orders, receipts, created = await evidence(ctx)
        assert orders == dict(zip(CHILD_IDS, ("SO-2026-0001", "SO-2026-0002", "SO-2026-0003"), strict=True))
        assert created == 3 and receipts == {"SO-2026-0001": 1, "SO-2026-0002": 1, "SO-2026-0003": 1}
        assert len(imap.folder(dovecot, user, PROCESSED)) == 1 and len(imap.folder(dovecot, user, "INBOX")) == 2

        imap_proxy.restore()
        report = await poller(ctx, box).poll_once()
        await dispatcher(ctx, box).tick()
    finally:
        await box.close()

    assert report.already_done == 2 and report.orders == []  # filed, not done again
    orders, receipts, created = await evidence(ctx)
    assert orders == dict(zip(CHILD_IDS, ("SO-2026-0001", "SO-2026-0002", "SO-2026-0003"), strict=True))
    assert created == 3 and receipts == {"SO-2026-0001": 1, "SO-2026-0002": 1, "SO-2026-0003": 1}
    assert len(imap.folder(dovecot, user, PROCESSED)) == 3 and imap.folder(dovecot, user, "INBOX") == []
    recorded, _ = smtp
    assert requests_sent(recorded) == [f"[SO-2026-000{n}] Allocate an IRO" for n in (1, 2, 3)]


async def test_smtp_cut_while_the_second_allocation_request_is_sent(
    ctx: Context, dovecot: imap.Dovecot, user: str, smtp: tuple[imap.Recorded, int], imap_proxy: Proxy,
    smtp_proxy: Proxy,
) -> None:  # fmt: skip
    imap.deliver(dovecot, user, *(order_email(child) for child in CHILD_IDS))
    box = unit_mailbox(dovecot, user, imap_proxy, smtp_proxy)
    recorded, _ = smtp
    try:
        await poller(ctx, box).poll_once()
        orders, _, created = await evidence(ctx)
        assert len(orders) == 3 and created == 3 and imap.folder(dovecot, user, "INBOX") == []
        smtp_proxy.cut_when(b"[SO-2026-0002] Allocate an IRO")
        report = await dispatcher(ctx, box).tick()
        # The cut server refuses the third too, until it is back: both wait for a retry.
        assert smtp_proxy.tripped.is_set() and report.retried == 2
        assert requests_sent(recorded) == ["[SO-2026-0001] Allocate an IRO"]

        smtp_proxy.restore()
        assert isinstance(ctx.clock, FixedClock)
        ctx.clock.advance(timedelta(hours=1))  # past the retry's back-off
        await dispatcher(ctx, box).tick()
    finally:
        await box.close()

    orders, receipts, created = await evidence(ctx)
    assert orders == dict(zip(CHILD_IDS, ("SO-2026-0001", "SO-2026-0002", "SO-2026-0003"), strict=True))
    assert created == 3 and receipts == {"SO-2026-0001": 1, "SO-2026-0002": 1, "SO-2026-0003": 1}
    assert len(imap.folder(dovecot, user, PROCESSED)) == 3 and imap.folder(dovecot, user, "INBOX") == []
    sent = requests_sent(recorded)
    # Nothing lost: the unit is asked to allocate an IRO for every order, once each.
    assert sent == [f"[SO-2026-000{n}] Allocate an IRO" for n in (1, 2, 3)]
