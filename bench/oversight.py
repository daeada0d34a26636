"""The oversight figures at ten times England's size: 100,000 open orders with their timelines in PostgreSQL.

Measured, as a Head of Service (every order) and as a team manager (one team's), each beside the raw SQL of its
largest statement (the steps due in the 12 months, grouped by team and procedure) in the same run:
  1. the figures (handlers.oversight.figures): p50 and p95 of repeated calls;
  2. the page (GET /oversight through the whole web app in local mode, on loopback): p50 and p95.

python -m bench.oversight [--database-url URL] [--orders N] [--runs N]; the database is made afresh and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import time as clock
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from bench.reminders import LONDON, drop, plain_url, populate, recreate, the_day
from handlers import oversight
from handlers.context import Actor, Context
from handlers.directory import directory
from rules.clock import FixedClock
from rules.dates import add_months
from sobot.app import build_sobot
from sobot.settings import load_settings
from storage.migrate import upgrade

HEAD = Actor("Head One", "head.one@example.gov.uk")
MANAGER = Actor("Manager 0", "manager.0@example.gov.uk")
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
RAW_STEPS_DUE = """
SELECT p.team, o.procedure_id, count(*),
       sum(CASE WHEN m.state = 'done' AND m.done_on <= m.due THEN 1 ELSE 0 END)
FROM milestones m JOIN orders o ON m.order_id = o.id LEFT JOIN people p ON o.social_worker_id = p.id
WHERE m.due >= $1 AND m.due <= $2 AND m.state IN ('open', 'done') {team}
GROUP BY p.team, o.procedure_id
"""


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


async def timed(runs: int, work: Callable[[], Awaitable[Any]]) -> list[float]:
    await work()  # the first call warms the statement cache, as a running service's would be
    times = []
    for _ in range(runs):
        began = clock.perf_counter()
        await work()
        times.append((clock.perf_counter() - began) * 1000)
    return times


async def raw(url: str, today: Any, team: str | None, runs: int) -> list[float]:
    connection = await asyncpg.connect(plain_url(url))
    try:
        since = add_months(today, -12) + timedelta(days=1)
        sql = RAW_STEPS_DUE.format(team="AND p.team = $3" if team else "")
        args = (since, today - timedelta(days=1), *([team] if team else []))
        return await timed(runs, lambda: connection.fetch(sql, *args))
    finally:
        await connection.close()


async def page_as(client: TestClient[Any, Any], ctx: Context, email: str) -> None:
    """Choose, on local mode's page, to be this person: the client's cookie then carries them."""
    [person] = [p for p in await directory(ctx) if p.email == email]
    response = await client.get("/local/choose")
    token = TOKEN.search(await response.text())
    assert token is not None, "local mode's page carries a form token"
    response = await client.post("/local/choose", data={"csrf_token": token.group(1), "person": str(person.id),
                                                        "next": "/oversight"})  # fmt: skip
    assert response.status == 200, response.status


async def run(url: str, orders: int, runs: int) -> None:
    await recreate(url)
    try:
        await upgrade(url)
        today = the_day()
        began = clock.perf_counter()
        counts = await populate(url, orders, today, "http://127.0.0.1:9")
        print(f"populated {counts['orders']:,} orders, {counts['milestones']:,} milestones in "
              f"{clock.perf_counter() - began:.0f} s")  # fmt: skip
        fixed = FixedClock(datetime.combine(today, time(14, 0), LONDON).astimezone(UTC))
        settings = load_settings({}, database_url=url, mail_backend="none")
        sobot = build_sobot(settings, clock=fixed, environ={}, run_jobs=False)
        ctx = sobot.context
        client: TestClient[Any, Any] = TestClient(TestServer(sobot.app, host="127.0.0.1"))
        await client.start_server()
        try:
            for who, actor, team in (("Head of Service", HEAD, None), ("team manager", MANAGER, "Team 0")):
                figures = await oversight.figures(ctx, actor)
                print(f"{who}: {figures.scope}; {figures.on_time_overall.due:,} steps due, "
                      f"{sum(w.steps for w in figures.waited):,} overdue, {figures.ending_total:,} ending")  # fmt: skip
                handler = await timed(runs, lambda a=actor: oversight.figures(ctx, a))  # type: ignore[misc]
                client.session.cookie_jar.clear()
                await page_as(client, ctx, actor.email or "")

                async def page() -> None:
                    response = await client.get("/oversight")
                    assert response.status == 200, response.status
                    await response.read()

                pages = await timed(runs, page)
                sql = await raw(url, today, team, runs)
                for what, times in (("figures (handler)", handler), ("page GET /oversight", pages),
                                    ("raw SQL: steps due, grouped", sql)):  # fmt: skip
                    print(f"  {what}: p50 {statistics.median(times):.1f} ms, p95 {p95(times):.1f} ms ({runs} runs)")
        finally:
            await client.close()
            await sobot.services.database.dispose()
    finally:
        await drop(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "SOBOT_BENCH_OVERSIGHT_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/sobot_oversight"))  # fmt: skip
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.orders, args.runs))


if __name__ == "__main__":
    main()
