"""1,000 notification emails from a Maildir to committed orders, beside the stdlib parser on the same files and a
baseline of that parser plus one committed insert per mail (the mail's receipt) on the same database.

On PostgreSQL (`--database-url`) the database is made when missing, and each run's mail and children are its own
(named by the run), so a database used before serves again."""

from __future__ import annotations

import argparse
import asyncio
import email
import mailbox
import os
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from handlers import people, receipts
from handlers.context import CLI
from mail.backends import PROCESSED
from mail.backends.maildir import MaildirMailbox
from mail.poller import Notices
from rules.clock import FixedClock
from sobot.app import build_sobot
from sobot.settings import load_settings
from storage import upgrade

EMAILS = int(os.environ.get("SOBOT_BENCH_EMAILS", "1000"))
ROUNDS = 4
UNIT = "safeguarding.unit@example.gov.uk"
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/sobot_bench"


def notification(n: int, run: str) -> bytes:
    return f"""Authentication-Results: mx.example.gov.uk; dmarc=pass header.from=example.gov.uk
From: Tom Jones <tom.jones@example.gov.uk>
To: Safeguarding Unit <{UNIT}>
Subject: New supervision order - LCS-{run}-{n:06d}
Date: Tue, 03 Mar 2026 15:42:10 +0000
Message-ID: <bench.{run}.{n}@mail.example.gov.uk>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

Hello,

Child ID: LCS-{run}-{n:06d}
Child name: Amy Brown
Date of birth: 14/07/2015
Order type: Supervision Order
Date made: 3rd March 2026
Length or Last day: 12 months
Social worker: tom.jones@example.gov.uk
Court: Family Court at Leeds
Conditions: Mother to engage with the parenting programme.

Thanks,
Tom
""".replace("\n", "\r\n").encode()


async def made_if_missing(database_url: str) -> None:
    """Make the PostgreSQL database the URL names, unless it is there already."""
    url = make_url(database_url)
    admin = await asyncpg.connect(url.set(drivername="postgresql", database="postgres").render_as_string(False))
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", url.database):
            await admin.execute(f'CREATE DATABASE "{url.database}"')
    finally:
        await admin.close()


async def run(database_url: str | None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sobot-mail-bench-"))
    url = database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    if url.startswith("postgresql"):
        await made_if_missing(url)
    await upgrade(url)
    token = uuid.uuid4().hex[:8]  # this run's mail and children
    settings = load_settings({}, database_url=url, mailbox_dir=folder / "mailbox", unit_address=UNIT,
                             allowed_sender_domains=["example.gov.uk"], procedure="wirral",
                             mail_authserv_ids=["mx.example.gov.uk"])  # fmt: skip
    sobot = build_sobot(settings, clock=FixedClock(datetime(2026, 3, 4, 9, tzinfo=UTC)), environ={})
    await people.import_people(sobot.context, "name,email,roles\nTom Jones,tom.jones@example.gov.uk,social_worker\n"
                                              "Jane Smith,jane.smith@example.gov.uk,iro\n", CLI)  # fmt: skip
    box = sobot.services.mailbox
    assert sobot.poller is not None and isinstance(box, MaildirMailbox)
    # The mail path alone, as `sobot mail poll` reads: nothing is announced in Teams.
    poller = replace(sobot.poller, notices=Notices())
    raw = [notification(n, token) for n in range(EMAILS)]
    store = mailbox.Maildir(box.root)

    began = time.perf_counter()
    for message in raw:
        email.message_from_bytes(message, policy=policy.default).get_body(preferencelist=("plain",))
    stdlib = time.perf_counter() - began

    # The baseline and the poll take turns on a quarter of the mail each, the order alternating, so that a machine
    # busier in one minute than the next weighs on both alike.
    baseline = elapsed = 0.0
    made = 0
    for turn in range(ROUNDS):
        share = raw[turn * EMAILS // ROUNDS : (turn + 1) * EMAILS // ROUNDS]
        for run_baseline in (turn % 2 == 0, turn % 2 == 1):
            if run_baseline:
                began = time.perf_counter()
                for n, message in enumerate(share):
                    parsed = email.message_from_bytes(message, policy=policy.default)
                    parsed.get_body(preferencelist=("plain",))
                    receipt = receipts.Receipt(f"baseline.{token}.{turn}.{n}", str(parsed["From"]), 0)
                    await receipts.record(sobot.context, receipt, "order", PROCESSED)
                baseline += time.perf_counter() - began
            else:
                for message in share:
                    store.add(mailbox.MaildirMessage(message))
                began = time.perf_counter()
                report = await poller.poll_once()
                elapsed += time.perf_counter() - began
                assert len(report.orders) == len(share), report
                made += len(report.orders)
    await sobot.close()
    assert made == EMAILS
    print(f"mail: {EMAILS} notification emails, database {url.split('://')[0]}, {ROUNDS} alternating rounds")
    print(f"  stdlib parser alone            {EMAILS / stdlib:8,.0f} emails/s")
    print(f"  baseline: parser + one commit  {EMAILS / baseline:8,.0f} emails/s   (each: parse, one committed insert)")
    print(f"  Maildir to committed orders    {EMAILS / elapsed:8,.0f} emails/s   ({elapsed:.1f} s; each: parse, "
          f"order and timeline, receipt and allocation request queued, filed)")  # fmt: skip
    print(f"  the poll's rate is {baseline / elapsed:.0%} of the baseline's (target: at least 50%)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help=f"default: a fresh SQLite file; on PostgreSQL, e.g. {POSTGRES}")
    asyncio.run(run(parser.parse_args().database_url))


if __name__ == "__main__":
    main()
