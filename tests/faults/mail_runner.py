"""One run of the mail job in a process of its own, for the kill tests: read the unit's mailbox on IMAP, then send
what the outbox holds by SMTP, as `sobot serve`'s poll and dispatch jobs do, at the instant given.

    python -m tests.faults.mail_runner DATABASE_URL IMAP_PORT USER SMTP_PORT AT
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from handlers.context import Context
from mail.backends.imap import ImapMailbox
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database
from tests import mailing
from tests.integration.test_mail_imap import PASSWORD, UNIT

ALLOCATION_TO = ["unit-team@example.gov.uk"]


async def run(database_url: str, imap_port: int, user: str, smtp_port: int, at: datetime) -> None:
    database = Database.from_url(database_url)
    ctx = Context(database, load_builtin(), WorkingCalendar(), FixedClock(at), "wirral")
    box = ImapMailbox(host="127.0.0.1", port=imap_port, security="none", username=user, password=PASSWORD,
                      address=UNIT, smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_security="none",
                      smtp_username=UNIT, smtp_password=PASSWORD)  # fmt: skip
    try:
        await mailing.poller(ctx, box, UNIT, ["example.gov.uk"]).poll_once()
        await mailing.dispatcher(ctx, box, UNIT, ALLOCATION_TO).tick()
    finally:
        await box.close()
        await database.dispose()


if __name__ == "__main__":
    url, imap_port, user, smtp_port, at = sys.argv[1:6]
    asyncio.run(run(url, int(imap_port), user, int(smtp_port), datetime.fromisoformat(at)))
