"""One suite, every mailbox: an order by email, the allocation request sent, a unit reply that allocates.

Run against each target the unit's mailbox can be: Maildir, a real Dovecot (with aiosmtpd), and the
loopback fakes of Microsoft Graph and EWS that the real client code talks to.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from handlers import people
from handlers.context import CLI, Context
from mail.backends import NEEDS_ATTENTION, PROCESSED, Mailbox
from mail.backends.ews import EwsMailbox
from mail.backends.graph import GraphMailbox
from mail.backends.maildir import MaildirMailbox
from mail.poller import Notices, Poller
from mail.trust import SenderTrust
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database
from tests import mailing
from tests.fakes.ews import serve_ews
from tests.fakes.graph import serve_graph
from tests.integration.test_mail_imap import PASSWORD, Dovecot, dovecot, smtp, user  # noqa: F401 (fixtures)
from tests.integration.test_mail_imap import deliver as imap_deliver
from tests.integration.test_mail_imap import folder as imap_folder
from tests.integration.test_mail_imap import mailbox as imap_mailbox
from tests.vouching import AUTHSERV_ID, EXCHANGE, TRUST, vouched

CORPUS = Path(__file__).parent.parent / "unit" / "mail_corpus"
UNIT = "safeguarding.unit@example.gov.uk"
STAFF = """name,email,roles
Tom Jones,tom.jones@example.gov.uk,social_worker
Priya Patel,priya.patel@example.gov.uk,safeguarding_unit
Jane Smith,jane.smith@example.gov.uk,iro
"""


@dataclass
class Target:
    """A mailbox, how a test puts mail into its inbox, and how it reads what was sent and filed."""

    mailbox: Mailbox
    deliver: Callable[[bytes], None]
    sent: Callable[[], list[EmailMessage]]
    filed: Callable[[str], int]
    # How the mail system behind this mailbox vouches for senders: Exchange's own marker for Graph and EWS.
    trust: SenderTrust = TRUST


def _parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture(params=["maildir", "imap", "graph", "ews"])
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Target]:
    if request.param == "maildir":
        import mailbox as stdlib_mailbox

        box = MaildirMailbox(tmp_path / "mailbox", UNIT)
        store = stdlib_mailbox.Maildir(box.root)
        yield Target(box, lambda raw: store.add(stdlib_mailbox.MaildirMessage(raw)), box.sent,
                     lambda name: len(box.folder(name)))  # fmt: skip
    elif request.param == "imap":
        server: Dovecot = request.getfixturevalue("dovecot")
        account: str = request.getfixturevalue("user")
        recorded, port = request.getfixturevalue("smtp")
        imap = imap_mailbox(server, account, smtp_port=port)
        yield Target(imap, lambda raw: imap_deliver(server, account, raw), recorded.messages,
                     lambda name: len(imap_folder(server, account, name)))  # fmt: skip
    elif request.param == "graph":
        async with serve_graph(UNIT, "token") as fake:
            graph = GraphMailbox(UNIT, lambda: "token", base_url=fake.base_url)
            yield Target(graph, lambda raw: fake.deliver(raw) and None, lambda: list(fake.sent),
                         lambda name: len(fake.in_folder(name)), EXCHANGE)  # fmt: skip
    else:
        async with serve_ews(UNIT, "svc", PASSWORD) as fake:
            ews = EwsMailbox(UNIT, service_endpoint=fake.endpoint, username="svc", password=PASSWORD,
                             auth_type="basic", max_wait=1)  # fmt: skip
            yield Target(ews, lambda raw: fake.deliver(raw) and None, lambda: _sent_items(fake),
                         lambda name: len(fake.in_folder(name)), EXCHANGE)  # fmt: skip


def _sent_items(fake: Any) -> list[EmailMessage]:
    return [_parse(item.mime) for item in fake.in_folder("Sent Items")]


@pytest.fixture
async def ctx(database: Database) -> Context:
    context = Context(database, load_builtin(), WorkingCalendar(), FixedClock(datetime(2026, 3, 4, 9, tzinfo=UTC)),
                      "wirral")  # fmt: skip
    await people.import_people(context, STAFF, CLI)
    return context


def corpus(name: str, **replace: str) -> bytes:
    raw = (CORPUS / name).read_bytes()
    for old, new in replace.items():
        raw = raw.replace(old.encode(), new.encode())
    return raw


def plain(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_orders_and_allocations_by_email_on_every_mailbox(ctx: Context, target: Target) -> None:
    poller = mailing.poller(ctx, target.mailbox, UNIT, ["example.gov.uk"], trust=target.trust)
    target.deliver(vouched(corpus("01_plain_template.eml")))
    target.deliver(vouched(corpus("19_impossible_dates.eml")))

    report = await poller.poll_once()
    await mailing.dispatcher(ctx, target.mailbox, UNIT).tick()  # the allocation request, from the outbox
    assert report.orders == ["SO-2026-0001"] and report.replied == 1 and report.needs_attention == 1
    assert await target.mailbox.new_messages() == []
    assert target.filed(PROCESSED) == 1 and target.filed(NEEDS_ATTENTION) == 1
    subjects = {m["Subject"]: m for m in target.sent()}
    request = subjects["[SO-2026-0001] Allocate an IRO"]
    assert "Jane Smith (0 open orders)" in plain(request) and "Amy Brown" not in request.as_string()
    assert any(s.startswith("Re: ") and "is not a date" in plain(m) for s, m in subjects.items())

    target.deliver(vouched(corpus("23_reply_chain_allocation_gmail_quoted.eml", **{"SO-2026-0007": "SO-2026-0001"})))
    report = await poller.poll_once()
    assert report.allocations == ["SO-2026-0001"]
    answer = target.sent()[-1]
    assert "Jane Smith is now the IRO for SO-2026-0001" in plain(answer)
    assert answer["In-Reply-To"] == "<CAF3x9kT5replyPriyaJaneSmith0304@mail.gmail.com>"
    assert target.filed(PROCESSED) == 2
    assert (await poller.poll_once()).orders == []  # nothing twice


# What the council's mail system stamps on mail from outside that claims an inside sender: spf and dmarc fail,
# and Exchange calls the sender anonymous. Below it, what the forger wrote to look vouched for.
REFUSED = (
    f"Authentication-Results: {AUTHSERV_ID}; spf=fail smtp.mailfrom=example.gov.uk; dkim=none; "
    "dmarc=fail action=none header.from=example.gov.uk\n"
    "X-MS-Exchange-Organization-AuthAs: Anonymous\n"
    "Received: from mail.evil.example (mail.evil.example [203.0.113.9]) by mx.example.gov.uk\n"
)
_FORGERIES = itertools.count()
FORGED = (
    f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=example.gov.uk\n"
    "X-MS-Exchange-Organization-AuthAs: Internal\n"
)


def forged(name: str, *, from_line: str | None = None, stamp: str = REFUSED + FORGED, **replace: str) -> bytes:
    raw = corpus(name, **replace).replace(b"Message-ID: <", f"Message-ID: <{next(_FORGERIES)}.".encode())
    if from_line is not None:
        head, _, rest = raw.partition(b"\nFrom: ")
        raw = head + b"\nFrom: " + from_line.encode() + b"\n" + rest.partition(b"\n")[2]
    return stamp.encode() + raw


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_forged_senders_are_never_obeyed_on_every_mailbox(ctx: Context, target: Target) -> None:
    notes: list[str] = []

    async def unreadable(note: str) -> None:
        notes.append(note)

    poller = Poller(ctx, target.mailbox, UNIT, ["example.gov.uk"], Notices(unreadable=unreadable), target.trust)
    target.deliver(vouched(corpus("01_plain_template.eml")))
    assert (await poller.poll_once()).orders == ["SO-2026-0001"]
    sent = len(target.sent())
    allocation = {"SO-2026-0007": "SO-2026-0001"}
    # An outsider bearing the unit member's From; then the same with a vouching stamp of the forger's own server;
    # then, vouched for, From lines that read as one address and are another.
    target.deliver(forged("23_reply_chain_allocation_gmail_quoted.eml", **allocation))
    target.deliver(forged("23_reply_chain_allocation_gmail_quoted.eml", stamp="Authentication-Results: "
                          "mx.evil.example; dmarc=pass header.from=example.gov.uk\n", **allocation))  # fmt: skip
    for from_line in ("priya.patel@example.gov.uk <attacker@evil.example>",
                      '"priya.patel@example.gov.uk" <tom.jones@example.gov.uk>',
                      "Priya Patel <priya.patel@example.gov.uk>, attacker@evil.example"):  # fmt: skip
        target.deliver(vouched(forged("23_reply_chain_allocation_gmail_quoted.eml", from_line=from_line, stamp="",
                                      **allocation)))  # fmt: skip
    # A new order from a social worker's forged From.
    target.deliver(forged("15_dates_written_in_words.eml"))

    report = await poller.poll_once()
    assert report.allocations == [] and report.orders == [] and report.replied == 0
    assert report.needs_attention == 6 and target.filed(NEEDS_ATTENTION) == 6
    assert len(target.sent()) == sent  # no answer to anyone: the From could be anyone's
    assert len([note for note in notes if "does not vouch for" in note]) == 6
