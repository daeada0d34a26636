"""PostgreSQL gone under a running `sobot serve`: callers told politely, nothing half-written, back on its own."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

import pytest
from aiohttp import ClientSession, ClientTimeout
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import people
from handlers.context import CLI, Context
from rules.calendar import WorkingCalendar
from rules.clock import SystemClock
from rules.procedures import load_builtin
from storage import Database, DatabaseUnavailable, models
from storage.database import Timeouts
from tests.connector import RecordingConnector
from tests.faults.conftest import Serve, through
from tests.faults.proxy import Proxy
from tests.faults.teams import CHILD_NAME, STAFF, Caller, eventually, new_order

pytestmark = pytest.mark.postgres

# The "database gone for 30 s"; `make bench` runs the 30 s, the suite a short one by default.
OUTAGE_SECONDS = float(os.environ.get("SOBOT_FAULT_OUTAGE_SECONDS", "3"))
T = TypeVar("T")
POLITE = "I can't reach the records just now, try again in a minute. Nothing was saved."


@pytest.fixture
async def records(postgres_url: str) -> AsyncIterator[Database]:
    """The records read directly, not through the proxy: the evidence of what the service wrote."""
    database = Database.from_url(postgres_url)
    ctx = Context(database, load_builtin(), WorkingCalendar(), SystemClock(), "wirral")
    await people.import_people(ctx, STAFF, CLI)
    try:
        yield database
    finally:
        await database.dispose()


async def test_the_database_gone_and_back_under_a_running_service(
    postgres_url: str,
    database_proxy: Proxy,
    records: Database,
    connector: RecordingConnector,
    serve: Callable[[dict[str, str]], Serve],
) -> None:
    service: Serve = await asyncio.to_thread(serve, {"SOBOT_DATABASE_URL": through(database_proxy, postgres_url)})
    async with ClientSession(timeout=ClientTimeout(total=60)) as session:
        sam = Caller(session, service.url, connector)

        async def ready() -> bool:
            return (await sam.ready())[0] == 200

        async def not_ready() -> bool:
            status, body = await sam.ready()
            return status == 503 and "the database does not answer" in body["problems"]

        await eventually(ready, 30, "/readyz before the outage")
        assert "new order" in await sam.say("help")

        # A blip nobody saw (the server restarted between two turns): the pool's connections are all dead, and
        # the next turn must not be the one that finds out.
        database_proxy.cut()
        database_proxy.restore()
        assert await sam.say("my orders") == "You have no open orders."

        # The connection cut in the middle of saving an order: after the order's row, before its timeline.
        database_proxy.cut_when(b"INSERT INTO milestones")
        assert POLITE in await sam.click("order.submit", new_order("C-CUT"))
        assert database_proxy.tripped.is_set() and not database_proxy.listening

        # The outage: every kind of turn, as often as it can, for as long as it lasts.
        turns = 0
        began = time.monotonic()
        while time.monotonic() - began < OUTAGE_SECONDS or turns < 3:
            assert await sam.say("my orders") == POLITE
            assert POLITE in await sam.click("order.submit", new_order(f"C-OUT-{turns}"))
            assert await sam.say("due") == POLITE
            assert await not_ready()
            turns += 1
        assert service.process.poll() is None, service.output()

        database_proxy.restore()
        # No restart: the very next turn finds the records (dead pooled connections are replaced, not reused).
        assert await sam.say("my orders") == "You have no open orders."
        await eventually(ready, 30, "/readyz after the database came back")

        # Cut again just after an order is committed, as the bot looks for the unit's channel: the order stands, so
        # the answer must say it was saved; "nothing was saved" would have the social worker enter it twice.
        database_proxy.cut_when(b"conversation_references.purpose")
        saved = await sam.click("order.submit", new_order("C-AFTER"))
        assert database_proxy.tripped.is_set()
        assert "Saved SO-2026-0001" in saved and "Nothing was saved" not in saved and CHILD_NAME not in saved
        database_proxy.restore()
        assert "SO-2026-0001" in await sam.say("my orders")
        await eventually(ready, 30, "/readyz after the second cut")

    async with records.session() as db:
        children = set((await db.scalars(select(models.Child.local_id))).all())
        orders = (await db.execute(select(models.Order.id, models.Order.reference))).all()
        [(order_id, reference)] = orders
        milestones = await db.scalar(select(func.count()).where(models.Milestone.order_id == order_id))
        creations = (await db.scalars(select(models.AuditEntry.order_reference).where(
            models.AuditEntry.action == "order.create"))).all()  # fmt: skip
    assert children == {"C-AFTER"}  # nothing of the cut submit, nor of those during the outage
    assert reference == "SO-2026-0001" and milestones == 10  # Wirral's timeline, whole
    assert creations == ["SO-2026-0001"]
    assert service.process.poll() is None
    log = service.output()
    assert "database unavailable during a message turn" in log and "database unavailable during a invoke turn" in log
    assert CHILD_NAME not in log and "2019-06-01" not in log


# The service's timeouts in the silent-database test: small, so the suite is quick; they are real socket timeouts.
QUICK = {"SOBOT_DATABASE_CONNECT_TIMEOUT_SECONDS": "0.5", "SOBOT_DATABASE_STATEMENT_TIMEOUT_SECONDS": "1"}
# What one turn may take when the database is silent: a few of those timeouts (a statement, closing the silent
# connection, connecting anew), far from the outage's length or the client's own 60 s.
ANSWERED_WITHIN = 8.0


async def timed(call: Awaitable[T]) -> tuple[T, float]:
    began = time.monotonic()
    answer = await call
    return answer, time.monotonic() - began


async def test_a_database_that_stops_answering_is_an_outage_not_a_hang(
    postgres_url: str,
    database_proxy: Proxy,
    records: Database,
    connector: RecordingConnector,
    serve: Callable[[dict[str, str]], Serve],
) -> None:
    service: Serve = await asyncio.to_thread(
        serve, {"SOBOT_DATABASE_URL": through(database_proxy, postgres_url), **QUICK}
    )
    async with ClientSession(timeout=ClientTimeout(total=60)) as session:
        sam = Caller(session, service.url, connector)

        async def ready() -> bool:
            return (await sam.ready())[0] == 200

        await eventually(ready, 30, "/readyz before the silence")
        assert await sam.say("my orders") == "You have no open orders."

        # Silent in the middle of saving an order: its statements were sent, and no answer ever came.
        database_proxy.stall_when(b"INSERT INTO milestones")
        answer, took = await timed(sam.click("order.submit", new_order("C-HELD")))
        assert database_proxy.tripped.is_set() and database_proxy.stalled
        assert POLITE in answer and took < ANSWERED_WITHIN, (took, answer)

        # Silent throughout: connections are accepted and held, nothing is refused, nothing answered.
        turns = 0
        began = time.monotonic()
        while time.monotonic() - began < OUTAGE_SECONDS or turns < 2:
            for answer, took in (
                await timed(sam.say("my orders")),
                await timed(sam.click("order.submit", new_order(f"C-SILENT-{turns}"))),
                await timed(sam.say("due")),
            ):
                assert POLITE in answer and took < ANSWERED_WITHIN, (took, answer)
            (status, body), took = await timed(sam.ready())
            assert status == 503 and "the database does not answer" in body["problems"], body
            assert took < ANSWERED_WITHIN, took
            turns += 1
        assert service.process.poll() is None, service.output()

        # The network back: what was held reaches the server only on connections the service has given up.
        database_proxy.restore()
        assert await sam.say("my orders") == "You have no open orders."
        await eventually(ready, 30, "/readyz after the silence")
        assert "Saved SO-2026-0001" in await sam.click("order.submit", new_order("C-AFTER"))

    async with records.session() as db:
        children = set((await db.scalars(select(models.Child.local_id))).all())
        references = (await db.scalars(select(models.Order.reference))).all()
    assert children == {"C-AFTER"}  # nothing of the held save, nor of those during the silence
    assert references == ["SO-2026-0001"]
    log = service.output()
    assert "database unavailable during a message turn" in log and "database unavailable during a invoke turn" in log
    assert CHILD_NAME not in log


async def test_every_way_into_the_records_gives_up_on_a_silent_database(
    postgres_url: str, database_proxy: Proxy
) -> None:
    database = Database.from_url(through(database_proxy, postgres_url), Timeouts(connect=0.5, statement=0.5))
    try:
        assert await database.ping()
        database_proxy.stall()
        # A pooled connection gone silent (its statement unanswered), then a connection that never opens. Each must
        # give up well within the wait: a hang fails the test rather than holding it.
        for gone in ("did not answer within 0.5 s", "no answer within 0.5 s"):
            with pytest.raises(DatabaseUnavailable, match=gone):
                await asyncio.wait_for(database.ping(), ANSWERED_WITHIN)

        async def count(way: Callable[[], AbstractAsyncContextManager[AsyncSession]]) -> None:
            async with way() as db:
                await db.scalar(select(func.count()).select_from(models.Order))

        for way in (database.session, database.read):
            with pytest.raises(DatabaseUnavailable, match="no answer within 0.5 s"):
                await asyncio.wait_for(count(way), ANSWERED_WITHIN)
        database_proxy.restore()
        assert await database.ping()
    finally:
        await database.dispose()
