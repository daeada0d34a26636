"""The reminder dispatcher at ten times England's size: 100,000 open orders with their timelines in PostgreSQL.

Measured, each beside a raw SQL count of the same due rows in the same run:
  1. one dispatch tick (plan, digest check, dispatch) with nothing due;
  2. a tick with 1,000 reminders due, all delivered through the Agents SDK to a loopback connector in its
     own process (bench/recorder.py);
  3. `sobot serve` on that database: resident memory after its first dispatch tick.

python -m bench.reminders [--database-url URL] [--orders N]; the database is created afresh and dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time as clock
import urllib.request
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.dates import order_last_day
from rules.procedures import load_builtin
from rules.timeline import OrderFacts, build_timeline, escalation_days, reminder_days
from scheduler.outbox import NEVER
from sobot.app import build_sobot
from sobot.settings import load_settings
from storage.migrate import upgrade

LONDON = ZoneInfo("Europe/London")
PROCEDURES = ("wirral", "camden", "leicestershire", "sussex")
TEAMS = 100
CHUNK = 5_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def plain_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def recreate(url: str) -> None:
    base, _, name = plain_url(url).rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def drop(url: str) -> None:
    base, _, name = plain_url(url).rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def the_day() -> date:
    """Today in London, or the next working day: the in-process ticks run at 14:00 on it."""
    calendar = WorkingCalendar()
    return calendar.on_or_after(datetime.now(LONDON).date())


async def populate(url: str, orders: int, today: date, connector: str) -> dict[str, int]:
    """People, children, orders, allocations and every order's timeline, by COPY; a compliant authority
    where 2% of past steps are still open (overdue), and each open step's next notice day set as the
    planner would leave it after this morning's tick."""
    calendar = WorkingCalendar()
    procedures = load_builtin()
    now = datetime.now(UTC)
    rng = random.Random(2026)
    connection = await asyncpg.connect(plain_url(url))
    try:
        people = []
        pid = 0

        def person(name: str, roles: list[str], team: str | None, manager: int | None) -> int:
            nonlocal pid
            pid += 1
            people.append((pid, name, f"{name.lower().replace(' ', '.')}@example.gov.uk", None, json.dumps(roles),
                           team, manager, True, now, now))  # fmt: skip
            return pid

        managers = [person(f"Manager {t}", ["team_manager"], f"Team {t}", None) for t in range(TEAMS)]
        workers = [person(f"Worker {n}", ["social_worker"], f"Team {n % TEAMS}", managers[n % TEAMS])
                   for n in range(TEAMS * 20)]  # fmt: skip
        iros = [person(f"Reviewer {n}", ["iro"], "IROs", None) for n in range(100)]
        for n in range(20):
            person(f"Service {n}", ["service_manager"], f"Team {n * 5}", None)
        for n in range(10):
            person(f"Unit {n}", ["safeguarding_unit"], "Safeguarding", None)
        person("Head One", ["head_of_service"], None, None)
        await connection.copy_records_to_table(
            "people", records=people,
            columns=["id", "name", "email", "entra_id", "roles", "team", "manager_id", "active", "created_at",
                     "updated_at"],
        )  # fmt: skip
        references = [
            (n, f"a:chat-{n}", "personal", n, None, connector,
             json.dumps({"serviceUrl": connector, "channelId": "msteams", "conversation": {"id": f"a:chat-{n}"},
                         "bot": {"id": "28:sobot"}, "user": {"id": f"29:{n}"}}), False, now)
            for n in range(1, pid + 1)
        ]  # fmt: skip
        await connection.copy_records_to_table(
            "conversation_references", records=references,
            columns=["id", "conversation_id", "kind", "person_id", "purpose", "service_url", "reference", "stale",
                     "updated_at"],
        )  # fmt: skip
        milestone_id = 0
        counts = {"orders": 0, "milestones": 0, "open": 0}
        for start in range(0, orders, CHUNK):
            children, order_rows, allocations, steps = [], [], [], []
            for n in range(start, min(start + CHUNK, orders)):
                made = today - timedelta(days=1 + n % 360)
                months = 12 if n % 5 else 6
                facts = OrderFacts("supervision", made, made, order_last_day(made, months))
                procedure = procedures[PROCEDURES[n % len(PROCEDURES)]]
                oid = n + 1
                children.append((oid, f"C{oid:07d}", f"Child {oid}", None))
                order_rows.append((oid, f"SO-{made.year}-{oid:06d}", oid, "supervision", made, made,
                                   facts.last_day, "", "", "", procedure.id, "open", workers[n % len(workers)],
                                   now, now))  # fmt: skip
                allocations.append((oid, oid, iros[n % len(iros)], now, True))
                for step in build_timeline(procedure, facts, [], calendar):
                    milestone_id += 1
                    state, done_on, notify_on = step.state, None, NEVER
                    if state == "open" and step.due is not None and step.due < today and rng.random() >= 0.02:
                        state, done_on = "done", step.due
                    if state == "open" and step.due is not None:
                        rule = procedure.milestone(step.key)
                        days = [*reminder_days(rule, step.due, made, calendar),
                                *(e.on for e in escalation_days(rule, step.due, calendar))] if rule else []  # fmt: skip
                        notify_on = min((d for d in days if d > today), default=NEVER)
                        counts["open"] += 1
                    steps.append((milestone_id, oid, step.key, step.occurrence, step.title, step.owner, step.due,
                                  step.preferred_by, step.waiting_on, state, done_on, step.source, now,
                                  notify_on))  # fmt: skip
            await connection.copy_records_to_table("children", records=children,
                                                   columns=["id", "local_id", "name", "date_of_birth"])  # fmt: skip
            await connection.copy_records_to_table(
                "orders", records=order_rows,
                columns=["id", "reference", "child_id", "order_type", "made", "commenced", "last_day", "court",
                         "other_orders", "conditions", "procedure_id", "status", "social_worker_id", "created_at",
                         "updated_at"],
            )  # fmt: skip
            await connection.copy_records_to_table(
                "allocations", records=allocations, columns=["id", "order_id", "iro_id", "allocated_at", "active"]
            )
            await connection.copy_records_to_table(
                "milestones", records=steps,
                columns=["id", "order_id", "key", "occurrence", "title", "owner_role", "due", "preferred_by",
                         "waiting_on", "state", "done_on", "source", "updated_at", "notify_on"],
            )  # fmt: skip
            counts["orders"] += len(order_rows)
            counts["milestones"] += len(steps)
        for table in ("people", "children", "orders", "allocations", "milestones", "conversation_references"):
            await connection.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), max(id)) FROM {table}")
        await connection.execute("ANALYZE")
        return counts
    finally:
        await connection.close()


async def raw_due(url: str, today: date, now: datetime) -> tuple[int, int, float]:
    """The due rows counted by hand in SQL: steps whose notice day has come, and notifications due."""
    connection = await asyncpg.connect(plain_url(url))
    try:
        began = clock.perf_counter()
        steps = await connection.fetchval(
            "SELECT count(*) FROM milestones WHERE state = 'open' AND notify_on <= $1", today
        )
        notes = await connection.fetchval(
            "SELECT count(*) FROM notifications WHERE state = 'queued' AND not_before <= $1", now
        )
        return int(steps), int(notes), (clock.perf_counter() - began) * 1000
    finally:
        await connection.close()


async def make_due(url: str, today: date, count: int) -> None:
    """Move `count` open steps owned by social workers, on distinct orders, to be due in two working days:
    their "two working days before" reminder falls today."""
    due = WorkingCalendar().add_working_days(today, 2)
    connection = await asyncpg.connect(plain_url(url))
    try:
        await connection.execute(
            """UPDATE milestones SET due = $1 WHERE id IN (
                 SELECT DISTINCT ON (order_id) id FROM milestones
                 WHERE state = 'open' AND owner_role = 'social_worker' AND due > $2
                 ORDER BY order_id, id LIMIT $3)""",
            due, due, count,
        )  # fmt: skip
    finally:
        await connection.close()


async def posts(recorder: str) -> int:
    def read() -> int:
        with urllib.request.urlopen(f"{recorder}/count", timeout=5) as answer:
            return int(json.load(answer)["posts"])

    return await asyncio.to_thread(read)


async def in_process(url: str, today: date, recorder: str) -> dict[str, Any]:
    at = datetime.combine(today, time(14, 0), tzinfo=LONDON)
    fixed = FixedClock(at)
    # The service as `sobot serve` builds it, on a clock held at 14:00; its dispatch job's work is measured.
    sobot = build_sobot(load_settings({}, database_url=url, mail_backend="none"), clock=fixed, environ={})

    async def tick() -> tuple[float, int]:
        began = clock.perf_counter()
        queued, report = await sobot.dispatch()
        return (clock.perf_counter() - began) * 1000, queued + sum(report.sent.values())

    results: dict[str, Any] = {}
    try:
        await tick()  # warm the pool and the statement caches
        empty = []
        for _ in range(20):
            elapsed, work = await tick()
            assert work == 0, f"a tick meant to find nothing did {work} things"
            empty.append(elapsed)
        results["empty_ms"] = (statistics.median(empty), max(empty))
        results["empty_raw"] = await raw_due(url, today, fixed.now())
        await make_due(url, today, 1000)
        results["due_raw"] = await raw_due(url, today, fixed.now())
        before = await posts(recorder)
        began = clock.perf_counter()
        queued = await sobot.planner.plan()
        planned = clock.perf_counter()
        report = await sobot.dispatcher.tick()
        results["due_s"] = clock.perf_counter() - began
        results["due_plan_s"] = planned - began
        results["due_queued"] = queued
        results["due_sent"] = sum(report.sent.values())
        results["due_posts"] = await posts(recorder) - before
        results["after_raw"] = await raw_due(url, today, fixed.now())
    finally:
        await sobot.close()
    return results


def serve_memory(url: str, recorder: str) -> tuple[float, str]:
    """Resident memory of `sobot serve` on this database after its first dispatch tick finished."""
    port = free_port()
    env = {**os.environ, "SOBOT_DATABASE_URL": url, "SOBOT_PORT": str(port), "SOBOT_MAIL_BACKEND": "none",
           "SOBOT_LOG_LEVEL": "WARNING"}  # fmt: skip
    command = [str(Path(sys.executable).with_name("sobot")), "serve"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = clock.monotonic() + 300
        while clock.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"sobot serve stopped: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
                    ready = json.load(answer)
                if "dispatch" in ready.get("jobs", {}):
                    break
            except OSError:
                pass
            clock.sleep(0.5)
        else:
            raise RuntimeError("sobot serve did not finish a dispatch tick in 300 s")
        status = Path(f"/proc/{process.pid}/status").read_text()
        rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024
        hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) / 1024
        return rss, f"peak {hwm:.0f} MiB"
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "SOBOT_BENCH_REMINDERS_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/sobot_reminders"))  # fmt: skip
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    url = args.database_url
    today = the_day()
    port = free_port()
    recorder = await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.recorder", str(port))
    connector = f"http://127.0.0.1:{port}/"
    try:
        await recreate(url)
        await upgrade(url)
        began = clock.perf_counter()
        counts = await populate(url, args.orders, today, connector)
        print(f"reminders: {counts['orders']:,} open orders, {counts['milestones']:,} milestones "
              f"({counts['open']:,} open), loaded in {clock.perf_counter() - began:.0f} s; day {today}")  # fmt: skip
        for _ in range(50):
            try:
                await posts(f"http://127.0.0.1:{port}")
                break
            except OSError:
                await asyncio.sleep(0.1)
        results = await in_process(url, today, f"http://127.0.0.1:{port}")
        median, worst = results["empty_ms"]
        steps, notes, raw_ms = results["empty_raw"]
        print(f"  tick with nothing due: median {median:.1f} ms, worst of 20 {worst:.1f} ms "
              f"(raw SQL count: {steps} steps, {notes} notifications due, {raw_ms:.1f} ms)")  # fmt: skip
        steps, notes, raw_ms = results["due_raw"]
        print(f"  tick with 1,000 due: {results['due_queued']} queued, {results['due_sent']} sent, "
              f"{results['due_posts']} received by the connector, in {results['due_s']:.2f} s "
              f"({results['due_plan_s']:.2f} s planning) "
              f"(raw SQL count before: {steps} steps due, {raw_ms:.1f} ms)")  # fmt: skip
        steps, notes, _ = results["after_raw"]
        print(f"  after it: {steps} steps and {notes} notifications still due")
        rss, peak = await asyncio.to_thread(serve_memory, url, connector)
        print(f"  sobot serve on this database after its first tick: {rss:.0f} MiB resident ({peak})")
    finally:
        recorder.terminate()
        await recorder.wait()
        await drop(url)


if __name__ == "__main__":
    asyncio.run(main())
