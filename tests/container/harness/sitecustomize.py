"""The suite's clock for sobot in a container (the system clock moved by the seconds in $TEST_CLOCK_FILE), and its
hold on the replicas' mail (a mail server that stops answering a host, while the suite says so).

Python imports this module at start when its folder is on PYTHONPATH (only the dispatch test puts it there), so
the replicas dispatch in working hours whatever day the suite runs on (it moves them back to the last working day),
and the suite can move their time on past a lease without waiting for it. The file is read at every call, so both
replicas follow each change at once.

The hold: while a line of the file `hold` beside the clock's names this host and a count ("3f2a9c1b 40"), this
host's sends past that count wait, unanswered, until the file goes. So the suite has both replicas mid-dispatch
when it kills one, however their ticks fall: without it, one replica could send everything before the other's
tick, or between two of the suite's looks.
"""

import asyncio
import os
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import mail.backends.maildir
import rules.clock

_FILE = Path(os.environ["TEST_CLOCK_FILE"])
_HOLD = _FILE.with_name("hold")
_HOST = socket.gethostname()
_send = mail.backends.maildir.MaildirMailbox.send
_sent = 0
_holding = False
HOLDING = "test harness: this host's sends are held"


def _now(self: object) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=float(_FILE.read_text()))


rules.clock.SystemClock.now = _now  # type: ignore[method-assign]


def _held() -> bool:
    try:
        lines = _HOLD.read_text().splitlines()
    except FileNotFoundError:
        return False
    return any(host == _HOST and _sent >= int(after) for host, after in map(str.split, lines))


async def _send_unless_held(self: mail.backends.maildir.MaildirMailbox, message: object) -> None:
    global _sent, _holding
    while _held():
        if not _holding:
            _holding = True
            print(HOLDING, file=sys.stderr, flush=True)
        await asyncio.sleep(0.1)
    _sent += 1
    await _send(self, message)  # type: ignore[arg-type]


mail.backends.maildir.MaildirMailbox.send = _send_unless_held  # type: ignore[method-assign]
