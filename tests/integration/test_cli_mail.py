"""`sobot mail poll --once` against a real Dovecot and SMTP server that are down, refuse sobot, or refuse a recipient:
one sentence and exit status 2 for an IMAP server sobot cannot use; replies, sent from the outbox after the poll,
that an SMTP server down or refusing a recipient leaves queued to try again, the poll carrying on."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.integration.test_cli import refused, sobot
from tests.integration.test_mail_imap import (  # noqa: F401 (fixtures)
    PASSWORD,
    UNIT,
    Dovecot,
    Recorded,
    RefusingRecipient,
    deliver,
    dovecot,
    folder,
    free_port,
    user,
)
from tests.vouching import TRUST_ENVIRONMENT, vouched

CORPUS = Path(__file__).parent.parent / "unit" / "mail_corpus"
STAFF = "name,email,roles\nTom Jones,tom.jones@example.gov.uk,social_worker\n"


def order_mail(child_id: str, *, fixable: bool = False) -> bytes:
    raw = (CORPUS / "01_plain_template.eml").read_bytes()
    raw = raw.replace(b"LCS-104233", child_id.encode()).replace(b"20260303154210.1001", child_id.encode())
    raw = raw.replace(b"Date made: 3 March 2026", b"Date made: 31 February 2026") if fixable else raw
    return vouched(raw)


def imap_env(tmp_path: Path, imap_port: int, smtp_port: int, account: str, password: str = PASSWORD) -> dict[str, str]:
    return {"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sobot.db'}", "SOBOT_MAIL_BACKEND": "imap",
            "SOBOT_IMAP_HOST": "127.0.0.1", "SOBOT_IMAP_PORT": str(imap_port), "SOBOT_IMAP_SECURITY": "none",
            "SOBOT_IMAP_USERNAME": account, "SOBOT_IMAP_PASSWORD": password, "SOBOT_SMTP_HOST": "127.0.0.1",
            "SOBOT_SMTP_PORT": str(smtp_port), "SOBOT_SMTP_SECURITY": "none", "SOBOT_UNIT_ADDRESS": UNIT,
            "SOBOT_ALLOWED_SENDER_DOMAINS": '["example.gov.uk"]', **TRUST_ENVIRONMENT}  # fmt: skip


@pytest.fixture
def smtp_server() -> Iterator[tuple[RefusingRecipient, int]]:
    """An SMTP server that takes mail for everyone but gone.away@example.gov.uk, whom it answers with 550."""
    handler = RefusingRecipient("gone.away@example.gov.uk")
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def one_sentence(stderr: str) -> bool:
    """sobot's answer is one line, one sentence (other lines are the service's start-up log)."""
    said = [line for line in stderr.splitlines() if line.startswith("sobot: ")]
    return len(said) == 1 and said[0].endswith(".") and said[0].count(". ") == 0


def with_staff(env: dict[str, str], tmp_path: Path, staff: str = STAFF) -> dict[str, str]:
    (tmp_path / "staff.csv").write_text(staff, encoding="utf-8")
    assert sobot("people", "import", str(tmp_path / "staff.csv"), env=env).returncode == 0
    return env


def test_an_imap_server_not_listening_is_one_sentence_and_status_2(tmp_path: Path) -> None:
    env = with_staff(imap_env(tmp_path, free_port(), free_port(), UNIT), tmp_path)
    result = sobot("mail", "poll", "--once", env=env)
    refused(result, "I can't use the unit's mail server", "127.0.0.1", "SOBOT_IMAP_* and SOBOT_SMTP_*")
    assert one_sentence(result.stderr)


def test_an_imap_login_refused_is_one_sentence_and_status_2(
    tmp_path: Path,
    dovecot: Dovecot,  # noqa: F811 (a fixture)
    user: str,  # noqa: F811 (a fixture)
) -> None:
    env = with_staff(imap_env(tmp_path, dovecot.port, free_port(), user, password="not the password"), tmp_path)
    result = sobot("mail", "poll", "--once", env=env)
    refused(result, "refused sobot", user, "SOBOT_IMAP_* and SOBOT_SMTP_*")
    assert "not the password" not in result.stderr and one_sentence(result.stderr)


def outbox(tmp_path: Path, kind: str) -> list[tuple[str, int, str | None]]:
    """The outbox rows of `kind` in the CLI's database: their state, tries, and last error."""
    with sqlite3.connect(tmp_path / "sobot.db") as connection:
        rows = connection.execute("SELECT state, attempts, last_error FROM notifications WHERE kind = ?", (kind,))
        return [(state, attempts, error) for state, attempts, error in rows.fetchall()]


def due_now(tmp_path: Path) -> None:
    """Every queued outbox row due at once, as if its pause were over."""
    with sqlite3.connect(tmp_path / "sobot.db") as connection:
        connection.execute("UPDATE notifications SET not_before = '2000-01-01 00:00:00.000000' WHERE state = 'queued'")


def test_an_smtp_server_not_listening_stops_no_poll_and_its_reply_is_sent_when_it_is_back(
    tmp_path: Path,
    dovecot: Dovecot,  # noqa: F811 (a fixture)
    user: str,  # noqa: F811 (a fixture)
    smtp_server: tuple[Recorded, int],
) -> None:
    """The poll sends nothing but replies, from the outbox, after it: an SMTP server that is down leaves the reply
    queued and the messages read and filed, and the command says so in one sentence with exit status 2; nothing is
    lost or done twice."""
    deliver(dovecot, user, order_mail("LCS-400001"), order_mail("LCS-400002", fixable=True))
    env = with_staff(imap_env(tmp_path, dovecot.port, free_port(), user), tmp_path)
    result = sobot("mail", "poll", "--once", env=env)
    refused(result, "mail server refused the replies", "1 reply waits in the outbox and will be sent when it answers",
            "1 new order, 1 to Needs attention", "SOBOT_IMAP_* and SOBOT_SMTP_*")  # fmt: skip
    assert one_sentence(result.stderr), result.stderr
    assert folder(dovecot, user, "INBOX") == [] and len(folder(dovecot, user, "Processed")) == 1
    assert len(folder(dovecot, user, "Needs attention")) == 1
    [(state, tries, error)] = outbox(tmp_path, "reply")
    assert (state, tries) == ("queued", 1) and error is not None and "could not be reached" in error

    # The SMTP server back, the reply's pause over: the reply goes once; the order is not made again, and its
    # allocation request is left to the service's dispatch tick.
    recorded, port = smtp_server
    due_now(tmp_path)
    result = sobot("mail", "poll", "--once", env=env | {"SOBOT_SMTP_PORT": str(port)})
    assert result.returncode == 0, result.stderr
    assert "0 new orders" in result.stdout and "1 reply sent" in result.stdout
    assert [str(m["Subject"]) for m in recorded.messages()] == ["Re: New supervision order - LCS-400002"]
    assert [(state, tries) for state, tries, _ in outbox(tmp_path, "reply")] == [("sent", 2)]
    assert len(outbox(tmp_path, "allocation")) == 1 and outbox(tmp_path, "allocation")[0][0] == "queued"
    result = sobot("mail", "poll", "--once", env=env | {"SOBOT_SMTP_PORT": str(port)})
    assert result.returncode == 0 and "0 replies sent" in result.stdout and len(recorded.messages()) == 1


def test_a_recipient_smtp_refuses_is_retried_from_the_outbox_and_the_poll_goes_on(
    tmp_path: Path,
    dovecot: Dovecot,  # noqa: F811 (a fixture)
    user: str,  # noqa: F811 (a fixture)
    smtp_server: tuple[Recorded, int],
) -> None:
    recorded, port = smtp_server
    refused_reply = order_mail("LCS-500002", fixable=True).replace(b"tom.jones@", b"gone.away@")
    deliver(dovecot, user, order_mail("LCS-500001"), refused_reply, order_mail("LCS-500003"),
            order_mail("LCS-500004", fixable=True))  # fmt: skip
    staff = STAFF + "Gone Away,gone.away@example.gov.uk,social_worker\n"
    env = with_staff(imap_env(tmp_path, dovecot.port, port, user), tmp_path, staff)

    result = sobot("mail", "poll", "--once", env=env)

    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "2 new orders" in result.stdout and "2 replies, 1 reply sent (1 to send again later" in result.stdout
    # The 550 stopped neither the poll nor the other reply; the CLI's poll sends no allocation requests.
    assert [str(m["Subject"]) for m in recorded.messages()] == ["Re: New supervision order - LCS-500004"]
    assert folder(dovecot, user, "INBOX") == [] and len(folder(dovecot, user, "Processed")) == 2
    assert len(folder(dovecot, user, "Needs attention")) == 2
    assert sorted((state, tries) for state, tries, _ in outbox(tmp_path, "reply")) == [("queued", 1), ("sent", 1)]

    # Its pause over, the next poll tries the refused reply again (and only it); nothing else is redone.
    due_now(tmp_path)
    result = sobot("mail", "poll", "--once", env=env)
    assert result.returncode == 0 and "0 new orders" in result.stdout, result.stderr
    assert "0 replies sent (1 to send again later" in result.stdout and len(recorded.messages()) == 1
    assert sorted((state, tries) for state, tries, _ in outbox(tmp_path, "reply")) == [("queued", 2), ("sent", 1)]


def test_two_sobot_processes_polling_one_maildir_act_on_each_message_once(tmp_path: Path, database_url: str) -> None:
    import mailbox
    import os
    import subprocess
    import sys
    from email import message_from_bytes, policy

    root = tmp_path / "mailbox"
    env = {"SOBOT_DATABASE_URL": database_url, "SOBOT_MAILBOX_DIR": str(root), "SOBOT_UNIT_ADDRESS": UNIT,
           "SOBOT_ALLOWED_SENDER_DOMAINS": '["example.gov.uk"]', **TRUST_ENVIRONMENT}  # fmt: skip
    with_staff(env, tmp_path)
    store = mailbox.Maildir(root, create=True)
    fixable = {n for n in range(30) if n % 5 == 4}
    for n in range(30):
        store.add(mailbox.MaildirMessage(order_mail(f"LCS-6{n:05d}", fixable=n in fixable)))

    environment = {k: v for k, v in os.environ.items() if not k.startswith("SOBOT_")} | env
    command = [sys.executable, "-m", "sobot.cli", "mail", "poll", "--once"]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
            for _ in range(2)]  # fmt: skip
    results = [(run.wait(timeout=120), *run.communicate()) for run in runs]

    for status, _, stderr in results:
        assert status == 0 and "Traceback" not in stderr, stderr
    assert list(store.iterkeys()) == []
    assert len(store.get_folder("Processed")) == 30 - len(fixable)
    assert len(store.get_folder("Needs attention")) == len(fixable)
    sent = [message_from_bytes(store.get_folder("Sent").get_bytes(key), policy=policy.default)
            for key in store.get_folder("Sent").iterkeys()]  # fmt: skip
    subjects = sorted(str(m["Subject"]) for m in sent)
    # A reply to each fixable message, once; the CLI's poll leaves the allocation requests to the service's
    # dispatch tick: queued, one for each order, once.
    assert len(subjects) == len(fixable) and len(set(subjects)) == len(fixable)
    assert all(s.startswith("Re: ") for s in subjects)
    assert asyncio.run(allocations_queued(database_url)) == (30 - len(fixable), 30 - len(fixable))


async def allocations_queued(url: str) -> tuple[int, int]:
    """How many allocation requests are queued in the outbox, and for how many orders."""
    from sqlalchemy import func, select

    from storage import Database, models

    database = Database.from_url(url)
    try:
        async with database.session() as session:
            table = models.Notification
            queued = (table.kind == "allocation") & (table.state == "queued")
            rows = await session.scalar(select(func.count()).select_from(table).where(queued))
            orders = await session.scalar(select(func.count(func.distinct(table.order_id))).where(queued))
            return rows or 0, orders or 0
    finally:
        await database.dispose()
