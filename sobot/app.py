"""The composition root: builds the service's parts from settings and hands each what it needs."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from aiohttp import web
from microsoft_agents.hosting.core import ChannelServiceClientFactoryBase

from bot.app import BOT, add_teams_endpoint, build_bot
from bot.notify import TeamsChannel
from handlers.context import Context
from mail.backends import Mailbox
from mail.backends.maildir import MaildirMailbox
from mail.poller import Notices, Poller
from rules.calendar import WorkingCalendar
from rules.clock import Clock, SystemClock
from rules.notices import WorkingHours
from rules.procedures import Procedure, load_builtin
from scheduler.digest import Digest
from scheduler.dispatch import Channels, Dispatcher
from scheduler.jobs import Jobs
from scheduler.outbox import Planner
from sobot.delivery import Delivery
from sobot.metrics import Metrics
from sobot.settings import Settings, SettingsError
from storage import Database, DatabaseUnavailable

log = logging.getLogger("sobot")


@dataclass
class Services:
    """What a running sobot is made of; tests build one with their own clock and database."""

    settings: Settings
    clock: Clock
    database: Database
    procedures: Mapping[str, Procedure]
    calendar: WorkingCalendar
    mailbox: Mailbox | None = None
    jobs: Jobs | None = None

    def context(self) -> Context:
        return Context(
            database=self.database,
            procedures=self.procedures,
            calendar=self.calendar,
            clock=self.clock,
            default_procedure=self.settings.procedure,
            zone=self.settings.timezone,
        )


def build_mailbox(settings: Settings) -> Mailbox | None:
    """The mailbox the settings name; the maildir backend is the embedded default."""
    if settings.mail_backend == "maildir":
        return MaildirMailbox(settings.mailbox_dir, settings.unit_address)
    if settings.mail_backend == "none":
        return None
    if settings.mail_backend == "imap":
        from mail.backends.imap import ImapMailbox

        missing = [f"SOBOT_{name.upper()}" for name in ("imap_host", "imap_username", "smtp_host")
                   if not getattr(settings, name)]  # fmt: skip
        oauth = ("graph_tenant_id", "graph_client_id")
        if settings.imap_auth == "xoauth2":
            missing += [f"SOBOT_{name.upper()}" for name in oauth if not getattr(settings, name)]
            missing += [] if settings.graph_client_secret.get_secret_value() else ["SOBOT_GRAPH_CLIENT_SECRET"]
        elif not settings.imap_password.get_secret_value():
            missing.append("SOBOT_IMAP_PASSWORD (or SOBOT_IMAP_AUTH=xoauth2)")
        if missing:
            raise SettingsError(f"The imap mail backend needs {', '.join(missing)}.")
        token = None
        if settings.imap_auth == "xoauth2":
            from mail.backends.graph import client_credentials

            # Exchange Online's IMAP and SMTP take the app-only token of an app granted access to the mailbox.
            token = client_credentials(settings.graph_tenant_id, settings.graph_client_id,
                                       settings.graph_client_secret.get_secret_value(),
                                       scope="https://outlook.office365.com/.default")  # fmt: skip
        try:
            return ImapMailbox(
                host=settings.imap_host, port=settings.imap_port, security=settings.imap_security,
                username=settings.imap_username, password=settings.imap_password.get_secret_value() or None,
                token=token, address=settings.unit_address, smtp_host=settings.smtp_host,
                smtp_port=settings.smtp_port, smtp_security=settings.smtp_security,
                smtp_username=settings.smtp_username or (settings.imap_username if token else None),
                smtp_password=settings.smtp_password.get_secret_value() or None,
                smtp_token=token if not settings.smtp_password.get_secret_value() else None,
            )  # fmt: skip
        except ValueError as error:
            raise SettingsError(f"The imap mail backend's settings cannot be used: {error}") from None
    if settings.mail_backend == "graph":
        from mail.backends.graph import GraphMailbox, client_credentials

        missing = [n for n in ("graph_mailbox", "graph_tenant_id", "graph_client_id") if not getattr(settings, n)]
        if missing or not settings.graph_client_secret.get_secret_value():
            raise SettingsError("The graph mail backend needs SOBOT_GRAPH_MAILBOX, SOBOT_GRAPH_TENANT_ID, "
                             "SOBOT_GRAPH_CLIENT_ID and SOBOT_GRAPH_CLIENT_SECRET.")  # fmt: skip
        token = client_credentials(settings.graph_tenant_id, settings.graph_client_id,
                                   settings.graph_client_secret.get_secret_value())  # fmt: skip
        return GraphMailbox(settings.graph_mailbox, token, address=settings.unit_address)
    if settings.mail_backend == "ews":
        from mail.backends.ews import EwsMailbox

        if not (settings.ews_endpoint and settings.ews_username and settings.ews_password.get_secret_value()):
            raise SettingsError(
                "The ews mail backend needs SOBOT_EWS_ENDPOINT, SOBOT_EWS_USERNAME and SOBOT_EWS_PASSWORD."
            )
        return EwsMailbox(settings.unit_address, service_endpoint=settings.ews_endpoint,
                          username=settings.ews_username, password=settings.ews_password.get_secret_value(),
                          auth_type=settings.ews_auth_type, build=settings.ews_build)  # fmt: skip
    raise SettingsError(f"SOBOT_MAIL_BACKEND: the {settings.mail_backend} backend is not available in this build.")


def build_dispatcher(services: Services, hours: WorkingHours, channels: Channels) -> Dispatcher:
    settings = services.settings
    return Dispatcher(services.database, channels, hours, services.clock, settings.unit_address,
                      attempts=settings.notify_attempts, backoff=settings.notify_backoff_seconds,
                      timeout=settings.notify_timeout_seconds, concurrency=settings.notify_concurrency)  # fmt: skip


def build_poller(services: Services, mailbox: Mailbox, notices: Notices | None = None) -> Poller:
    settings = services.settings
    return Poller(services.context(), mailbox, settings.unit_address, settings.allowed_sender_domains,
                  notices or Notices())  # fmt: skip


def build_services(settings: Settings, *, clock: Clock | None = None, database: Database | None = None) -> Services:
    extra = [settings.procedures_dir] if settings.procedures_dir else []
    procedures = load_builtin(settings.deadline_overrides, extra)
    if settings.procedure not in procedures:
        raise SettingsError(
            f"SOBOT_PROCEDURE: there is no procedure {settings.procedure!r} (there are: {', '.join(procedures)})"
        )
    return Services(
        settings=settings,
        clock=clock or SystemClock(),
        database=database or Database.from_url(settings.database_url, settings.database_timeouts),
        procedures=procedures,
        calendar=WorkingCalendar(settings.closure_days),
        mailbox=build_mailbox(settings),
    )


SERVICES = web.AppKey("services", Services)
METRICS = web.AppKey("metrics", Metrics)


def create_app(
    services: Services,
    *,
    run_jobs: bool = True,
    environ: Mapping[str, str] | None = None,
    client_factory: ChannelServiceClientFactoryBase | None = None,
) -> web.Application:
    """The aiohttp application: health, readiness, and the Teams endpoint.

    `environ` holds the Agents SDK's own variables (os.environ by default); `client_factory` replaces the
    SDK's outbound connector client, for tests.
    """
    metrics = Metrics()
    app = web.Application(middlewares=[metrics.count_turns])
    app[SERVICES] = services
    app[METRICS] = metrics
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    # With a mailbox, an order made in Teams asks the unit by email too, as one made by email does.
    unit_mailbox = services.settings.unit_address if services.mailbox is not None else None
    bot = build_bot(services.context(), os.environ if environ is None else environ, client_factory=client_factory,
                    unit_mailbox=unit_mailbox)  # fmt: skip
    add_teams_endpoint(app, bot, services.settings.host)

    async def start_jobs(app: web.Application) -> None:
        jobs = Jobs(services.clock, services.settings.timezone)

        settings = services.settings
        hours = WorkingHours(services.calendar, settings.working_hours_start, settings.working_hours_end,
                             ZoneInfo(settings.timezone))  # fmt: skip
        planner = Planner(services.database, services.procedures, services.calendar, hours, services.clock,
                          settings.legal_address or None)  # fmt: skip
        digest = Digest(services.context(), hours, settings.digest_time)
        delivery = Delivery(TeamsChannel(app[BOT].messenger), services.mailbox, services.context())
        dispatcher = build_dispatcher(services, hours, delivery)

        async def dispatch() -> None:
            with metrics.dispatch_seconds.time():
                queued = await planner.plan() + await digest.plan()
                report = await dispatcher.tick()
            metrics.record_dispatch(queued, report)
            if queued or report.sent or report.failed or report.retried:
                log.info("outbox: %d queued, %d sent, %d to retry, %d failed", queued + report.queued,
                         sum(report.sent.values()), report.retried, report.failed)  # fmt: skip

        jobs.every("dispatch", settings.dispatch_interval_seconds, dispatch)
        # A tick at the digest's minute itself, so the morning's summary goes at 08:30 and not up to a tick later.
        jobs.daily("digest", settings.digest_time, dispatch)
        mailbox = services.mailbox
        if mailbox is not None:
            agent = app[BOT].agent
            notices = Notices(order_created=agent.ask_for_allocation, allocated=agent.announce_allocation,
                              unreadable=agent.tell_unit)  # fmt: skip
            poller = build_poller(services, mailbox, notices)

            async def poll() -> None:
                report = await poller.poll_once()
                if report.orders or report.allocations or report.needs_attention:
                    log.info("mail: %d orders, %d allocations, %d to Needs attention", len(report.orders),
                             len(report.allocations), report.needs_attention)  # fmt: skip

            jobs.every("mail", services.settings.mail_poll_seconds, poll)
        jobs.start()
        services.jobs = jobs

    async def stop(app: web.Application) -> None:
        if services.jobs is not None:
            await services.jobs.stop()
        await app[BOT].messenger.close()
        await services.database.dispose()

    if run_jobs:
        app.on_startup.append(start_jobs)
    app.on_cleanup.append(stop)
    return app


async def metrics_page(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    metrics = request.app[METRICS]
    last_poll = services.jobs.last_run.get("mail") if services.jobs else None
    await metrics.refresh(services.database, services.clock, last_poll)
    return metrics.exposition()


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    problems = []
    jobs = services.jobs
    try:
        if not await services.database.ping():
            problems.append("the database does not answer")
    except DatabaseUnavailable:
        problems.append("the database does not answer")
    if jobs is None or not jobs.running:
        problems.append("the scheduler is not running")
    if problems or jobs is None:
        return web.json_response({"status": "not ready", "problems": problems}, status=503)
    return web.json_response({"status": "ready", "jobs": {name: at.isoformat() for name, at in jobs.last_run.items()}})
