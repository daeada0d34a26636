"""What /metrics shows, in Prometheus format: turns, the outbox, the mailbox's lag and the dispatch job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from rules.clock import Clock
from scheduler.dispatch import Report
from storage import Database, DatabaseUnavailable, models

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Metrics:
    """One registry per app, so a process (or a test) can build several apps."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.turns = Counter("sobot_teams_turns", "Teams activities handled, by HTTP status.", ["status"],
                             registry=self.registry)  # fmt: skip
        self.dispatch_seconds = Histogram("sobot_dispatch_duration_seconds", "How long each dispatch tick took.",
                                          registry=self.registry)  # fmt: skip
        self.notifications = Gauge("sobot_notifications", "Notifications in the outbox, by state.", ["state"],
                                   registry=self.registry)  # fmt: skip
        self.oldest_unsent = Gauge("sobot_oldest_unsent_notification_seconds",
                                   "Age of the oldest notification due but not yet sent (0 when none).",
                                   registry=self.registry)  # fmt: skip
        self.mailbox_lag = Gauge("sobot_mailbox_lag_seconds", "Seconds since the mailbox was last read successfully.",
                                 registry=self.registry)  # fmt: skip
        self.queued = Counter("sobot_notifications_queued", "Notifications queued by this process.",
                              registry=self.registry)  # fmt: skip
        self.sent = Counter("sobot_notifications_sent", "Notifications delivered, by channel.", ["channel"],
                            registry=self.registry)  # fmt: skip
        self.failed = Counter("sobot_notifications_failed", "Notifications given up on after their last try, by "
                              "the channel last tried.", ["channel"], registry=self.registry)  # fmt: skip
        self.retried = Counter("sobot_notifications_retried", "Sends that failed and will be tried again.",
                               registry=self.registry)  # fmt: skip
        self.database_up = Gauge("sobot_database_up", "1 when the database answered the last scrape.",
                                 registry=self.registry)  # fmt: skip

    @web.middleware
    async def count_turns(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await handler(request)
        if request.path == "/api/messages":
            self.turns.labels(status=str(response.status)).inc()
        return response

    def record_dispatch(self, queued: int, report: Report) -> None:
        self.queued.inc(queued + report.queued)
        for channel, count in report.sent.items():
            self.sent.labels(channel=channel).inc(count)
        for channel, count in report.failed_by.items():
            self.failed.labels(channel=channel).inc(count)
        self.retried.inc(report.retried)

    async def refresh(self, database: Database, clock: Clock, last_mail_poll: datetime | None) -> None:
        """Read the outbox's figures now; a database that is down shows as down, not as an error."""
        now = clock.now()
        self.mailbox_lag.set((now - last_mail_poll).total_seconds() if last_mail_poll else 0)
        try:
            async with database.session() as session:
                counts = dict(
                    (state, count)
                    for state, count in await session.execute(
                        select(models.Notification.state, func.count()).group_by(models.Notification.state)
                    )
                )
                oldest = await session.scalar(
                    select(func.min(models.Notification.not_before)).where(
                        models.Notification.state == "queued", models.Notification.not_before <= now
                    )
                )
        except DatabaseUnavailable:
            self.database_up.set(0)
            return
        self.database_up.set(1)
        for state in ("queued", "claimed", "sending", "sent", "failed", "cancelled", "superseded", "unconfirmed"):
            self.notifications.labels(state=state).set(counts.get(state, 0))
        if isinstance(oldest, datetime):
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)
            self.oldest_unsent.set((now - oldest).total_seconds())
        else:
            self.oldest_unsent.set(0)

    def exposition(self) -> web.Response:
        response = web.Response(body=generate_latest(self.registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        return response
