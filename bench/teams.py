"""Teams turns under 50 concurrent callers on loopback: sobot's new-order submit beside a bare SDK echo."""

from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, TCPConnector, web

CALLERS = 50
TURNS = int(os.environ.get("BENCH_TURNS", "2000"))
# The machine's speed drifts over a minute (other work, the host): the two are measured in turn, several times,
# the order alternating, and judged by the median round.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Turns before each measured run; the warm-up's orders are for children the measured run never names.
WARM_UP = 200
WARM_UP_FIRST = 1_000_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


LOGS: dict[int, collections.deque[str]] = {}


def start(command: list[str], env: dict[str, str], ready: str) -> subprocess.Popen[str]:
    """Start a server and wait for its ready line; its later output is drained so it never blocks on a pipe."""
    process = subprocess.Popen(command, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    assert process.stdout is not None
    log = LOGS.setdefault(process.pid, collections.deque(maxlen=200))
    for line in process.stdout:
        log.append(line)
        if ready in line:
            threading.Thread(target=lambda: log.extend(process.stdout or []), daemon=True).start()
            return process
    raise RuntimeError(f"{command[0]} exited before it was ready:\n{''.join(log)}")


def stop(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


async def connector(port: int) -> web.AppRunner:
    """A loopback connector that accepts the agents' replies."""
    ids = itertools.count()

    async def accept(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"id": f"a{next(ids)}"})

    app = web.Application()
    app.router.add_post("/v3/conversations/{c}/activities", accept)
    app.router.add_post("/v3/conversations/{c}/activities/{a}", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def activity(service_url: str, n: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"in-{n}", "channelId": "msteams", "serviceUrl": service_url,
            "from": {"id": "29:bench", "name": "Bench Worker", "aadObjectId": "bench-social-worker"},
            "recipient": {"id": "28:sobot"}, "conversation": {"id": "a:bench", "conversationType": "personal"},
            **fields}  # fmt: skip


def submit(service_url: str, n: int) -> dict[str, Any]:
    data = {"child_local_id": f"B{n:06d}", "child_name": "Bench Child", "order_type": "supervision",
            "made": "2026-03-03", "months": "12", "procedure": "wirral",
            "social_worker": "bench.worker@example.gov.uk"}  # fmt: skip
    value = {"action": {"type": "Action.Execute", "verb": "order.submit", "data": data}, "trigger": "manual"}
    return activity(service_url, n, type="invoke", name="adaptiveCard/action", value=value)


def echo(service_url: str, n: int) -> dict[str, Any]:
    return activity(service_url, n, type="message", text=f"hello {n}")


async def load(
    url: str, make: Any, service_url: str, expect: str, turns: int = TURNS, first: int = 0
) -> tuple[list[float], float]:
    """`turns` turns from CALLERS callers at once, numbered from `first`; each turn's latency and the elapsed time."""
    counter = itertools.count(first)
    latencies: list[float] = []
    async with ClientSession(connector=TCPConnector(limit=CALLERS)) as session:

        async def caller() -> None:
            while (n := next(counter)) < first + turns:
                began = time.perf_counter()
                async with session.post(url, json=make(service_url, n)) as response:
                    body = await response.text()
                    if response.status not in (200, 202) or expect not in body:
                        raise RuntimeError(f"turn {n} failed: {response.status} {body[:200]}")
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(CALLERS)))
        return latencies, time.perf_counter() - began


def cpu_seconds(pid: int) -> float | None:
    """The CPU time (user and system, all threads) a process has used; None where /proc cannot say."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(name: str, latencies: list[float], elapsed: float, cpu: float | None) -> float:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    rate = len(ordered) / elapsed
    per_turn = f"{cpu / len(ordered) * 1000:5.2f} ms" if cpu is not None else "    ?"
    print(f"  {name:32} p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   {rate:7.0f} turns/s   "
          f"server CPU {per_turn}/turn   ({len(ordered)} turns)")  # fmt: skip
    return rate


class Server:
    """One of the two servers and the turns sent to it: warmed up once, then measured each round."""

    def __init__(self, name: str, process: subprocess.Popen[str], url: str, make: Any, expect: str) -> None:
        self.name, self.process, self.url, self.make, self.expect = name, process, url, make, expect
        self.sent = 0

    async def warm_up(self, service_url: str) -> None:
        """Connection pools, statement caches, imports: the warm-up's turns are for children never measured."""
        await load(self.url, self.make, service_url, self.expect, turns=WARM_UP, first=WARM_UP_FIRST)

    async def measure(self, service_url: str) -> float:
        before = cpu_seconds(self.process.pid)
        latencies, elapsed = await load(self.url, self.make, service_url, self.expect, first=self.sent)
        after = cpu_seconds(self.process.pid)
        self.sent += TURNS
        cpu = after - before if after is not None and before is not None else None
        return report(self.name, latencies, elapsed, cpu)


async def run(database_url: str | None) -> None:
    folder = Path(tempfile.mkdtemp(prefix="sobot-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBOT_", "CONNECTIONS__"))}
    sobot_port, echo_port, connector_port = free_port(), free_port(), free_port()
    # The dispatch job runs once, as sobot starts, then not again while the turns are measured. Otherwise its
    # sending of the allocation emails the submits queue would count as the turns' own CPU; the reminders
    # benchmark measures the dispatcher.
    env.update({"SOBOT_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{folder / 'bench.db'}",
                "SOBOT_PORT": str(sobot_port), "SOBOT_LOG_LEVEL": "WARNING",
                "SOBOT_MAILBOX_DIR": str(folder / "mailbox"), "SOBOT_DISPATCH_INTERVAL_SECONDS": "86400"})  # fmt: skip
    staff = folder / "staff.csv"
    staff.write_text("name,email,roles,team,manager_email,entra_id\n"
                     "Bench Worker,bench.worker@example.gov.uk,social_worker,North,,bench-social-worker\n")  # fmt: skip
    command = [sys.executable, "-m", "sobot.cli", "people", "import", str(staff)]
    await asyncio.to_thread(subprocess.run, command, env=env, check=True, capture_output=True)
    service_url = f"http://127.0.0.1:{connector_port}/"
    runner = await connector(connector_port)
    sobot = start(
        [sys.executable, "-m", "sobot.cli", "serve"], {**env, "SOBOT_LOG_LEVEL": "INFO"}, "sobot is listening"
    )
    baseline = start([sys.executable, "-m", "bench.echo_agent", str(echo_port)], env, "listening")
    try:
        print(f"teams: {CALLERS} concurrent callers, {ROUNDS} rounds of {TURNS} turns each, loopback, "
              f"database {env['SOBOT_DATABASE_URL'].split('://')[0]}")  # fmt: skip
        echo_server = Server("bare SDK echo turn", baseline, f"http://127.0.0.1:{echo_port}/api/messages", echo, "")
        submit_server = Server("sobot new-order submit turn", sobot, f"http://127.0.0.1:{sobot_port}/api/messages",
                               submit, "Saved SO-")  # fmt: skip
        for server in (echo_server, submit_server):
            await server.warm_up(service_url)
        shares = []
        for n in range(ROUNDS):
            print(f" round {n + 1}")
            pair = (echo_server, submit_server) if n % 2 == 0 else (submit_server, echo_server)
            rates = {server.name: await server.measure(service_url) for server in pair}
            shares.append(rates[submit_server.name] / rates[echo_server.name])
            print(f"  submit throughput is {shares[-1]:.0%} of the echo's")
        print(f" median round: submit throughput is {statistics.median(shares):.0%} of the echo's "
              f"(rounds: {', '.join(f'{share:.0%}' for share in shares)})")  # fmt: skip
    except RuntimeError:
        print("".join(LOGS[sobot.pid])[-3000:])
        raise
    finally:
        stop(sobot)
        stop(baseline)
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    asyncio.run(run(parser.parse_args().database_url))


if __name__ == "__main__":
    main()
