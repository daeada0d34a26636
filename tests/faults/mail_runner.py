"""One run of a mail job in a process of its own, for the kill tests, at the instant given: `poll` reads the unit's
mailbox and sends the replies it queued, as `sobot serve`'s poll job does; `dispatch` sends what else the outbox
holds (the allocation requests), as its dispatch job does. The mailbox, its backend and the database are the ones
the SOBOT_* settings in the environment name, built as the service builds them.

    python -m tests.faults.mail_runner poll|dispatch AT
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from rules.clock import FixedClock
from sobot.app import build_poller, build_services
from sobot.mailboxes import build_mailbox
from sobot.settings import load_settings
from tests import mailing

ALLOCATION_TO = ["unit-team@example.gov.uk"]


async def run(role: str, at: datetime) -> None:
    settings = load_settings()
    services = build_services(settings, clock=FixedClock(at))
    box = build_mailbox(settings)
    assert box is not None, "the kill tests need a mailbox backend"
    ctx = services.context()
    dispatcher = mailing.dispatcher(ctx, box, settings.unit_address, ALLOCATION_TO)
    try:
        if role == "poll":
            await build_poller(services, box, send_replies=dispatcher.send_replies).poll_once()
        else:
            await dispatcher.tick()
    finally:
        close = getattr(box, "close", None)  # IMAP keeps a connection open; Graph and EWS hold none between calls
        if close is not None:
            await close()
        await services.database.dispose()


if __name__ == "__main__":
    role, at = sys.argv[1:3]
    if role not in ("poll", "dispatch"):
        raise SystemExit(f"mail_runner: the job is poll or dispatch, not {role!r}")
    asyncio.run(run(role, datetime.fromisoformat(at)))
