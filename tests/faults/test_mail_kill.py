"""kill -9 of the mail job between the SMTP server's acceptance of an email and sobot's record of it, again and again,
on a real Dovecot and SMTP server: nothing is lost, nothing is sent twice, and the unit is told what may not have
arrived. Each run is a process of its own (tests/faults/mail_runner.py), killed by its PID from the SMTP server."""

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
from tests.faults.proxy import free_port
from tests.integration import test_mail_imap as imap
from tests.vouching import vouched

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


class KillOnAccept:
    """An SMTP server that, once it has accepted an email, kills the process that sent it before it hears 250."""

    def __init__(self) -> None:
        self.accepted: list[EmailMessage] = []
        self.victim: subprocess.Popen[bytes] | None = None
        self.kills = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        from email import message_from_bytes, policy

        message = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.accepted.append(message)
        if self.victim is not None and self.victim.poll() is None:
            os.kill(self.victim.pid, signal.SIGKILL)
            self.victim.wait()
            self.kills += 1
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


def run_job(server: KillOnAccept, args: list[str]) -> tuple[int, str]:
    """One run of the mail job, its process the server's to kill; its exit status and what it printed."""
    child = subprocess.Popen([sys.executable, "-m", "tests.faults.mail_runner", *args], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    server.victim = child
    try:
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.returncode, stderr.decode()


async def test_kill_9_between_the_servers_acceptance_and_the_record_sends_nothing_twice(
    ctx: Context, postgres_url: str, dovecot: imap.Dovecot, user: str, killing_smtp: tuple[KillOnAccept, int]
) -> None:
    server, smtp_port = killing_smtp
    imap.deliver(dovecot, user, order_email("LCS-300001"), bad_email(), order_email("LCS-300002"), bad_email())
    at = START
    runs = 0
    while True:
        runs += 1
        assert runs <= 30, "the mail job never finished a run"
        args = [postgres_url, str(dovecot.port), user, str(smtp_port), at.isoformat()]
        returncode, stderr = await asyncio.to_thread(run_job, server, args)
        if returncode == 0:
            break
        assert returncode == -signal.SIGKILL, stderr
        at += timedelta(minutes=3)  # past the lease of the row it was sending
    server.victim = None
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
    assert imap.folder(dovecot, user, "INBOX") == []
    assert len(imap.folder(dovecot, user, PROCESSED)) + len(imap.folder(dovecot, user, NEEDS_ATTENTION)) >= 4
