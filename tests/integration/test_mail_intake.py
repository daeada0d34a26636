"""The unit's mailbox as people really use it, on every backend: mail opened before sobot reads it, one message that
fails between good ones, and two pollers (two `sobot serve` processes) reading one mailbox.

Each runs against Maildir, a real Dovecot (with aiosmtpd), and the loopback fakes of Microsoft Graph and EWS.
"""

from __future__ import annotations

import asyncio
import mailbox as stdlib_mailbox
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, text

from handlers import people
from handlers.context import CLI, Context
from mail.backends import NEEDS_ATTENTION, PROCESSED, Mailbox
from mail.backends.ews import EwsMailbox
from mail.backends.graph import GraphMailbox
from mail.backends.maildir import MaildirMailbox
from mail.poller import Notices
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database, models
from tests import mailing
from tests.fakes.ews import serve_ews
from tests.fakes.graph import serve_graph
from tests.integration.test_mail_imap import (  # noqa: F401 (fixtures)
    PASSWORD,
    Dovecot,
    RefusingRecipient,
    dovecot,
    free_port,
    smtp,
    user,
)
from tests.integration.test_mail_imap import deliver as imap_deliver
from tests.integration.test_mail_imap import folder as imap_folder
from tests.integration.test_mail_imap import mailbox as imap_mailbox
from tests.vouching import TRUST, vouched

CORPUS = Path(__file__).parent.parent / "unit" / "mail_corpus"
UNIT = "safeguarding.unit@example.gov.uk"
STAFF = """name,email,roles
Tom Jones,tom.jones@example.gov.uk,social_worker
Priya Patel,priya.patel@example.gov.uk,safeguarding_unit
Jane Smith,jane.smith@example.gov.uk,iro
"""
POISON = "LCS-POISON"


@dataclass
class Target:
    """A mailbox; how a test puts mail into its inbox (opened by a person, or not) and reads back what was sent and
    filed; and how it opens a second mailbox on the same store, as a second `sobot serve` would."""

    mailbox: Mailbox
    deliver: Callable[[bytes, bool], None]
    sent: Callable[[], list[EmailMessage]]
    filed: Callable[[str], int]
    another: Callable[[], Mailbox]


@pytest.fixture(params=["maildir", "imap", "graph", "ews"])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    if request.param == "maildir":
        box = MaildirMailbox(tmp_path / "mailbox", UNIT)
        store = stdlib_mailbox.Maildir(box.root)

        def into_maildir(raw: bytes, opened: bool) -> None:
            message = stdlib_mailbox.MaildirMessage(raw)
            if opened:  # as a mail client leaves a message it has shown: in cur/, Seen and Flagged
                message.set_subdir("cur")
                message.set_flags("FS")
            store.add(message)

        yield Target(box, into_maildir, box.sent, lambda name: len(box.folder(name)),
                     lambda: MaildirMailbox(box.root, UNIT))  # fmt: skip
    elif request.param == "imap":
        server: Dovecot = request.getfixturevalue("dovecot")
        account: str = request.getfixturevalue("user")
        recorded, port = request.getfixturevalue("smtp")

        def into_imap(raw: bytes, opened: bool) -> None:
            connection = server.imap(account)
            try:
                typ, data = connection.append("INBOX", r"(\Seen \Flagged)" if opened else None, None, raw)
                assert typ == "OK", data
            finally:
                connection.logout()

        boxes = [imap_mailbox(server, account, smtp_port=port)]

        def another_imap() -> Mailbox:
            boxes.append(imap_mailbox(server, account, smtp_port=port))
            return boxes[-1]

        try:
            yield Target(boxes[0], into_imap, recorded.messages,
                         lambda name: len(imap_folder(server, account, name)), another_imap)  # fmt: skip
        finally:
            for box in boxes:
                await box.close()
    elif request.param == "graph":
        async with serve_graph(UNIT, "token") as fake:

            def into_graph(raw: bytes, opened: bool) -> None:
                fake.deliver(raw, is_read=opened)

            def graph() -> Mailbox:
                return GraphMailbox(UNIT, lambda: "token", base_url=fake.base_url)

            yield Target(graph(), into_graph, lambda: list(fake.sent), lambda name: len(fake.in_folder(name)), graph)
    else:
        async with serve_ews(UNIT, "svc", PASSWORD) as fake:
            from email import message_from_bytes, policy

            def into_ews(raw: bytes, opened: bool) -> None:
                fake.deliver(raw, is_read=opened)

            def ews() -> Mailbox:
                return EwsMailbox(UNIT, service_endpoint=fake.endpoint, username="svc", password=PASSWORD,
                                  auth_type="basic", max_wait=1)  # fmt: skip

            def sent_items() -> list[EmailMessage]:
                found = [message_from_bytes(item.mime, policy=policy.default) for item in fake.in_folder("Sent Items")]
                return [m for m in found if isinstance(m, EmailMessage)]

            yield Target(ews(), into_ews, sent_items, lambda name: len(fake.in_folder(name)), ews)


@pytest.fixture
async def ctx(database: Database) -> Context:
    context = Context(database, load_builtin(), WorkingCalendar(), FixedClock(datetime(2026, 3, 4, 9, tzinfo=UTC)),
                      "wirral")  # fmt: skip
    await people.import_people(context, STAFF, CLI)
    return context


def order_mail(child_id: str, *, fixable: bool = False) -> bytes:
    """The corpus's plain order email for another child (its own Message-ID); `fixable`: one with a date that
    is not a date, which gets a reply listing the problem."""
    raw = (CORPUS / "01_plain_template.eml").read_bytes()
    raw = raw.replace(b"LCS-104233", child_id.encode()).replace(b"20260303154210.1001", child_id.encode())
    raw = raw.replace(b"Date made: 3 March 2026", b"Date made: 31 February 2026") if fixable else raw
    return vouched(raw)


async def orders_of(ctx: Context) -> list[str]:
    async with ctx.database.session() as session:
        found = await session.scalars(
            select(models.Child.local_id).join(models.Order, models.Order.child_id == models.Child.id)
        )
        return sorted(found.all())


def subjects(target: Target) -> list[str]:
    return sorted(str(m["Subject"]) for m in target.sent())


# 1. Read every message once, whatever its flags ------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_mail_a_person_opened_and_flagged_first_is_acted_on_once(ctx: Context, target: Target) -> None:
    poller = mailing.poller(ctx, target.mailbox, UNIT, ["example.gov.uk"], trust=TRUST)
    target.deliver(order_mail("LCS-100001"), True)
    target.deliver(order_mail("LCS-100002", fixable=True), True)
    target.deliver(order_mail("LCS-100003"), False)

    report = await poller.poll_once()
    assert sorted(report.orders) == ["SO-2026-0001", "SO-2026-0002"] and report.replied == 1
    assert await orders_of(ctx) == ["LCS-100001", "LCS-100003"]
    assert target.filed(PROCESSED) == 2 and target.filed(NEEDS_ATTENTION) == 1
    assert await target.mailbox.new_messages() == []
    assert [s for s in subjects(target) if s.startswith("Re: ")] != [] and len(subjects(target)) == 1  # the reply
    await mailing.dispatcher(ctx, target.mailbox, UNIT).tick()  # the allocation requests, queued with their orders

    # The same message back in the inbox later, unread (moved back, or marked unread by a person): filed, not redone.
    target.deliver(order_mail("LCS-100001"), False)
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.advance(poller.hold_for)
    report = await poller.poll_once()
    assert report.orders == [] and report.already_done == 1 and report.replied == 0
    assert await orders_of(ctx) == ["LCS-100001", "LCS-100003"] and target.filed(PROCESSED) == 3
    await mailing.dispatcher(ctx, target.mailbox, UNIT).tick()
    assert subjects(target).count("[SO-2026-0001] Allocate an IRO") == 1
    assert subjects(target).count("[SO-2026-0002] Allocate an IRO") == 1 and len(subjects(target)) == 3


# 2. No message can stop the others ---------------------------------------------------------------------------------


async def refuse(database: Database, table: str, condition: str, name: str = "poison") -> None:
    """Make the database refuse to insert a row of `table` for which `condition` (of NEW) holds: a trigger named
    `name`, on either database, until cure(database, table, name)."""
    async with database.engine.begin() as connection:
        if database.engine.dialect.name == "postgresql":
            await connection.execute(text(
                f"CREATE FUNCTION refuse_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF {condition} THEN RAISE EXCEPTION 'this row is poisoned'; END IF; RETURN NEW; END $$"
            ))  # fmt: skip
            await connection.execute(text(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW "
                                          f"EXECUTE FUNCTION refuse_{name}()"))  # fmt: skip
        else:
            await connection.execute(text(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {condition} "
                                          "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"))  # fmt: skip


async def cure(database: Database, table: str = "children", name: str = "poison") -> None:
    """Lift refuse()'s trigger (the run's PostgreSQL schema is shared by the tests that follow)."""
    async with database.engine.begin() as connection:
        if database.engine.dialect.name == "postgresql":
            await connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
            await connection.execute(text(f"DROP FUNCTION IF EXISTS refuse_{name}()"))
        else:
            await connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))


@pytest.fixture
async def poisoned(database: Database) -> AsyncIterator[None]:
    """A database that refuses to record the child LCS-POISON: a database error on that message's row alone."""
    await refuse(database, "children", f"NEW.local_id = '{POISON}'")
    try:
        yield
    finally:
        await cure(database)


@pytest.mark.usefixtures("poisoned")
async def test_a_message_that_fails_is_retried_with_back_off_then_left_in_needs_attention_and_the_rest_go_on(
    ctx: Context, target: Target
) -> None:
    notes: list[str] = []

    async def tell_unit(note: str) -> None:
        notes.append(note)

    poller = replace(mailing.poller(ctx, target.mailbox, UNIT, ["example.gov.uk"], Notices(unreadable=tell_unit),
                                    trust=TRUST), attempts=3, retry_seconds=60)  # fmt: skip
    clock = ctx.clock
    assert isinstance(clock, FixedClock)
    for child in ("LCS-100001", POISON, "LCS-100002"):
        target.deliver(order_mail(child), False)

    report = await poller.poll_once()
    assert sorted(report.orders) == ["SO-2026-0001", "SO-2026-0002"] and report.retrying == 1
    assert await orders_of(ctx) == ["LCS-100001", "LCS-100002"] and target.filed(PROCESSED) == 2
    assert len(await target.mailbox.new_messages()) == 1 and notes == []

    # Not tried again before its pause is over; then once per pause, the pause doubling.
    clock.advance(timedelta(seconds=59))
    assert (await poller.poll_once()).held_elsewhere == 1
    clock.advance(timedelta(seconds=2))
    assert (await poller.poll_once()).retrying == 1
    clock.advance(timedelta(seconds=100))
    assert (await poller.poll_once()).held_elsewhere == 1
    clock.advance(timedelta(seconds=30))
    report = await poller.poll_once()

    assert report.needs_attention == 1 and report.retrying == 0
    assert target.filed(NEEDS_ATTENTION) == 1 and await target.mailbox.new_messages() == []
    [note] = notes
    assert "after 3 tries" in note and NEEDS_ATTENTION in note and "LCS-POISON" in note
    assert await orders_of(ctx) == ["LCS-100001", "LCS-100002"] and subjects(target) == []
    await mailing.dispatcher(ctx, target.mailbox, UNIT).tick()  # the requests queued with the orders
    assert subjects(target) == ["[SO-2026-0001] Allocate an IRO", "[SO-2026-0002] Allocate an IRO"]


async def test_a_message_that_failed_is_acted_on_when_its_fault_is_put_right(
    ctx: Context, database: Database, poisoned: None, tmp_path: Path
) -> None:
    box = MaildirMailbox(tmp_path / "mailbox", UNIT)
    poller = replace(mailing.poller(ctx, box, UNIT, ["example.gov.uk"], trust=TRUST), attempts=3, retry_seconds=60)
    store = stdlib_mailbox.Maildir(box.root)
    for child in (POISON, "LCS-100001"):
        store.add(stdlib_mailbox.MaildirMessage(order_mail(child)))

    report = await poller.poll_once()
    assert report.orders == ["SO-2026-0001"] and report.retrying == 1
    await cure(database)
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.advance(timedelta(minutes=1))
    report = await poller.poll_once()

    assert report.orders == ["SO-2026-0002"] and await orders_of(ctx) == ["LCS-100001", POISON]
    assert len(box.folder(PROCESSED)) == 2 and await box.new_messages() == []


def two_orders_mail(first: str, second: str) -> bytes:
    """The corpus's email of two orders (siblings), for the children `first` and `second`, its own Message-ID."""
    raw = (CORPUS / "21_two_orders_siblings.eml").read_bytes().replace(b"17 March 2026", b"3 March 2026")
    raw = raw.replace(b"LCS-104233", first.encode()).replace(b"LCS-104234", second.encode())
    return vouched(raw.replace(b"20260317141000.tom.jones", f"{first}.{second}".encode()))


async def test_a_poisoned_message_in_a_batch_is_undone_alone_and_those_before_and_after_it_are_committed_and_filed(
    ctx: Context, database: Database, poisoned: None, tmp_path: Path
) -> None:
    """Five messages in one transaction, the third failing on its second order: the batch is rolled back and the
    two before it done again without it; that message leaves nothing (its first order neither) and is left to try
    again, once; the two after it go in the next batch, and the four are committed and filed."""
    box = MaildirMailbox(tmp_path / "mailbox", UNIT)
    # A timer that never moves: the batch ends by count alone.
    poller = replace(mailing.poller(ctx, box, UNIT, ["example.gov.uk"], trust=TRUST), monotonic=lambda: 0.0)
    store = stdlib_mailbox.Maildir(box.root)
    mails = [order_mail("LCS-100001"), order_mail("LCS-100002"), two_orders_mail("LCS-100010", POISON),
             order_mail("LCS-100003"), order_mail("LCS-100004")]  # fmt: skip
    for raw in mails:
        store.add(stdlib_mailbox.MaildirMessage(raw))

    report = await poller.poll_once()

    assert report.batches == 2 and report.batches_redone == 1 and report.retrying == 1
    assert sorted(report.orders) == ["SO-2026-0001", "SO-2026-0002", "SO-2026-0003", "SO-2026-0004"]
    assert await orders_of(ctx) == ["LCS-100001", "LCS-100002", "LCS-100003", "LCS-100004"]
    assert len(box.folder(PROCESSED)) == 4
    [left] = await box.new_messages()
    assert POISON.encode() in left.mime
    async with database.session() as session:
        parts = await session.scalars(select(models.ProcessedMail.message_id).where(
            models.ProcessedMail.message_id.like(f"%{POISON}%")))  # fmt: skip
        assert parts.all() == []  # not even its first order's receipt

    await cure(database)
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.advance(timedelta(minutes=1))
    report = await poller.poll_once()
    assert report.orders == ["SO-2026-0005", "SO-2026-0006"] and report.batches == 1
    assert await orders_of(ctx) == ["LCS-100001", "LCS-100002", "LCS-100003", "LCS-100004", "LCS-100010", POISON]
    assert len(box.folder(PROCESSED)) == 5 and await box.new_messages() == []


async def test_an_order_already_recorded_in_a_batch_leaves_nothing_of_itself(
    ctx: Context, database: Database, tmp_path: Path
) -> None:
    """In one transaction: an order; an email of two whose first repeats it (giving the birthday the first left
    out) and whose second is new; another order. The repeat is answered with the reference it has and writes
    nothing: no reference number is used up, and the child's record is as the first email left it."""
    box = MaildirMailbox(tmp_path / "mailbox", UNIT)
    poller = replace(mailing.poller(ctx, box, UNIT, ["example.gov.uk"], trust=TRUST), monotonic=lambda: 0.0)
    store = stdlib_mailbox.Maildir(box.root)
    first = order_mail("LCS-200001").replace(b"Date of birth: 14/07/2015", b"Date of birth:")
    for raw in (first, two_orders_mail("LCS-200001", "LCS-200002"), order_mail("LCS-200003")):
        store.add(stdlib_mailbox.MaildirMessage(raw))

    report = await poller.poll_once()

    assert report.batches == 1 and report.retrying == 0 and report.needs_attention == 0
    assert report.orders == ["SO-2026-0001", "SO-2026-0002", "SO-2026-0003"]
    async with database.session() as session:
        rows = await session.execute(
            select(models.Order.reference, models.Child.local_id, models.Child.date_of_birth)
            .join(models.Child, models.Order.child_id == models.Child.id)
            .order_by(models.Order.reference)
        )
        assert [tuple(row) for row in rows] == [("SO-2026-0001", "LCS-200001", None),
                                               ("SO-2026-0002", "LCS-200002", date(2018, 9, 2)),
                                               ("SO-2026-0003", "LCS-200003", date(2015, 7, 14))]  # fmt: skip
    [answer] = target_texts(box.sent())
    assert "Order 1 (Amy Brown): Already recorded as SO-2026-0001" in answer
    assert len(box.folder(PROCESSED)) == 3 and await box.new_messages() == []


def target_texts(sent: list[EmailMessage]) -> list[str]:
    """The text parts of the mail sent."""
    bodies = [message.get_body(preferencelist=("plain",)) for message in sent]
    return [str(body.get_content()) for body in bodies if body is not None]


async def poll_three_the_middle_one_refused_at_commit(ctx: Context, tmp_path: Path) -> None:
    """Three order emails in one batch, the middle one's (LCS-POISON's) refused only as the batch commits: the
    batch is done again a message at a time, and only that message is left to retry; the others are committed and
    filed."""
    box = MaildirMailbox(tmp_path / "mailbox", UNIT)
    poller = replace(mailing.poller(ctx, box, UNIT, ["example.gov.uk"], trust=TRUST), monotonic=lambda: 0.0)
    store = stdlib_mailbox.Maildir(box.root)
    for child in ("LCS-100001", POISON, "LCS-100002"):
        store.add(stdlib_mailbox.MaildirMessage(order_mail(child)))

    report = await poller.poll_once()

    assert report.batches_redone == 1 and report.batches == 2 and report.retrying == 1
    assert await orders_of(ctx) == ["LCS-100001", "LCS-100002"] and len(box.folder(PROCESSED)) == 2
    [left] = await box.new_messages()
    assert POISON.encode() in left.mime


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_batch_whose_commit_fails_is_done_again_a_message_at_a_time(
    ctx: Context, database: Database, tmp_path: Path
) -> None:
    """A message whose fault shows only at the commit (a deferred check: PostgreSQL's, SQLite has none for a row)
    spoils its whole batch: the batch is done again a message at a time, and only that message is left to retry."""
    async with database.engine.begin() as connection:
        await connection.execute(text(
            "CREATE FUNCTION refuse_poison_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.local_id = '{POISON}' THEN RAISE EXCEPTION 'this row is poisoned'; END IF; RETURN NEW; END $$"
        ))  # fmt: skip
        await connection.execute(text("CREATE CONSTRAINT TRIGGER poison_at_commit AFTER INSERT ON children "
                                      "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                                      "EXECUTE FUNCTION refuse_poison_at_commit()"))  # fmt: skip
    try:
        await poll_three_the_middle_one_refused_at_commit(ctx, tmp_path)
    finally:
        async with database.engine.begin() as connection:
            await connection.execute(text("DROP TRIGGER IF EXISTS poison_at_commit ON children"))
            await connection.execute(text("DROP FUNCTION IF EXISTS refuse_poison_at_commit()"))


async def test_a_message_whose_receipt_is_refused_at_its_batchs_commit_is_done_again_alone(
    ctx: Context, database: Database, tmp_path: Path
) -> None:
    """A new order's receipts, audit line and allocation request are inserted for the whole batch as it commits:
    one refused then (here the receipt of one message) fails the batch, which is done again a message at a time, and
    only that message is left to retry, with no order, audit line or request of its own left behind."""
    await refuse(database, "processed_mail", f"NEW.message_id LIKE '%{POISON}%'", name="poison_receipt")
    try:
        await poll_three_the_middle_one_refused_at_commit(ctx, tmp_path)
        async with database.session() as session:
            audited = await session.scalars(select(models.AuditEntry.order_reference).where(
                models.AuditEntry.action == "order.create").order_by(models.AuditEntry.id))  # fmt: skip
            asked = await session.scalars(select(models.Notification.dedupe_key).where(
                models.Notification.kind == "allocation").order_by(models.Notification.id))  # fmt: skip
            assert audited.all() == ["SO-2026-0001", "SO-2026-0002"]
            assert asked.all() == ["allocation:SO-2026-0001", "allocation:SO-2026-0002"]
    finally:
        await cure(database, "processed_mail", name="poison_receipt")


async def test_a_batch_ends_at_its_count_or_its_time_whichever_first(ctx: Context, tmp_path: Path) -> None:
    box = MaildirMailbox(tmp_path / "mailbox", UNIT)
    store = stdlib_mailbox.Maildir(box.root)
    for n in range(10):
        store.add(stdlib_mailbox.MaildirMessage(order_mail(f"LCS-3{n:05d}")))
    ticks = iter(range(1000))
    # Each message takes a tenth of a second by this timer: the third begun would start 0.2 s into its batch.
    poller = replace(mailing.poller(ctx, box, UNIT, ["example.gov.uk"], trust=TRUST), batch_mails=4,
                     batch_seconds=0.2, monotonic=lambda: next(ticks) / 10)  # fmt: skip
    report = await poller.poll_once()
    assert report.batches == 5 and len(report.orders) == 10 and len(box.folder(PROCESSED)) == 10

    for n in range(10):
        store.add(stdlib_mailbox.MaildirMessage(order_mail(f"LCS-4{n:05d}")))
    poller = replace(poller, batch_seconds=60.0)
    report = await poller.poll_once()
    assert report.batches == 3 and len(report.orders) == 10  # four, four and two


# 10. Several replicas, one mailbox -----------------------------------------------------------------------------


async def two_pollers_at_once(ctx: Context, target: Target, mail: int) -> tuple[int, int]:
    """`mail` order emails (every fifth one needing a reply) read by two pollers at once, each on its own
    connection to the mailbox: the good ones and the fixable ones."""
    fixable = [n for n in range(mail) if n % 5 == 4]
    for n in range(mail):
        target.deliver(order_mail(f"LCS-2{n:05d}", fixable=n in fixable), n % 2 == 0)
    first = mailing.poller(ctx, target.mailbox, UNIT, ["example.gov.uk"], trust=TRUST)
    second = mailing.poller(ctx, target.another(), UNIT, ["example.gov.uk"], trust=TRUST)
    for _ in range(3):  # a poll each, side by side, until the inbox is empty
        await asyncio.gather(first.poll_once(), second.poll_once())
    # Then the two services' dispatch ticks, side by side: the allocation requests queued with the orders.
    await asyncio.gather(mailing.dispatcher(ctx, target.mailbox, UNIT).tick(),
                         mailing.dispatcher(ctx, target.another(), UNIT).tick())  # fmt: skip
    return mail - len(fixable), len(fixable)


async def test_two_pollers_on_one_mailbox_act_on_each_message_once(ctx: Context, target: Target) -> None:
    good, fixable = await two_pollers_at_once(ctx, target, 20)

    assert len(await orders_of(ctx)) == good
    assert target.filed(PROCESSED) == good and target.filed(NEEDS_ATTENTION) == fixable
    assert await target.mailbox.new_messages() == []
    sent = subjects(target)
    assert len([s for s in sent if s.endswith("Allocate an IRO")]) == good
    assert len([s for s in sent if s.startswith("Re: ")]) == fixable and len(set(sent)) == len(sent)
    async with ctx.database.session() as session:
        receipts = await session.scalar(select(func.count()).select_from(models.ProcessedMail))
    assert receipts == good * 2 + fixable  # a receipt per message and one per order made, once each


async def test_a_reply_to_a_recipient_smtp_refuses_stops_no_poll(
    ctx: Context,
    dovecot: Dovecot,  # noqa: F811 (a fixture)
    user: str,  # noqa: F811 (a fixture)
) -> None:
    """The poll goes on; the refused reply is an outbox row the dispatcher retries, then fails (telling the unit),
    not the poller, and a 550 on that row stops none of the others."""
    refusing = RefusingRecipient("gone.away@example.gov.uk")
    controller = Controller(refusing, hostname="127.0.0.1", port=free_port())
    controller.start()
    notes: list[str] = []

    async def tell_unit(note: str) -> None:
        notes.append(note)

    box = imap_mailbox(dovecot, user, smtp_port=controller.port)
    poller = replace(mailing.poller(ctx, box, UNIT, ["example.gov.uk"], Notices(unreadable=tell_unit), trust=TRUST),
                     attempts=2, retry_seconds=60)  # fmt: skip
    dispatcher = replace(mailing.dispatcher(ctx, box, UNIT), attempts=2)
    await people.import_people(ctx, "name,email,roles\nGone Away,gone.away@example.gov.uk,social_worker\n", CLI)
    refused = order_mail("LCS-300002", fixable=True).replace(b"tom.jones@", b"gone.away@")
    imap_deliver(dovecot, user, order_mail("LCS-300001"), refused, order_mail("LCS-300003"))
    try:
        report = await poller.poll_once()
        assert sorted(report.orders) == ["SO-2026-0001", "SO-2026-0002"] and report.replied == 1
        assert report.retrying == 0 and report.needs_attention == 1
        assert await orders_of(ctx) == ["LCS-300001", "LCS-300003"] and await box.new_messages() == []
        assert await reply_rows(ctx) == [("queued", 1)]  # refused once, by the reply's own send

        first = await dispatcher.tick()  # the allocation requests go; the refused reply is not yet due again
        assert sum(first.sent.values()) == 2 and first.failed == 0
        assert isinstance(ctx.clock, FixedClock)
        ctx.clock.advance(timedelta(minutes=10))
        last = await dispatcher.tick()  # its last try: failed, and the unit told
        assert last.failed == 1
        await poller.poll_once()  # a later poll neither retries nor re-reads anything
    finally:
        controller.stop()
        await box.close()

    assert await reply_rows(ctx) == [("failed", 2)]
    assert len(imap_folder(dovecot, user, PROCESSED)) == 2 and len(imap_folder(dovecot, user, NEEDS_ATTENTION)) == 1
    subjects_sent = sorted(str(m["Subject"]) for m in refusing.messages())
    assert [s for s in subjects_sent if s.endswith("Allocate an IRO")] == [
        "[SO-2026-0001] Allocate an IRO", "[SO-2026-0002] Allocate an IRO"]  # fmt: skip
    assert not any(s.startswith("Re: ") for s in subjects_sent)  # the reply was never taken
    # The poller's one note is the message needing fixing, not a give-up after its tries: it was acted on once.
    assert len(notes) == 1 and NEEDS_ATTENTION in notes[0] and "LCS-300002" in notes[0] and "tries" not in notes[0]


async def reply_rows(ctx: Context) -> list[tuple[str, int]]:
    """The outbox's reply rows: their state and how many times each was tried."""
    async with ctx.database.session() as session:
        rows = await session.execute(select(models.Notification.state, models.Notification.attempts)
                                     .where(models.Notification.kind == "reply"))  # fmt: skip
        return [(state, attempts) for state, attempts in rows.all()]
