"""The suite's clock for sobot in a container: the system clock moved by the seconds in $TEST_CLOCK_FILE.

Python imports this module at start when its folder is on PYTHONPATH (only the dispatch test puts it there), so
the replicas dispatch in working hours whatever day the suite runs on (it moves them back to the last working day),
and the suite can move their time on past a lease without waiting for it. The file is read at every call, so both
replicas follow each change at once.
"""

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import rules.clock

_FILE = Path(os.environ["TEST_CLOCK_FILE"])


def _now(self: object) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=float(_FILE.read_text()))


rules.clock.SystemClock.now = _now  # type: ignore[method-assign]
