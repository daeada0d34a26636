"""/metrics in Prometheus format: Teams turns, the outbox, the mailbox's lag, and a database that is down."""

from __future__ import annotations

from datetime import UTC, date, datetime

from aiohttp.test_utils import TestClient, TestServer

from handlers import orders, people
from handlers.context import CLI
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.notices import WorkingHours
from rules.procedures import load_builtin
from scheduler.outbox import Planner
from sobot.app import Services, create_app
from sobot.settings import load_settings
from storage import Database


def value(page: str, name: str) -> float:
    line = next(line for line in page.splitlines() if line.startswith(name + " ") or line.startswith(name + "{"))
    return float(line.rsplit(" ", 1)[1])


async def test_metrics_show_turns_and_the_outbox(database: Database, database_url: str) -> None:
    clock = FixedClock(datetime(2026, 3, 5, 7, 0, tzinfo=UTC))
    services = Services(load_settings({}, database_url=database_url), clock, database, load_builtin(),
                        WorkingCalendar())  # fmt: skip
    ctx = services.context()
    await people.import_people(ctx, "name,email,roles\nSam Worker,sam.worker@example.gov.uk,social_worker\n", CLI)
    await orders.create_order(ctx, orders.NewOrder("C1", "Jane Smith", "supervision", date(2026, 3, 3),
                                                   social_worker_email="sam.worker@example.gov.uk"), CLI)  # fmt: skip
    await Planner(database, ctx.procedures, ctx.calendar, WorkingHours(ctx.calendar), clock).plan()  # two queued
    clock.set(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))  # half an hour after they became due to go out
    client = TestClient(TestServer(create_app(services, run_jobs=False, environ={})))
    await client.start_server()
    try:
        await client.post("/api/messages", json={"type": "message"})  # refused: no conversation
        response = await client.get("/metrics")
        assert response.status == 200 and response.content_type == "text/plain"
        page = await response.text()
    finally:
        await client.close()
    assert value(page, 'sobot_teams_turns_total{status="400"}') == 1
    assert value(page, 'sobot_notifications{state="queued"}') == 2
    assert value(page, "sobot_oldest_unsent_notification_seconds") == 30 * 60
    assert value(page, "sobot_database_up") == 1
    assert "sobot_dispatch_duration_seconds_count" in page and "sobot_mailbox_lag_seconds" in page


async def test_metrics_say_when_the_database_is_down() -> None:
    down = Database.from_url("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    services = Services(load_settings({}), FixedClock(datetime(2026, 3, 5, 9, tzinfo=UTC)), down, load_builtin(),
                        WorkingCalendar())  # fmt: skip
    client = TestClient(TestServer(create_app(services, run_jobs=False, environ={})))
    await client.start_server()
    try:
        response = await client.get("/metrics")
        assert response.status == 200
        assert value(await response.text(), "sobot_database_up") == 0
    finally:
        await client.close()
        await down.dispose()


def test_dispatch_figures_are_counted_by_channel() -> None:
    from collections import Counter

    from scheduler.dispatch import Report
    from sobot.metrics import Metrics

    metrics = Metrics()
    metrics.record_dispatch(3, Report(sent=Counter(teams=2, email=1), retried=1,
                                      failed_by=Counter(email=1), queued=1))  # fmt: skip
    page = metrics.exposition().body
    assert isinstance(page, bytes)
    text = page.decode()
    assert 'sobot_notifications_sent_total{channel="teams"} 2.0' in text
    assert 'sobot_notifications_sent_total{channel="email"} 1.0' in text
    assert 'sobot_notifications_failed_total{channel="email"} 1.0' in text
    assert "sobot_notifications_queued_total 4.0" in text
    assert "sobot_notifications_retried_total 1.0" in text
