"""kill -9 of the mail jobs between the mail server's acceptance of an email and sobot's record of it, again and again,
on every backend: a real Dovecot and SMTP server, and the Microsoft Graph and EWS fakes (sendMail; CreateItem). Nothing
is lost, nothing is sent twice, and the unit is told what may not have arrived. Each run of the poll job and of the
dispatch job is a process of its own (tests/faults/mail_runner.py), pointed at the server by its SOBOT_* settings and
killed by its PID from the server, the moment the server has taken the email and before it answers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, select

from handlers import people
from handlers.context import CLI, Context
from mail.backends import NEEDS_ATTENTION, PROCESSED
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database, models
from tests.fakes.entra import FakeEntra, Tls, make_tls, serve_entra
from tests.fakes.ews import FakeEws, serve_ews
from tests.fakes.graph import FakeGraph, serve_graph
from tests.faults.proxy import free_port
from tests.integration import test_mail_imap as imap
from tests.vouching import TRUST_ENVIRONMENT, vouched

pytestmark = pytest.mark.postgres

dovecot = imap.dovecot
user = imap.user

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "unit" / "mail_corpus"
STAFF = """name,email,roles,team,manager_email,entra_id
Tom Jones,tom.jones@example.gov.uk,social_worker,North,,
Omar Rahman,omar.rahman@example.gov.uk,iro,IROs,,
Jane Smith,jane.smith@example.gov.uk,iro,IROs,,
"""
START = datetime(2026, 3, 18, 9, tzinfo=UTC)
UNIT = imap.UNIT


class Killer:
    """What a mail server does on accepting an email in these tests: keep it, then kill the process that sent it
    (if it still runs) before the server answers, so the sender never hears that it was taken."""

    def __init__(self) -> None:
        self.accepted: list[EmailMessage] = []
        self.victim: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def accept(self, message: EmailMessage) -> None:
        self.accepted.append(message)
        if self.victim is not None and self.victim.poll() is None:
            os.kill(self.victim.pid, signal.SIGKILL)
            self.victim.wait()
            self.kills += 1


class KillOnAccept(Killer):
    """An SMTP server that, once it has accepted an email, kills the process that sent it before it hears 250."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.accept(message)
        return "250 OK"


@pytest.fixture
def killing_smtp() -> Iterator[tuple[KillOnAccept, int]]:
    handler = KillOnAccept()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=imap.smtp_login,
                            auth_require_tls=False)  # fmt: skip
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
async def ctx(postgres_url: str) -> AsyncIterator[Context]:
    database = Database.from_url(postgres_url)
    context = Context(database, load_builtin(), WorkingCalendar(), FixedClock(START), "wirral")
    await people.import_people(context, STAFF, CLI)
    try:
        yield context
    finally:
        await database.dispose()


def order_email(child_id: str) -> bytes:
    raw = (CORPUS / "01_plain_template.eml").read_bytes().replace(b"LCS-104233", child_id.encode())
    return vouched(raw.replace(b"20260303154210.1001", uuid.uuid4().hex.encode()))


def bad_email() -> bytes:
    raw = (CORPUS / "19_impossible_dates.eml").read_bytes()
    return vouched(raw.replace(b"20260316094000.omar.rahman", uuid.uuid4().hex.encode()))


def run_job(server: Killer, role: str, at: datetime, env: dict[str, str]) -> tuple[int, str]:
    """One run of a mail job, its process the server's to kill; its exit status and what it printed."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SOBOT_")}
    child = subprocess.Popen([sys.executable, "-m", "tests.faults.mail_runner", role, at.isoformat()], cwd=ROOT,
                             env=base | env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    server.victim = child
    try:
        _, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, stderr.decode()


async def kill_until_done(server: Killer, env: dict[str, str]) -> None:
    """The poll job, then the dispatch job, each in a process of its own, again and again; each killed at the
    server's acceptance of what it sends, until a round of both runs to the end. The clock moves on after each kill,
    past the lease of the row that was sending, as a restarted service's would."""
    at = START
    runs = 0
    while True:
        finished = True
        for role in ("poll", "dispatch"):
            runs += 1
            assert runs <= 40, "the mail jobs never finished a round"
            returncode, stderr = await asyncio.to_thread(run_job, server, role, at, env)
            if returncode != 0:
                assert returncode == -signal.SIGKILL, stderr
                finished = False
                at += timedelta(minutes=3)
        if finished:
            break
    server.victim = None


async def assert_once_each(ctx: Context, server: Killer) -> None:
    """Nothing sent twice, nothing lost: two orders, each email sent once or reported to the unit as caught."""
    assert server.kills >= 3, "each of the first emails was caught between acceptance and record"
    ids = Counter(str(m["Message-ID"]) for m in server.accepted)
    assert [i for i, n in ids.items() if n > 1] == [], "an email was sent twice"
    subjects = Counter(str(m["Subject"]) for m in server.accepted)
    for reference in ("SO-2026-0001", "SO-2026-0002"):
        assert subjects[f"[{reference}] Allocate an IRO"] <= 1
    replies = [m for m in server.accepted if str(m["Subject"]).startswith("Re: ")]
    assert len(replies) <= 2
    async with ctx.database.session() as session:
        rows = (await session.scalars(select(models.Notification))).all()
        orders = await session.scalar(select(func.count()).select_from(models.Order))
    states = Counter(row.state for row in rows)
    # Every email is sent once, or was caught mid-send (the killed one, and any sent beside it) and is reported to
    # the unit by a note of its own: none waits, none is lost, none goes again.
    assert set(states) <= {"sent", "unconfirmed"}, states
    caught = {row.id for row in rows if row.state == "unconfirmed" and row.kind != "unconfirmed"}
    reported = Counter(row.payload["notification"] for row in rows if row.kind == "unconfirmed")
    assert len(caught) >= server.kills and set(reported) >= caught and max(reported.values()) == 1
    assert orders == 2


def settings_env(postgres_url: str) -> dict[str, str]:
    return {"SOBOT_DATABASE_URL": postgres_url, "SOBOT_UNIT_ADDRESS": UNIT,
            "SOBOT_ALLOWED_SENDER_DOMAINS": '["example.gov.uk"]', **TRUST_ENVIRONMENT}  # fmt: skip


async def test_kill_9_between_the_smtp_servers_acceptance_and_the_record_sends_nothing_twice(
    ctx: Context, postgres_url: str, dovecot: imap.Dovecot, user: str, killing_smtp: tuple[KillOnAccept, int]
) -> None:
    server, smtp_port = killing_smtp
    imap.deliver(dovecot, user, order_email("LCS-300001"), bad_email(), order_email("LCS-300002"), bad_email())
    env = settings_env(postgres_url) | {
        "SOBOT_MAIL_BACKEND": "imap", "SOBOT_IMAP_HOST": "127.0.0.1", "SOBOT_IMAP_PORT": str(dovecot.port),
        "SOBOT_IMAP_SECURITY": "none", "SOBOT_IMAP_USERNAME": user, "SOBOT_IMAP_PASSWORD": imap.PASSWORD,
        "SOBOT_SMTP_HOST": "127.0.0.1", "SOBOT_SMTP_PORT": str(smtp_port), "SOBOT_SMTP_SECURITY": "none",
        "SOBOT_SMTP_USERNAME": UNIT, "SOBOT_SMTP_PASSWORD": imap.PASSWORD,
    }  # fmt: skip

    await kill_until_done(server, env)

    await assert_once_each(ctx, server)
    assert imap.folder(dovecot, user, "INBOX") == []
    assert len(imap.folder(dovecot, user, PROCESSED)) + len(imap.folder(dovecot, user, NEEDS_ATTENTION)) == 4


@pytest.fixture
async def entra(tmp_path: Path) -> AsyncIterator[tuple[FakeEntra, Tls]]:
    """Entra's token endpoint, on TLS as msal insists, for the Graph backend's app-only token."""
    tls = make_tls(tmp_path / "tls")
    async with serve_entra(tls) as fake:
        yield fake, tls


async def test_kill_9_between_graphs_acceptance_of_sendmail_and_the_record_sends_nothing_twice(
    ctx: Context, postgres_url: str, entra: tuple[FakeEntra, Tls]
) -> None:
    tokens, tls = entra
    server = Killer()
    fake = FakeGraph(user=UNIT, token="", accepts=tokens.app_tokens.__contains__, on_send=server.accept)
    async with serve_graph(UNIT, "", fake) as graph:
        for raw in (order_email("LCS-300001"), bad_email(), order_email("LCS-300002"), bad_email()):
            graph.deliver(raw)
        env = settings_env(postgres_url) | {
            "SOBOT_MAIL_BACKEND": "graph", "SOBOT_GRAPH_MAILBOX": UNIT, "SOBOT_GRAPH_TENANT_ID": tokens.tenant,
            "SOBOT_GRAPH_CLIENT_ID": tokens.client_id, "SOBOT_GRAPH_CLIENT_SECRET": tokens.client_secret,
            "SOBOT_GRAPH_URL": graph.base_url.removesuffix("/v1.0"), "SOBOT_ENTRA_AUTHORITY_HOST": tokens.base_url,
            "REQUESTS_CA_BUNDLE": str(tls.ca_file),
        }  # fmt: skip

        await kill_until_done(server, env)

        assert graph.sent == server.accepted and set(graph.sends().values()) == {1}
        await assert_once_each(ctx, server)
        assert graph.in_folder("Inbox") == []
        assert len(graph.in_folder(PROCESSED)) + len(graph.in_folder(NEEDS_ATTENTION)) == 4


async def test_kill_9_between_ews_acceptance_of_createitem_and_the_record_sends_nothing_twice(
    ctx: Context, postgres_url: str
) -> None:
    server = Killer()
    fake = FakeEws(address=UNIT, username="unit-service", password=imap.PASSWORD, on_send=server.accept)
    async with serve_ews(UNIT, fake.username, fake.password, fake) as ews:
        for raw in (order_email("LCS-300001"), bad_email(), order_email("LCS-300002"), bad_email()):
            ews.deliver(raw)
        env = settings_env(postgres_url) | {
            "SOBOT_MAIL_BACKEND": "ews", "SOBOT_EWS_ENDPOINT": ews.endpoint, "SOBOT_EWS_USERNAME": ews.username,
            "SOBOT_EWS_PASSWORD": ews.password, "SOBOT_EWS_AUTH_TYPE": "basic", "SOBOT_EWS_MAX_WAIT": "5",
        }  # fmt: skip

        await kill_until_done(server, env)

        assert ews.sent == server.accepted and set(ews.sends().values()) == {1}
        await assert_once_each(ctx, server)
        assert ews.in_folder("inbox") == []
        assert len(ews.in_folder(PROCESSED)) + len(ews.in_folder(NEEDS_ATTENTION)) == 4
