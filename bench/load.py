"""200 Teams callers for 60 s against `sobot serve` on PostgreSQL, then the database gone for 30 s under them.

The database (sobot_load by default) is created empty for the run and dropped after. Each caller is a social
worker of its own, in a loop of help, my orders, due, new-order submits and "order REF"; every answer is checked.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from sqlalchemy.engine import make_url

from bench.teams import LOGS, free_port, start, stop
from tests.faults.proxy import Proxy

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/sobot_load"
POLITE = "I can't reach the records just now"
MIX = (("help", 20), ("my orders", 25), ("due", 20), ("submit", 20), ("order", 15))
SAVED = re.compile(r"Saved (SO-\d{4}-\d{4,6})")


class Replies:
    """A loopback Teams connector that keeps the last answer posted to each conversation."""

    def __init__(self) -> None:
        self.last: dict[str, str] = {}
        self._ids = itertools.count()

    async def accept(self, request: web.Request) -> web.Response:
        body = await request.json()
        cards = [str(a.get("content")) for a in body.get("attachments") or []]
        self.last[request.match_info["c"]] = " ".join([body.get("text") or "", *cards])
        return web.json_response({"id": f"r{next(self._ids)}"})

    async def start(self, port: int) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/v3/conversations/{c}/activities", self.accept)
        app.router.add_post("/v3/conversations/{c}/activities/{a}", self.accept)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    answers: collections.Counter[str] = field(default_factory=collections.Counter)
    errors: list[str] = field(default_factory=list)
    saved: int = 0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def activity(service_url: str, n: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"in-{time.monotonic_ns()}", "channelId": "msteams", "serviceUrl": service_url,
            "from": {"id": f"29:load-{n}", "name": f"Load Worker {n}", "aadObjectId": f"load-{n}"},
            "recipient": {"id": "28:sobot"}, "conversation": {"id": f"a:load-{n}", "conversationType": "personal"},
            **fields}  # fmt: skip


def submit(service_url: str, n: int, k: int) -> dict[str, Any]:
    data = {"child_local_id": f"L{n:03d}-{k:05d}", "child_name": "Load Child", "order_type": "supervision",
            "made": "2026-03-03", "months": "12", "procedure": "wirral",
            "social_worker": f"load.worker.{n}@example.gov.uk"}  # fmt: skip
    value = {"action": {"type": "Action.Execute", "verb": "order.submit", "data": data}, "trigger": "manual"}
    return activity(service_url, n, type="invoke", name="adaptiveCard/action", value=value)


async def callers(
    bot: str, service_url: str, replies: Replies, count: int, until: Callable[[], bool], tally_now: Callable[[], Tally],
    restored: list[float] | None = None, recovered: list[float] | None = None,
) -> None:  # fmt: skip
    """`count` callers, each turn after the last, until `until()`; every answer checked, and counted in the tally
    that was current when the turn began. `recovered` gets how long after `restored` the first turn was answered."""
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    timeout = ClientTimeout(total=60)
    async with ClientSession(connector=TCPConnector(limit=count), timeout=timeout) as session:

        async def caller(n: int) -> None:
            mine: list[str] = []
            rng = random.Random(n)
            for k in itertools.count():
                if until():
                    return
                tally = tally_now()
                kind = rng.choice(kinds)
                if kind == "order" and not mine:
                    kind = "submit"
                if kind == "submit":
                    body, expect = submit(service_url, n, k), "Saved SO-"
                else:
                    text = f"order {rng.choice(mine)}" if kind == "order" else kind
                    body = activity(service_url, n, type="message", text=text)
                    expect = {"help": "new order", "my orders": "orders", "due": "ue", "order": "SO-"}[kind]
                began = time.perf_counter()
                try:
                    async with session.post(f"{bot}/api/messages", json=body) as response:
                        status, answer = response.status, await response.text()
                except (TimeoutError, OSError) as error:
                    tally.errors.append(f"{kind}: {type(error).__name__}")
                    continue
                tally.latencies.append(time.perf_counter() - began)
                if kind != "submit":
                    answer = replies.last.pop(f"a:load-{n}", "")
                if status not in (200, 202):
                    tally.errors.append(f"{kind}: HTTP {status} {answer[:120]}")
                elif POLITE in answer:
                    tally.answers["can't reach the records"] += 1
                elif expect in answer:
                    tally.answers["answered"] += 1
                    if restored and recovered is not None and not recovered:
                        recovered.append(time.monotonic() - restored[0])
                    if (saved := SAVED.search(answer)) is not None:
                        tally.saved += 1
                        mine.append(saved.group(1))
                else:
                    tally.errors.append(f"{kind}: unexpected answer {answer[:160]!r}")

        await asyncio.gather(*(caller(n) for n in range(count)))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)] * 1000 if ordered else float("nan")


async def orders_in(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM orders"))
    finally:
        await connection.close()


async def run(database_url: str, count: int, seconds: float, outage: float) -> None:
    url = make_url(database_url)
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(url.set(drivername="postgresql", database="postgres").render_as_string(False))
    await admin.execute(f'DROP DATABASE IF EXISTS "{url.database}"')
    await admin.execute(f'CREATE DATABASE "{url.database}"')
    folder = Path(tempfile.mkdtemp(prefix="sobot-load-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBOT_", "CONNECTIONS__"))}
    env |= {"SOBOT_DATABASE_URL": database_url, "SOBOT_MAILBOX_DIR": str(folder / "mailbox")}
    staff = folder / "staff.csv"
    people = (f"Load Worker {n},load.worker.{n}@example.gov.uk,social_worker,North,,load-{n}\n" for n in range(count))
    staff.write_text("name,email,roles,team,manager_email,entra_id\n" + "".join(people))
    replies = Replies()
    connector_port = free_port()
    runner = await replies.start(connector_port)
    service_url = f"http://127.0.0.1:{connector_port}/"
    try:
        command = [sys.executable, "-m", "sobot.cli", "people", "import", str(staff)]
        await asyncio.to_thread(subprocess.run, command, env=env, check=True, capture_output=True)
        print(f"load: {count} concurrent Teams callers, loopback, `sobot serve` on PostgreSQL ({url.database}); "
              f"{os.cpu_count()} cores shared with the load generator")  # fmt: skip
        await steady(env, service_url, replies, count, seconds)
        await database_gone(env, database_url, dsn, service_url, replies, count, outage)
    finally:
        await runner.cleanup()
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        await admin.close()


async def steady(env: dict[str, str], service_url: str, replies: Replies, count: int, seconds: float) -> None:
    port = free_port()
    sobot = start([sys.executable, "-m", "sobot.cli", "serve"], env | {"SOBOT_PORT": str(port)}, "sobot is listening")
    bot = f"http://127.0.0.1:{port}"
    try:
        warm = Tally()  # a short warm-up, so imports and the connection pool are not measured
        await callers(bot, service_url, replies, 20, lambda: len(warm.latencies) >= 200, lambda: warm)
        before = rss_kib(sobot.pid)
        samples: list[int] = []
        tally = Tally()
        began = time.monotonic()

        async def sample() -> None:
            while time.monotonic() - began < seconds:
                samples.append(rss_kib(sobot.pid))
                await asyncio.sleep(1)

        await asyncio.gather(sample(), callers(bot, service_url, replies, count, lambda: time.monotonic() - began
                                               >= seconds, lambda: tally))  # fmt: skip
        elapsed = time.monotonic() - began
        await asyncio.sleep(5)
        after = rss_kib(sobot.pid)
    except Exception:
        print("".join(LOGS[sobot.pid])[-3000:])
        raise
    finally:
        stop(sobot)
    turns = len(tally.latencies)
    print(f"  steady {seconds:.0f} s: {turns} turns, {turns / elapsed:.0f} turns/s, p50 "
          f"{percentile(tally.latencies, 0.5):.0f} ms, p99 {percentile(tally.latencies, 0.99):.0f} ms, "
          f"errors {len(tally.errors)}, orders saved {tally.saved}")  # fmt: skip
    print(
        f"  serve resident memory (VmRSS): before {before / 1024:.0f} MiB, during max "
        f"{max(samples) / 1024:.0f} MiB (last {samples[-1] / 1024:.0f} MiB), 5 s after {after / 1024:.0f} MiB"
    )
    for error, n in collections.Counter(tally.errors).most_common(5):
        print(f"    {n} x {error}")


async def database_gone(
    env: dict[str, str], database_url: str, dsn: str, service_url: str, replies: Replies, count: int, outage: float
) -> None:
    server = make_url(database_url)
    with Proxy(server.host or "127.0.0.1", server.port or 5432) as proxy:
        via = server.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        port = free_port()
        sobot = start([sys.executable, "-m", "sobot.cli", "serve"], env | {"SOBOT_PORT": str(port),
                      "SOBOT_DATABASE_URL": via}, "sobot is listening")  # fmt: skip
        bot = f"http://127.0.0.1:{port}"
        orders_before = await orders_in(dsn)
        phases = {name: Tally() for name in ("before", "outage", "after")}
        restored: list[float] = []
        recovered: list[float] = []
        ready_after: list[float] = []
        phase = ["before"]
        began = time.monotonic()

        async def operator() -> None:
            await asyncio.sleep(10)
            proxy.cut()
            phase[0] = "outage"
            await asyncio.sleep(outage)
            proxy.restore()
            restored.append(time.monotonic())
            phase[0] = "after"
            async with ClientSession() as session:
                while True:
                    async with session.get(f"{bot}/readyz") as response:
                        if response.status == 200:
                            ready_after.append(time.monotonic() - restored[0])
                            break
                    await asyncio.sleep(0.1)
            await asyncio.sleep(10)
            phase[0] = "done"

        try:
            await asyncio.gather(operator(), callers(bot, service_url, replies, count, lambda: phase[0] == "done",
                                                     lambda: phases[phase[0]], restored, recovered))  # fmt: skip
        except Exception:
            print("".join(LOGS[sobot.pid])[-3000:])
            raise
        finally:
            alive = sobot.poll() is None
            stop(sobot)
        saved = sum(t.saved for t in phases.values())
        orders_after = await orders_in(dsn)
    print(f"  database gone for {outage:.0f} s under {count} callers (total {time.monotonic() - began:.0f} s, "
          f"turns by when they began), serve {'still running' if alive else 'EXITED'}:")  # fmt: skip
    for name, tally in phases.items():
        seen = ", ".join(f"{n} {what}" for what, n in tally.answers.items()) or "no answers"
        worst = max(tally.latencies, default=0) * 1000
        print(f"    {name:7} {seen}; {len(tally.errors)} errors; p50 {percentile(tally.latencies, 0.5):.0f} ms, "
              f"p99 {percentile(tally.latencies, 0.99):.0f} ms, slowest {worst:.0f} ms")  # fmt: skip
        for error, n in collections.Counter(tally.errors).most_common(3):
            print(f"      {n} x {error}")
    first_ok = recovered[0] * 1000 if recovered else float("nan")
    print(f"    recovered: first answered turn {first_ok:.0f} ms "
          f"after the database came back, /readyz ready after {ready_after[0] * 1000:.0f} ms; "
          f"orders saved {orders_after - orders_before}, submits answered Saved {saved}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("SOBOT_LOAD_POSTGRES_URL", DEFAULT_URL),
                        help="created empty for the run and dropped after")  # fmt: skip
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--outage-seconds", type=float, default=30)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(args.database_url, args.callers, args.seconds, args.outage_seconds))


if __name__ == "__main__":
    main()
