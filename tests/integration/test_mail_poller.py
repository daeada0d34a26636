"""The unit's mailbox on Maildir: orders and allocations by email, each acted on once, nothing dropped."""

from __future__ import annotations

import mailbox
import re
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from handlers import orders, people
from handlers.context import CLI, Context
from mail.backends import NEEDS_ATTENTION, PROCESSED, RawMessage
from mail.backends.maildir import MaildirMailbox
from mail.poller import Notices, Poller
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from scheduler.dispatch import Dispatcher
from storage import Database, models, outbox
from tests import mailing
from tests.vouching import TRUST, vouched

CORPUS = Path(__file__).parent.parent / "unit" / "mail_corpus"
STAFF = """name,email,roles,team,manager_email,entra_id
Tom Jones,tom.jones@example.gov.uk,social_worker,North,,
Priya Patel,priya.patel@example.gov.uk,safeguarding_unit,Safeguarding Unit,,
Jane Smith,jane.smith@example.gov.uk,iro,IROs,,
Omar Rahman,omar.rahman@example.gov.uk,iro,IROs,,
"""
UNIT = "safeguarding.unit@example.gov.uk"


@pytest.fixture
async def ctx(database: Database) -> Context:
    # The day the mail is read: after every order the corpus's emails give was made.
    context = Context(database, load_builtin(), WorkingCalendar(), FixedClock(datetime(2026, 3, 18, 9, tzinfo=UTC)),
                      "wirral")  # fmt: skip
    await people.import_people(context, STAFF, CLI)
    return context


@pytest.fixture
def box(tmp_path: Path) -> MaildirMailbox:
    return MaildirMailbox(tmp_path / "mailbox", UNIT)


def deliver(box: MaildirMailbox, name: str, **replace: str) -> None:
    raw = (CORPUS / name).read_bytes()
    for old, new in replace.items():
        raw = raw.replace(old.encode(), new.encode())
    mailbox.Maildir(box.root).add(mailbox.MaildirMessage(vouched(raw)))


def dispatcher(ctx: Context, box: MaildirMailbox, allocation_to: tuple[str, ...] = ()) -> Dispatcher:
    return mailing.dispatcher(ctx, box, UNIT, allocation_to)


def poller(ctx: Context, box: MaildirMailbox, notices: Notices | None = None) -> Poller:
    # As the service joins them: the replies the poller queues go at once, by the dispatcher.
    return mailing.poller(ctx, box, UNIT, ["example.gov.uk"], notices)


async def orders_count(ctx: Context) -> int:
    async with ctx.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(models.Order)) or 0)


async def test_an_order_email_becomes_an_order_and_asks_for_an_iro(ctx: Context, box: MaildirMailbox) -> None:
    deliver(box, "01_plain_template.eml")
    created = []

    async def order_created(view) -> None:  # type: ignore[no-untyped-def]
        created.append(view.reference)

    report = await poller(ctx, box, Notices(order_created=order_created)).poll_once()
    assert report.orders == ["SO-2026-0001"] and created == ["SO-2026-0001"]
    assert len(box.folder(PROCESSED)) == 1 and await box.new_messages() == []
    # The request is in the outbox with the order; the dispatcher sends it, to the unit's people.
    assert box.sent() == []
    await dispatcher(ctx, box).tick()
    [request] = box.sent()
    assert request["Subject"] == "[SO-2026-0001] Allocate an IRO" and request["To"] == "priya.patel@example.gov.uk"
    body = request.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "A.B." in text and "Jane Smith (0 open orders)" in text and "Omar Rahman (0 open orders)" in text
    assert "Amy Brown" not in request.as_string() and "14/07/2015" not in request.as_string()
    assert request.get_body(preferencelist=("html",)) is not None
    # Polling again finds nothing new and makes nothing twice.
    assert (await poller(ctx, box).poll_once()).orders == [] and await orders_count(ctx) == 1


async def test_a_reply_from_the_unit_allocates_the_iro(ctx: Context, box: MaildirMailbox) -> None:
    deliver(box, "01_plain_template.eml")
    await poller(ctx, box).poll_once()
    deliver(box, "23_reply_chain_allocation_gmail_quoted.eml", **{"SO-2026-0007": "SO-2026-0001"})
    allocated = []

    async def announce(done) -> None:  # type: ignore[no-untyped-def]
        allocated.append((done.order.reference, done.order.iro, done.by))

    report = await poller(ctx, box, Notices(allocated=announce)).poll_once()
    assert report.allocations == ["SO-2026-0001"]
    assert allocated == [("SO-2026-0001", "Jane Smith", "Priya Patel")]
    answer = box.sent()[-1]
    assert answer["Subject"] == "Re: [SO-2026-0001] Allocate an IRO"
    assert answer["In-Reply-To"] == "<CAF3x9kT5replyPriyaJaneSmith0304@mail.gmail.com>"
    assert "Jane Smith is now the IRO for SO-2026-0001" in str(answer.get_body(preferencelist=("plain",)))


async def test_a_reply_from_outside_the_unit_or_naming_nobody_gets_an_answer(ctx: Context, box: MaildirMailbox) -> None:
    deliver(box, "01_plain_template.eml")
    await poller(ctx, box).poll_once()
    deliver(box, "23_reply_chain_allocation_gmail_quoted.eml", **{"SO-2026-0007": "SO-2026-0001",
            "priya.patel@example.gov.uk": "tom.jones@example.gov.uk"})  # fmt: skip
    await poller(ctx, box).poll_once()
    refused = str(box.sent()[-1].get_body(preferencelist=("plain",)))
    assert "Only members of the Safeguarding Unit" in refused and "Omar Rahman (0 open orders)" in refused
    deliver(box, "23_reply_chain_allocation_gmail_quoted.eml", **{"SO-2026-0007": "SO-2026-0001",
            "Jane Smith\n\nThanks": "Bob Nobody\n\nThanks", "PriyaJaneSmith": "PriyaBob"})  # fmt: skip
    await poller(ctx, box).poll_once()
    unknown = str(box.sent()[-1].get_body(preferencelist=("plain",)))
    assert "There is no IRO called 'Bob Nobody'" in unknown
    async with ctx.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(models.Allocation)) == 0


async def test_the_unit_is_offered_and_may_allocate_only_independent_iros_by_email(
    ctx: Context, box: MaildirMailbox
) -> None:
    await people.import_people(ctx, "name,email,roles,team,manager_email\n"
                               "Mo Manager,mo.manager@example.gov.uk,team_manager;iro,North,\n"
                               "Tom Jones,tom.jones@example.gov.uk,social_worker,North,mo.manager@example.gov.uk\n",
                               CLI)  # fmt: skip
    deliver(box, "01_plain_template.eml")
    await poller(ctx, box).poll_once()
    await dispatcher(ctx, box).tick()
    request = str(box.sent()[-1].get_body(preferencelist=("plain",)))
    assert "Jane Smith (0 open orders)" in request and "Mo Manager" not in request
    deliver(box, "23_reply_chain_allocation_gmail_quoted.eml", **{"SO-2026-0007": "SO-2026-0001",
            "Jane Smith\n\nThanks": "Mo Manager\n\nThanks", "PriyaJaneSmith": "PriyaMo"})  # fmt: skip
    await poller(ctx, box).poll_once()
    refused = str(box.sent()[-1].get_body(preferencelist=("plain",)))
    assert "Mo Manager is the manager of Tom Jones, so cannot be the IRO for SO-2026-0001" in refused
    assert "Omar Rahman (0 open orders)" in refused and "Mo Manager (" not in refused
    async with ctx.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(models.Allocation)) == 0


async def test_a_bad_order_email_gets_a_reply_listing_the_problems(ctx: Context, box: MaildirMailbox) -> None:
    notes: list[str] = []

    async def unreadable(note: str) -> None:
        notes.append(note)

    deliver(box, "19_impossible_dates.eml")
    report = await poller(ctx, box, Notices(unreadable=unreadable)).poll_once()
    assert report.orders == [] and report.replied == 1 and len(box.folder(NEEDS_ATTENTION)) == 1
    reply = box.sent()[-1]
    text = str(reply.get_body(preferencelist=("plain",)))
    assert "is not a date" in text and "Child ID:" in text  # the problem, and the template
    assert reply["Subject"].startswith("Re: ") and notes and NEEDS_ATTENTION in notes[0]
    assert await orders_count(ctx) == 0


async def test_untrusted_senders_and_auto_replies_get_no_answer(ctx: Context, box: MaildirMailbox) -> None:
    deliver(box, "01_plain_template.eml", **{"tom.jones@example.gov.uk": "someone@elsewhere.example.com",
            "20260303154210.1001": "untrusted.1"})  # fmt: skip
    deliver(box, "25_auto_reply_auto_submitted.eml")
    report = await poller(ctx, box).poll_once()
    assert report.orders == [] and report.replied == 0 and box.sent() == []
    [untrusted] = box.folder(NEEDS_ATTENTION)
    assert b"someone@elsewhere.example.com" in untrusted
    # Left unread for a person to look at.
    assert "S" not in mailbox.MaildirMessage(untrusted).get_flags()
    assert len(box.folder(PROCESSED)) == 1


async def test_a_crash_between_commit_and_move_makes_no_second_order(ctx: Context, box: MaildirMailbox) -> None:
    deliver(box, "01_plain_template.eml")

    class CrashOnMove(MaildirMailbox):
        async def move(self, message: RawMessage, folder: str) -> None:
            raise ConnectionError("the mail server went away")

    crashing = CrashOnMove(box.root, UNIT)
    with pytest.raises(ConnectionError):
        await poller(ctx, crashing).poll_once()
    assert await orders_count(ctx) == 1
    # The message is still in the inbox; the next poll files it without a second order.
    report = await poller(ctx, box).poll_once()
    assert report.already_done == 1 and report.orders == [] and await orders_count(ctx) == 1
    assert len(box.folder(PROCESSED)) == 1


async def test_the_mail_server_dropping_mid_poll_loses_nothing(ctx: Context, box: MaildirMailbox) -> None:
    deliver(box, "01_plain_template.eml")
    deliver(box, "21_two_orders_siblings.eml")

    class DropsAfterOne(MaildirMailbox):
        reads = 0

        async def new_messages(self) -> list[RawMessage]:
            messages = await super().new_messages()
            return messages[:1]  # the connection went before the rest were read

    await poller(ctx, DropsAfterOne(box.root, UNIT)).poll_once()
    assert len(await box.new_messages()) == 1
    report = await poller(ctx, box).poll_once()
    assert len(report.orders) == 2 and await orders_count(ctx) == 3


def test_outgoing_mail_names_no_child(tmp_path: Path) -> None:
    from mail.compose import problems_reply, to_mime

    message = problems_reply("a@example.gov.uk", "New order", "<m@x>", ["Child ID is missing."])
    assert message.in_reply_to == "<m@x>" and message.subject == "Re: New order"
    parsed = message_from_bytes(to_mime(message, UNIT).as_bytes(), policy=policy.default)
    assert parsed["Auto-Submitted"] == "auto-generated" and parsed["In-Reply-To"] == "<m@x>"
    assert to_mime(problems_reply("a@example.gov.uk", "S", "m@x", ["x"]), UNIT)["In-Reply-To"] == "<m@x>"


@pytest.mark.parametrize(
    "written",
    ["Hi all,\n\nJane Smith please", "Jane Smith (IRO)", "Hi all, Jane Smith please.", "Dear all\nJane Smith"],
)
async def test_an_allocation_reply_forgives_greetings_please_and_iro(
    ctx: Context, box: MaildirMailbox, written: str
) -> None:
    deliver(box, "01_plain_template.eml")
    await poller(ctx, box).poll_once()
    deliver(box, "23_reply_chain_allocation_gmail_quoted.eml", **{"SO-2026-0007": "SO-2026-0001",
            "Jane Smith\n\nThanks": f"{written}\n\nThanks"})  # fmt: skip
    report = await poller(ctx, box).poll_once()
    assert report.allocations == ["SO-2026-0001"]
    assert "Jane Smith is now the IRO" in str(box.sent()[-1].get_body(preferencelist=("plain",)))


async def test_every_email_sobot_writes_is_one_html_document(ctx: Context, box: MaildirMailbox) -> None:
    deliver(box, "01_plain_template.eml")
    deliver(box, "19_impossible_dates.eml")
    await poller(ctx, box).poll_once()
    await dispatcher(ctx, box).tick()  # the allocation request goes with the dispatcher, the reply with the poll
    sent = box.sent()
    assert len(sent) == 2
    for message in sent:
        html = message.get_body(preferencelist=("html",))
        assert html is not None
        markup = html.get_content().strip()
        assert markup.count("<html") == 1 and markup.startswith("<html>") and markup.endswith("</html>")


async def test_a_reply_lists_twenty_problems_and_says_how_many_more(ctx: Context, box: MaildirMailbox) -> None:
    # Twenty children's orders, each with only its Child ID: three problems each.
    lines = "".join(f"Child ID: LCS-{n}\n\n" for n in range(20))
    deliver(box, "01_plain_template.eml", **{"Child ID: LCS-104233\n": lines, "Child name: Amy Brown\n": "",
            "Order type: Supervision Order\n": "", "Date made: 3 March 2026\n": ""})  # fmt: skip
    report = await poller(ctx, box).poll_once()
    assert report.replied == 1 and report.orders == [] and await orders_count(ctx) == 0
    [reply] = box.sent()
    listed = [line for line in plain(reply).split("\n") if line.startswith("- ")]
    assert len(listed) == 21 and listed[-1] == "- … and 40 more problems like these."


async def test_a_mail_of_thousands_of_orders_gets_one_sentence(ctx: Context, box: MaildirMailbox) -> None:
    lines = "".join(f"Child ID: LCS-{n}\n" for n in range(5000))
    deliver(box, "01_plain_template.eml", **{"Child ID: LCS-104233\n": lines})
    report = await poller(ctx, box).poll_once()
    assert report.replied == 1 and report.orders == [] and await orders_count(ctx) == 0
    [reply] = box.sent()
    assert "This email gives 5000 orders, and one email may give at most 20" in " ".join(plain(reply).split())
    assert len(reply.as_bytes()) < 20_000


async def test_a_mail_too_large_to_read_is_answered_and_left_for_a_person(ctx: Context, box: MaildirMailbox) -> None:
    notes: list[str] = []

    async def unreadable(note: str) -> None:
        notes.append(note)

    deliver(box, "01_plain_template.eml", **{"Conditions:": "Conditions: " + "word " * 10_000})
    report = await replace(poller(ctx, box, Notices(unreadable=unreadable)), max_bytes=20_000).poll_once()
    assert report.orders == [] and report.replied == 1 and await orders_count(ctx) == 0
    assert len(box.folder(NEEDS_ATTENTION)) == 1 and notes and "too large" in notes[0]
    [reply] = box.sent()
    text = plain(reply)
    assert "more than the 20 KB sobot reads" in text and "nothing was saved" in text


async def test_a_mail_that_takes_too_long_to_read_is_left_for_a_person(ctx: Context, box: MaildirMailbox) -> None:
    notes: list[str] = []

    async def unreadable(note: str) -> None:
        notes.append(note)

    deliver(box, "01_plain_template.eml", **{"Conditions:": "Conditions: " + "word\n" * 200_000})
    report = await replace(poller(ctx, box, Notices(unreadable=unreadable)), read_seconds=0.000_001).poll_once()
    assert report.orders == [] and report.replied == 0 and await orders_count(ctx) == 0
    assert len(box.folder(NEEDS_ATTENTION)) == 1 and notes and "to read" in notes[0]


async def test_mail_from_an_allowed_domain_that_no_one_vouches_for_is_left_unanswered(
    ctx: Context, box: MaildirMailbox
) -> None:
    notes: list[str] = []

    async def unreadable(note: str) -> None:
        notes.append(note)

    mailbox.Maildir(box.root).add(mailbox.MaildirMessage((CORPUS / "01_plain_template.eml").read_bytes()))
    report = await poller(ctx, box, Notices(unreadable=unreadable)).poll_once()
    assert report.orders == [] and report.replied == 0 and box.sent() == []
    assert len(box.folder(NEEDS_ATTENTION)) == 1 and "does not vouch for" in notes[0]


def plain(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


FORWARD = "11_forwarded_inline_gmail.eml"
WORKERS = """name,email,roles,team,manager_email,entra_id
Rachel Green,rachel.green@example.gov.uk,social_worker,North,,
Dev Sharma,dev.sharma@example.gov.uk,social_worker,North,,
"""


@pytest.mark.parametrize(
    "change",
    [
        {"Social worker: rachel.green@example.gov.uk": "Social worker: Dev Sharma"},
        {"Social worker: rachel.green@example.gov.uk": "Social worker: Dev Sharma <dev.sharma@example.gov.uk>"},
        # The forwarder says who it is above what they forward.
        {"Social worker: rachel.green@example.gov.uk\n": "",
         "FYI - please set this up.": "FYI - please set this up.\n\nSocial worker: Dev Sharma"},
    ],
)  # fmt: skip
async def test_the_social_worker_a_forward_names_is_the_orders(
    ctx: Context, box: MaildirMailbox, change: dict[str, str]
) -> None:
    await people.import_people(ctx, WORKERS, CLI)
    deliver(box, FORWARD, **change)
    report = await poller(ctx, box).poll_once()
    [reference] = report.orders
    assert (await orders.get_order(ctx, reference, CLI)).social_worker == "Dev Sharma"  # not Rachel, who forwarded it


async def test_a_named_social_worker_not_in_the_directory_gets_a_reply_and_no_order(
    ctx: Context, box: MaildirMailbox
) -> None:
    await people.import_people(ctx, WORKERS, CLI)
    deliver(box, FORWARD, **{"Social worker: rachel.green@example.gov.uk": "Social worker: Ann Nobody"})
    report = await poller(ctx, box).poll_once()
    assert report.orders == [] and report.replied == 1 and await orders_count(ctx) == 0
    assert "no social worker called 'Ann Nobody' in the directory" in plain(box.sent()[-1])


def without_message_id(name: str, received: str) -> bytes:
    """A corpus mail with no Message-ID, as delivered through the relay named `received`."""
    raw = (CORPUS / name).read_bytes()
    lines = [line for line in raw.split(b"\n") if not line.lower().startswith(b"message-id:")]
    return vouched(
        f"Received: from {received} by mx.example.gov.uk; Tue, 03 Mar 2026 15:42:12 +0000\n".encode()
        + b"\n".join(lines)
    )


async def test_the_same_mail_without_a_message_id_delivered_twice_makes_one_order(
    ctx: Context, box: MaildirMailbox
) -> None:
    for relay in ("relay-1.example.gov.uk", "relay-2.example.gov.uk"):
        mailbox.Maildir(box.root).add(mailbox.MaildirMessage(without_message_id("01_plain_template.eml", relay)))
    report = await poller(ctx, box).poll_once()
    assert report.orders == ["SO-2026-0001"] and report.already_done == 1 and await orders_count(ctx) == 1
    assert len(box.folder(PROCESSED)) == 2


async def test_replies_are_queued_once_and_sent_with_a_stable_message_id(ctx: Context, box: MaildirMailbox) -> None:
    deliver(box, "19_impossible_dates.eml")

    class CrashOnMove(MaildirMailbox):
        async def move(self, message: RawMessage, folder: str) -> None:
            raise ConnectionError("the mail server went away")

    # Read, answered in the outbox, not filed: the next poll reads it again but answers it once.
    crashing = Poller(ctx, CrashOnMove(box.root, UNIT), UNIT, ["example.gov.uk"], trust=TRUST)
    with pytest.raises(ConnectionError):
        await crashing.poll_once()
    assert box.sent() == []
    await poller(ctx, box).poll_once()
    [reply] = box.sent()
    async with ctx.database.session() as session:
        [row] = (await session.scalars(select(models.Notification))).all()
    assert (row.kind, row.state, row.address) == ("reply", "sent", "omar.rahman@example.gov.uk")
    assert reply["Message-ID"] == f"<{outbox.message_token(row.id, row.dedupe_key)}@example.gov.uk>"


async def test_replies_go_out_of_working_hours_and_allocation_requests_wait(ctx: Context, box: MaildirMailbox) -> None:
    night = replace(ctx, clock=FixedClock(datetime(2026, 3, 18, 22, tzinfo=UTC)))
    deliver(box, "19_impossible_dates.eml")
    deliver(box, "01_plain_template.eml")
    await poller(night, box).poll_once()
    await dispatcher(night, box).tick()
    [reply] = box.sent()
    assert reply["To"] == "omar.rahman@example.gov.uk" and reply["Subject"].startswith("Re: ")
    morning = replace(ctx, clock=FixedClock(datetime(2026, 3, 19, 9, tzinfo=UTC)))
    await dispatcher(morning, box).tick()  # in the next morning's working hours the request goes
    assert [m["Subject"] for m in box.sent()][1:] == ["[SO-2026-0001] Allocate an IRO"]


async def test_allocation_requests_go_to_the_named_address_and_come_back_ignored(
    ctx: Context, box: MaildirMailbox
) -> None:
    deliver(box, "01_plain_template.eml")
    await poller(ctx, box).poll_once()
    await dispatcher(ctx, box, ("su-team@example.gov.uk",)).tick()
    [request] = box.sent()
    assert request["To"] == "su-team@example.gov.uk" and request["From"] == UNIT
    # The list includes the shared mailbox: the request arrives there too, and sobot leaves it alone.
    mailbox.Maildir(box.root).add(mailbox.MaildirMessage(request.as_bytes()))
    report = await poller(ctx, box).poll_once()
    assert (report.orders, report.allocations, report.replied, report.needs_attention) == ([], [], 0, 0)
    assert len(box.sent()) == 1 and len(box.folder(PROCESSED)) == 2 and await orders_count(ctx) == 1
    async with ctx.database.session() as session:
        outcomes = (await session.scalars(select(models.ProcessedMail.outcome).order_by(models.ProcessedMail.id))).all()
    assert outcomes[-1] == "own"


async def test_the_step_of_telling_the_unit_is_done_when_sobot_tells_it(ctx: Context, box: MaildirMailbox) -> None:
    deliver(box, "01_plain_template.eml")
    await poller(ctx, box).poll_once()

    async def state() -> str:
        view = await orders.get_order(ctx, "SO-2026-0001", CLI)
        return next(step.state for step in view.steps if step.key == orders.UNIT_TOLD)

    assert await state() != "done"
    await dispatcher(ctx, box).tick()
    assert await state() == "done"


def parts(message: EmailMessage) -> tuple[str, str]:
    """A sent mail's text and HTML parts."""
    text, markup = message.get_body(preferencelist=("plain",)), message.get_body(preferencelist=("html",))
    assert text is not None and markup is not None
    return str(text.get_content()), str(markup.get_content())


def opened(message: EmailMessage) -> tuple[list[str], list[str]]:
    """Where a sent mail's "Open in sobot" goes, in its text part and in its HTML part."""
    text, markup = parts(message)
    return re.findall(r"^Open in sobot: (\S+)$", text, re.MULTILINE), re.findall(r'<a href="([^"]+)">Open in sobot</a>',
                                                                                 markup)  # fmt: skip


PAGE = "http://127.0.0.1:3978/orders/SO-2026-0001"


async def test_the_answers_to_the_units_allocation_replies_open_the_order(ctx: Context, box: MaildirMailbox) -> None:
    deliver(box, "01_plain_template.eml")
    await poller(ctx, box).poll_once()
    # Allocated, refused (Tom is not of the unit), and about an order there is not.
    deliver(box, "23_reply_chain_allocation_gmail_quoted.eml", **{"SO-2026-0007": "SO-2026-0001"})
    await poller(ctx, box).poll_once()
    deliver(box, "23_reply_chain_allocation_gmail_quoted.eml", **{"SO-2026-0007": "SO-2026-0001",
            "priya.patel@example.gov.uk": "tom.jones@example.gov.uk", "PriyaJaneSmith": "TomJaneSmith"})  # fmt: skip
    await poller(ctx, box).poll_once()
    deliver(box, "23_reply_chain_allocation_gmail_quoted.eml", **{"SO-2026-0007": "SO-2026-0099",
            "PriyaJaneSmith": "PriyaNoOrder"})  # fmt: skip
    await poller(ctx, box).poll_once()
    allocated, refused, unknown = box.sent()[-3:]
    assert "is now the IRO" in parts(allocated)[0] and opened(allocated) == ([PAGE], [PAGE])
    assert "Only members of the Safeguarding Unit" in parts(refused)[0] and opened(refused) == ([PAGE], [PAGE])
    assert "SO-2026-0099" in parts(unknown)[0] and opened(unknown) == ([], [])


async def test_the_answer_to_an_order_already_recorded_opens_it(ctx: Context, box: MaildirMailbox) -> None:
    deliver(box, "01_plain_template.eml")
    await poller(ctx, box).poll_once()
    deliver(box, "01_plain_template.eml", **{"20260303154210.1001": "20260304091500.2002"})  # sent again, new id
    report = await poller(ctx, box).poll_once()
    assert report.orders == [] and report.replied == 1
    [answer] = box.sent()
    assert "Already recorded as SO-2026-0001" in parts(answer)[0]
    assert opened(answer) == ([PAGE], [PAGE])


async def test_a_problems_reply_opens_the_orders_the_email_did_record(ctx: Context, box: MaildirMailbox) -> None:
    # Two children's orders; the second names a social worker the directory does not know.
    deliver(box, "21_two_orders_siblings.eml", **{"tom.jones@example.gov.uk\nCourt: Family Court at Leeds\nConditions":
                                                  "Ann Nobody\nCourt: Family Court at Leeds\nConditions"})  # fmt: skip
    report = await poller(ctx, box).poll_once()
    assert report.orders == ["SO-2026-0001"] and await orders_count(ctx) == 1
    [reply] = box.sent()
    text, _ = parts(reply)
    assert "Order 2 (Ben Brown)" in text and "'Ann Nobody'" in text
    assert "recorded SO-2026-0001 from this email, but could not record the rest" in text
    assert opened(reply) == ([PAGE], [PAGE])
    # An email that recorded nothing has no order to open.
    deliver(box, "18_missing_child_id_and_date_made.eml")
    await poller(ctx, box).poll_once()
    assert opened(box.sent()[-1]) == ([], [])
