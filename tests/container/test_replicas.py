"""Two replicas of sobot on one PostgreSQL: both serve, they share the dispatch work, and one killed mid-dispatch
loses no notification and sends none twice (a row caught mid-send is reported to the unit, not sent again)."""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from rules.calendar import WorkingCalendar
from rules.clock import LONDON
from tests.container.conftest import Stack, run, wait_for
from tests.container.test_compose import REVISION

NOTIFICATIONS = 600
UNIT = "safeguarding.unit@localhost"  # the default unit address: the notes about rows caught mid-send go there
LEASE_SECONDS = 120  # scheduler.dispatch.Dispatcher.lease
# The second replica sends this many and then waits (so the first has work whenever its tick falls); the first
# sends its own many and then waits until it is killed: past one batch of sends in flight
# (scheduler.dispatch.Dispatcher.concurrency, 32) and into the next, so some it sent are not yet recorded.
SECOND_SENDS, FIRST_SENDS = 100, 40
HOLDING = "test harness: this host's sends are held"  # harness/sitecustomize.py, once it holds one
OURS = "dedupe_key LIKE 'container-test:%'"
# Every message in the shared Maildir's Sent folder: its recipient, and the host (the replica) that wrote it.
READ_SENT = """
import json, mailbox
sent = mailbox.Maildir("var/mailbox", create=False).get_folder("Sent")
print(json.dumps([[message["To"], key.rsplit(".", 1)[-1].split(",")[0]] for key, message in sent.items()]))
"""


def working_hours_offset(now: datetime) -> float:
    """Seconds from `now` back to 11:00 (London) on the last working day before today: the replicas' clock is moved
    there. Back, not on: the scheduler's first tick is due at the replicas' time, and it runs on the system's."""
    day = WorkingCalendar().on_or_before(now.astimezone(LONDON).date() - timedelta(days=1))
    assert isinstance(day, date)
    return (datetime.combine(day, time(11), tzinfo=LONDON) - now).total_seconds()


def hostname(stack: Stack, service: str) -> str:
    return run(["docker", "inspect", "--format", "{{.Config.Hostname}}", stack.container(service)]).stdout.strip()


def sent_mail(stack: Stack, service: str) -> list[tuple[str, str]]:
    done = stack.compose("exec", "-T", service, "python", "-c", READ_SENT)
    return [(to, host) for to, host in json.loads(done.stdout)]


def counts(stack: Stack, first: str) -> dict[str, int]:
    row = stack.sql(f"SELECT count(*) FILTER (WHERE state = 'sent'), count(*) FILTER (WHERE state IN ('claimed', "
                    f"'sending') AND claimed_by LIKE '{first}:%'), count(*) FILTER (WHERE state IN ('queued', "
                    f"'claimed', 'sending')) FROM notifications WHERE {OURS}")[0]  # fmt: skip
    return dict(zip(("sent", "held_by_first", "open"), map(int, row), strict=True))


def test_two_replicas_share_the_dispatch_and_a_kill_mid_dispatch_loses_and_doubles_nothing(make_stack: Any) -> None:
    stack: Stack = make_stack("compose.dispatch.yaml", profiles=["replicas"])
    offset = working_hours_offset(datetime.now(UTC))
    stack.move_clock(offset)
    stack.up()
    stack.ready("sobot")
    stack.ready("sobot-2")
    first, second = hostname(stack, "sobot"), hostname(stack, "sobot-2")
    # Started together on an empty database: the migrations' lock let one apply them, and neither failed.
    applied = []
    for service in ("sobot", "sobot-2"):
        restarts = run(["docker", "inspect", "--format", "{{.RestartCount}}", stack.container(service)]).stdout
        assert restarts.strip() == "0", f"{service} restarted while starting: {stack.logs(service)[-2000:]}"
        applied += REVISION.findall(stack.logs(service))
    assert applied and len({to for _, to in applied}) == len(applied), f"migrations applied twice: {applied}"

    stack.hold_sends({second: SECOND_SENDS, first: FIRST_SENDS})
    # A morning's digests to as many managers, queued as the planner queues them: due, each once by its key.
    due = f"now() - interval '{int(-offset) + 3600} seconds'"
    stack.sql("INSERT INTO notifications (dedupe_key, kind, role, address, state, not_before, attempts, payload, "
              "created_at) SELECT 'container-test:' || i, 'digest', 'team_manager', 'manager' || i || '@localhost', "
              f"'queued', {due}, 0, '{{}}', {due} FROM generate_series(1, {NOTIFICATIONS}) AS i")  # fmt: skip

    # Killed as a crash kills it (SIGKILL from outside), while it holds rows it claimed, some of them mid-send.
    looked: list[dict[str, int]] = []

    def mid_dispatch() -> dict[str, int] | None:
        if HOLDING not in stack.logs("sobot"):
            return None
        looked.append(counts(stack, first))
        return looked[-1] if looked[-1]["sent"] > 0 and looked[-1]["held_by_first"] > 0 else None

    try:
        at_kill = wait_for("the first replica holding claims while mail goes out", mid_dispatch, 60)
    except AssertionError as error:
        raise AssertionError(f"{error}; the counts seen: {looked[-3:] or counts(stack, first)}") from None
    pid = int(run(["docker", "inspect", "--format", "{{.State.Pid}}", stack.container("sobot")]).stdout)
    os.kill(pid, signal.SIGKILL)
    stack.release_sends()  # the survivor sends on, and the killed one once restarted
    assert at_kill["open"] > 0, "everything was sent before the kill: more notifications are needed"

    # The lease of what it held runs out (the clock moved on past it), and the survivor takes the rest.
    stack.move_clock(offset + LEASE_SECONDS + 30)
    wait_for("every notification settled", lambda: counts(stack, first)["open"] == 0, 180)
    stack.ready("sobot")  # the killed one was restarted by its policy, and serves again

    states = dict(stack.sql(f"SELECT address, state FROM notifications WHERE {OURS}"))
    assert len(states) == NOTIFICATIONS
    assert set(states.values()) <= {"sent", "unconfirmed"}, Counter(states.values())
    mail = sent_mail(stack, "sobot-2")
    received = Counter(to for to, _ in mail)
    twice = [to for to, n in received.items() if n > 1 and to in states]
    assert twice == [], f"sent twice: {twice[:10]}"
    lost = [a for a, state in states.items() if state == "sent" and received[a] != 1]
    assert lost == [], f"recorded as sent but not in the mailbox: {lost[:10]}"
    unconfirmed = [a for a, state in states.items() if state == "unconfirmed"]
    # A row caught mid-send is not sent again; the unit is told of each, once.
    notes = stack.sql("SELECT note.state FROM notifications note JOIN notifications row ON note.dedupe_key = "
                      "'unconfirmed:' || row.id WHERE row.dedupe_key LIKE 'container-test:%'")  # fmt: skip
    assert [s for (s,) in notes] == ["sent"] * len(unconfirmed)
    assert received[UNIT] == len(unconfirmed)
    assert sum(received[a] for a in states) == NOTIFICATIONS - len(unconfirmed) + sum(received[a] for a in unconfirmed)
    by_replica = Counter(host for to, host in mail if to in states)
    assert by_replica[first] > 0 and by_replica[second] > 0, f"the work was not shared: {by_replica}"
    print(
        f"\n{NOTIFICATIONS} notifications: {dict(by_replica)} by replica; at the kill {at_kill}; "
        f"{len(unconfirmed)} caught mid-send, reported to the unit"
    )
