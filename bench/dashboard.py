"""The dashboard over 100,000 open orders with their timelines in PostgreSQL: the caseload's first page (the default
view) and one order's page, server time, each beside the raw SQL of the same page's query in the same run.

The service is built by the composition root and served on a loopback port; the pages are asked for over HTTP by a
signed-in local-mode session, and each request's time inside the server is taken by a middleware around the app.

python -m bench.dashboard [--database-url URL] [--orders N] [--requests N]; the database is created afresh and
dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import time as clock
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from bench.reminders import LONDON, drop, plain_url, populate, recreate, the_day
from handlers.caseload import CaseloadQuery, seeing
from handlers.directory import directory
from rules.clock import FixedClock
from sobot.app import build_sobot
from sobot.settings import load_settings
from storage import caseload as stored
from storage.migrate import upgrade

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = "a-bench-secret-that-is-long-enough-to-sign-cookies"


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


async def renumber(url: str) -> None:
    """References as sobot writes them (SO-2026-0042): at least four digits, no more leading zeros."""
    connection = await asyncpg.connect(plain_url(url))
    try:
        await connection.execute(
            "UPDATE orders SET reference = split_part(reference, '-', 1) || '-' || split_part(reference, '-', 2)"
            " || '-' || CASE WHEN id < 1000 THEN lpad(id::text, 4, '0') ELSE id::text END"
        )
        await connection.execute("ANALYZE orders")
    finally:
        await connection.close()


async def raw(url: str, statements: list[tuple[str, tuple[Any, ...]]], times: int) -> list[float]:
    """The statements run by hand through asyncpg, `times` times: milliseconds for each run of all of them."""
    connection = await asyncpg.connect(plain_url(url))
    try:
        took = []
        for _ in range(times):
            began = clock.perf_counter()
            for sql, args in statements:
                await connection.fetch(sql, *args)
            took.append((clock.perf_counter() - began) * 1000)
        return took
    finally:
        await connection.close()


def literal(statement: Any, dialect: Any) -> str:
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


async def measure(url: str, requests: int) -> dict[str, Any]:
    today = the_day()
    at = datetime.combine(today, time(10, 0), tzinfo=LONDON).astimezone(UTC)
    settings = load_settings({}, database_url=url, mail_backend="none", web_session_secret=SECRET)
    sobot = build_sobot(settings, clock=FixedClock(at), environ={}, run_jobs=False)
    server_ms: dict[str, list[float]] = {}

    @web.middleware
    async def timed(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> Any:
        began = clock.perf_counter()
        try:
            return await handler(request)
        finally:
            server_ms.setdefault(request.path.split("/")[1], []).append((clock.perf_counter() - began) * 1000)

    sobot.app.middlewares.insert(0, timed)
    runner = web.AppRunner(sobot.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    try:
        people = {p.email: p for p in await directory(sobot.context)}
        # unsafe: the server is named by its IP address, from which the default jar takes no cookies.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:

            async def be(email: str) -> None:
                client.cookie_jar.clear()
                async with client.get(f"{base}/local/choose") as answer:
                    token = TOKEN.search(await answer.text())
                assert token is not None
                form = {"person": str(people[email].id), "next": "/caseload", "csrf_token": token.group(1)}
                async with client.post(f"{base}/local/choose", data=form) as answer:
                    assert answer.status == 200, answer.status

            async def timed_get(path: str) -> float:
                began = clock.perf_counter()
                async with client.get(base + path) as answer:
                    body = await answer.read()
                    assert answer.status == 200, (answer.status, body[:300])
                return (clock.perf_counter() - began) * 1000

            from sqlalchemy.dialects import postgresql

            dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
            for who, email in (("the Safeguarding Unit (every order)", "unit.0@example.gov.uk"),
                               ("a team manager (their team's)", "manager.0@example.gov.uk")):  # fmt: skip
                await be(email)
                server_ms.clear()
                trips = [await timed_get("/caseload") for _ in range(requests + 5)][5:]
                served = server_ms["caseload"][5:]
                query = CaseloadQuery()
                filters = stored.Filters(status="open", sort="reference", descending=True)
                seen = seeing(people[email], sobot.context.procedures)
                page_sql = literal(stored._statement(seen, filters, today).limit(50), dialect)
                count_sql = literal(stored._count(seen, filters, today), dialect)
                sql = await raw(url, [(page_sql, ()), (count_sql, ())], requests + 5)
                total = (await stored.caseload(sobot.database, seen, filters, today, limit=50))[1]
                results[f"caseload: {who}"] = {"server_p95": p95(served), "server_median": statistics.median(served),
                                               "trip_p95": p95(trips), "raw_p95": p95(sql[5:]),
                                               "raw_median": statistics.median(sql[5:]), "orders": total,
                                               "query": query}  # fmt: skip
            await be("unit.0@example.gov.uk")
            references = [f"SO-{year}-{n:04d}" for n, year in await order_references(url, requests + 5)]
            server_ms.clear()
            trips = [await timed_get(f"/orders/{reference}") for reference in references][5:]
            served = server_ms["orders"][5:]
            sql = await raw_order(url, references)
            results["order page (the unit)"] = {"server_p95": p95(served), "server_median": statistics.median(served),
                                                "trip_p95": p95(trips), "raw_p95": p95(sql[5:]),
                                                "raw_median": statistics.median(sql[5:])}  # fmt: skip
    finally:
        await runner.cleanup()
    return results


async def order_references(url: str, count: int) -> list[tuple[int, int]]:
    """`count` orders spread over the whole table: (id, year made)."""
    connection = await asyncpg.connect(plain_url(url))
    try:
        rows = await connection.fetch(
            "SELECT id, extract(year FROM made)::int AS year FROM orders WHERE id % (SELECT (count(*) / $1)::int"
            " FROM orders) = 0 ORDER BY id LIMIT $1", count,
        )  # fmt: skip
        return [(row["id"], row["year"]) for row in rows]
    finally:
        await connection.close()


ORDER_SQL = [
    # The order with its child, social worker and active IRO; its steps; its events; its notifications; its audit.
    "SELECT o.*, c.local_id, c.name, sw.name, sw.team, iro.name FROM orders o JOIN children c ON c.id = o.child_id"
    " LEFT JOIN people sw ON sw.id = o.social_worker_id LEFT JOIN allocations a ON a.order_id = o.id AND a.active"
    " LEFT JOIN people iro ON iro.id = a.iro_id WHERE o.reference = $1",
    "SELECT m.* FROM milestones m JOIN orders o ON o.id = m.order_id WHERE o.reference = $1 ORDER BY m.id",
    "SELECT e.* FROM events e JOIN orders o ON o.id = e.order_id WHERE o.reference = $1 ORDER BY e.id",
    "SELECT n.kind, n.role, p.name, n.address, m.title, n.state, n.channel, n.created_at, n.sent_at"
    " FROM notifications n JOIN orders o ON o.id = n.order_id LEFT JOIN people p ON p.id = n.person_id"
    " LEFT JOIN milestones m ON m.id = n.milestone_id WHERE o.reference = $1 ORDER BY n.created_at DESC LIMIT 500",
    "SELECT at, actor, action, outcome, details FROM audit_log WHERE order_reference = $1 ORDER BY at DESC LIMIT 500",
]


async def raw_order(url: str, references: list[str]) -> list[float]:
    connection = await asyncpg.connect(plain_url(url))
    try:
        took = []
        for reference in references:
            began = clock.perf_counter()
            for sql in ORDER_SQL:
                await connection.fetch(sql, reference)
            took.append((clock.perf_counter() - began) * 1000)
        return took
    finally:
        await connection.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "SOBOT_BENCH_DASHBOARD_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/sobot_dashboard"))  # fmt: skip
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (to study its plans)")
    parser.add_argument("--populated", action="store_true", help="measure a database kept by an earlier --keep")
    args = parser.parse_args()
    url = args.database_url
    if not args.populated:
        await recreate(url)
    try:
        await upgrade(url)
        if not args.populated:
            began = clock.perf_counter()
            counts = await populate(url, args.orders, the_day(), "http://127.0.0.1:9")
            await renumber(url)
            print(f"populated {counts['orders']:,} orders, {counts['milestones']:,} milestones "
                  f"({counts['open']:,} open) in {clock.perf_counter() - began:.0f} s")  # fmt: skip
        results = await measure(url, args.requests)
    finally:
        if not args.keep:
            await drop(url)
    print(f"{args.requests} requests each, after 5 to warm up; milliseconds")
    for what, figures in results.items():
        extra = f", {figures['orders']:,} orders in the view" if "orders" in figures else ""
        print(f"{what}: server p95 {figures['server_p95']:.1f} (median {figures['server_median']:.1f}), "
              f"round trip p95 {figures['trip_p95']:.1f}; raw SQL of the same query p95 {figures['raw_p95']:.1f} "
              f"(median {figures['raw_median']:.1f}){extra}")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
