"""The composition root: builds the whole service from settings, jobs included, and hands each part what it needs.

build_sobot(settings) is what `sobot serve`, `sobot mail poll`, the test rig and the benchmarks all call; a clock,
a database, the delivery channels and the Teams connector client can be given instead of the settings' own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import time, timedelta
from zoneinfo import ZoneInfo

from aiohttp import web
from microsoft_agents.hosting.core import ChannelServiceClientFactoryBase

from bot.app import TeamsBot, add_teams_endpoint, build_bot
from bot.notify import TeamsChannel
from bot.reach import Installer
from handlers import absences
from handlers.context import Context
from handlers.links import Links
from mail.automatic_replies import AutomaticRepliesReader
from mail.backends import Mailbox
from mail.backends.graph import TokenProvider, client_credentials
from mail.poller import Notices, Poller, PollReport
from mail.trust import SenderTrust, trust_method
from rules.calendar import WorkingCalendar
from rules.clock import Clock, SystemClock
from rules.notices import WorkingHours
from rules.procedures import Procedure, load_builtin
from scheduler.digest import Digest
from scheduler.dispatch import Channels, Dispatcher, Report
from scheduler.jobs import Jobs
from scheduler.outbox import Planner
from sobot.delivery import Delivery
from sobot.mailboxes import build_mailbox
from sobot.metrics import Metrics
from sobot.settings import TEAMS_APP_PREFIX, Settings, SettingsError
from storage import Database, DatabaseUnavailable
from web.app import add_web, choose_identity
from web.entra import EntraApp
from web.identity import Identity
from web.page import Dashboard
from web.sessions import Sessions
from web.signin import EntraIdentity

__all__ = ["SOBOT", "Services", "Sobot", "build_mailbox", "build_poller", "build_services", "build_sobot", "create_app"]

log = logging.getLogger("sobot")


@dataclass
class Services:
    """The records and rules the service runs on; the CLI's record commands need no more than these."""

    settings: Settings
    clock: Clock
    database: Database
    procedures: Mapping[str, Procedure]
    calendar: WorkingCalendar
    mailbox: Mailbox | None = None

    def context(self) -> Context:
        return Context(
            database=self.database,
            procedures=self.procedures,
            calendar=self.calendar,
            clock=self.clock,
            default_procedure=self.settings.procedure,
            zone=self.settings.timezone,
            acknowledge_days=self.settings.acknowledge_days,
        )


@dataclass
class Sobot:
    """The whole service: the records, the Teams bot, the delivery channels, the clock's jobs and the web app."""

    services: Services
    context: Context
    hours: WorkingHours
    teams: TeamsBot
    channels: Channels
    planner: Planner
    digest: Digest
    dispatcher: Dispatcher
    poller: Poller | None
    jobs: Jobs
    metrics: Metrics
    app: web.Application
    automatic_replies: AutomaticRepliesReader | None = None  # with Graph configured and the setting on

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def clock(self) -> Clock:
        return self.services.clock

    @property
    def database(self) -> Database:
        return self.services.database

    async def dispatch(self) -> tuple[int, Report]:
        """The dispatch job's work: queue every notice due and the morning's digests, then send what may go now."""
        queued = await self.planner.plan() + await self.digest.plan()
        return queued, await self.dispatcher.tick()

    async def read_automatic_replies(self) -> absences.Synced | None:
        """The automatic replies job's work: everyone's Outlook automatic replies, taken as absences where nobody
        recorded one (None without Graph)."""
        if self.automatic_replies is None:
            return None
        readings = await self.automatic_replies.read(await absences.graph_users(self.context))
        return await absences.from_automatic_replies(self.context, readings)

    async def poll(self) -> PollReport | None:
        """The mail job's work: act on each new message in the unit's mailbox (None when there is no mailbox)."""
        return await self.poller.poll_once() if self.poller is not None else None

    async def close(self) -> None:
        """Stop the jobs, then close the Teams client and the database, in that order."""
        await self.jobs.stop()
        await self.teams.messenger.close()
        await self.database.dispose()


SOBOT = web.AppKey("sobot", Sobot)


def build_poller(
    services: Services, mailbox: Mailbox, notices: Notices | None = None,
    send_replies: Callable[[], Awaitable[object]] | None = None,
) -> Poller:  # fmt: skip
    settings = services.settings
    trust = SenderTrust(trust_method(settings.mail_sender_trust, settings.mail_backend),
                        tuple(settings.mail_authserv_ids))  # fmt: skip
    return Poller(services.context(), mailbox, settings.unit_address, settings.allowed_sender_domains,
                  notices or Notices(), trust, settings.mail_max_bytes, settings.mail_read_seconds,
                  attempts=settings.mail_attempts, retry_seconds=settings.mail_retry_seconds,
                  send_replies=send_replies, claims_kept=timedelta(days=settings.mail_claims_kept_days),
                  links=Links(settings.dashboard_url))  # fmt: skip


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


def build_sobot(
    settings: Settings,
    *,
    clock: Clock | None = None,
    database: Database | None = None,
    channels: Channels | None = None,
    environ: Mapping[str, str] | None = None,
    client_factory: ChannelServiceClientFactoryBase | None = None,
    run_jobs: bool = True,
    graph_token: TokenProvider | None = None,
    identity: Identity | None = None,
) -> Sobot:
    """The whole service from settings: the one place its parts are made and joined.

    `clock` and `database` replace the system clock and the settings' database; `channels` replaces the delivery
    of notifications (Teams through the bot, email through the unit's mailbox); `environ` holds the Agents SDK's
    own variables (os.environ by default) and `client_factory` replaces its outbound connector client. With
    `run_jobs` the jobs start when the web app starts and stop when it stops. `graph_token` replaces the bot's own
    app-only Microsoft Graph token, with which it installs itself for people (SOBOT_TEAMS_APP_CATALOG_ID).
    `identity` says who looks at the dashboard (by default local mode's without an app id, else the Entra sign-in).
    """
    return assemble(build_services(settings, clock=clock, database=database), channels=channels, environ=environ,
                    client_factory=client_factory, run_jobs=run_jobs, graph_token=graph_token,
                    identity=identity)  # fmt: skip


def assemble(
    services: Services,
    *,
    channels: Channels | None = None,
    environ: Mapping[str, str] | None = None,
    client_factory: ChannelServiceClientFactoryBase | None = None,
    run_jobs: bool = True,
    graph_token: TokenProvider | None = None,
    identity: Identity | None = None,
) -> Sobot:
    """Everything else, on records and rules already built (build_sobot builds them from the settings)."""
    settings = services.settings
    environ = os.environ if environ is None else environ
    ctx = services.context()
    hours = WorkingHours(services.calendar, settings.working_hours_start, settings.working_hours_end,
                         ZoneInfo(settings.timezone))  # fmt: skip
    metrics = Metrics()
    app = web.Application(middlewares=[metrics.count_turns])
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_page)
    # With a mailbox, an order made in Teams asks the unit by email too, as one made by email does.
    unit_mailbox = settings.unit_address if services.mailbox is not None else None
    teams = build_bot(ctx, environ, client_factory=client_factory, unit_mailbox=unit_mailbox,
                      dashboard=settings.dashboard_url)  # fmt: skip
    add_teams_endpoint(app, teams, settings.host)
    planner = Planner(services.database, services.procedures, services.calendar, hours, services.clock,
                      settings.legal_address or None)  # fmt: skip
    add_web(app, replace(dashboard(ctx, settings, teams.app_id, identity), forecast=planner.forecast))
    if channels is None:
        channels = Delivery(TeamsChannel(teams.messenger, teams.links), services.mailbox, ctx,
                            settings.allocation_request_to, installer(ctx, settings, environ, graph_token),
                            polled=settings.unit_address, links=Links(settings.dashboard_url))  # fmt: skip
    dispatcher = Dispatcher(services.database, channels, hours, services.clock, settings.unit_address,
                            legal_address=settings.legal_address or None,
                            attempts=settings.notify_attempts, backoff=settings.notify_backoff_seconds,
                            timeout=settings.notify_timeout_seconds,
                            concurrency=settings.notify_concurrency)  # fmt: skip
    poller = None
    if services.mailbox is not None:
        agent = teams.agent
        notices = Notices(order_created=agent.ask_for_allocation, allocated=agent.announce_allocation,
                          unreadable=agent.tell_unit)  # fmt: skip
        poller = build_poller(services, services.mailbox, notices, dispatcher.send_replies)
    sobot = Sobot(services=services, context=ctx, hours=hours, teams=teams, channels=channels, planner=planner,
                  digest=Digest(ctx, hours, settings.digest_time), dispatcher=dispatcher, poller=poller,
                  jobs=Jobs(services.clock, settings.timezone), metrics=metrics, app=app,
                  automatic_replies=replies_reader(settings, environ, graph_token))  # fmt: skip
    add_jobs(sobot)
    app[SOBOT] = sobot

    async def start(app: web.Application) -> None:
        sobot.jobs.start()

    async def stop(app: web.Application) -> None:
        await sobot.close()

    if run_jobs:
        app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return sobot


def cannot_install(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """Why sobot may not install itself for people in Teams, in a sentence; None when it may."""
    if not settings.teams_app_catalog_id:
        return "SOBOT_TEAMS_APP_CATALOG_ID is not set (see the README's registration guide)."
    missing = [name for name in ("CLIENTID", "CLIENTSECRET", "TENANTID") if not environ.get(TEAMS_APP_PREFIX + name)]
    if missing:
        return f"the bot's app credentials are not all set ({', '.join(TEAMS_APP_PREFIX + m for m in missing)})."
    return None


def installer(ctx: Context, settings: Settings, environ: Mapping[str, str],
              token: TokenProvider | None = None) -> Installer | None:  # fmt: skip
    """What installs the bot for people who never opened it, with the bot's own app-only Graph token."""
    app_id, tenant = environ.get(TEAMS_APP_PREFIX + "CLIENTID", ""), environ.get(TEAMS_APP_PREFIX + "TENANTID", "")
    if token is None:
        if cannot_install(settings, environ) is not None:
            return None
        token = client_credentials(tenant, app_id, environ[TEAMS_APP_PREFIX + "CLIENTSECRET"],
                                   scope=f"{settings.graph_url.rstrip('/')}/.default")  # fmt: skip
    elif not settings.teams_app_catalog_id:
        return None
    return Installer(ctx, settings.graph_url, settings.teams_app_catalog_id, app_id or "sobot", tenant, token,
                     settings.teams_service_url)  # fmt: skip


def replies_reader(settings: Settings, environ: Mapping[str, str],
                   token: TokenProvider | None = None) -> AutomaticRepliesReader | None:  # fmt: skip
    """What reads people's Outlook automatic replies, with the bot's own app-only Graph token; None unless the
    setting asks for it and the bot's app credentials are there."""
    if not settings.automatic_replies:
        return None
    if token is None:
        credentials = [environ.get(TEAMS_APP_PREFIX + name, "") for name in ("TENANTID", "CLIENTID", "CLIENTSECRET")]
        if not all(credentials):
            log.warning("SOBOT_AUTOMATIC_REPLIES is on, but the bot's app credentials are not all set: automatic "
                        "replies are not read.")  # fmt: skip
            return None
        token = client_credentials(*credentials, scope=f"{settings.graph_url.rstrip('/')}/.default")
    return AutomaticRepliesReader(settings.graph_url, token, ZoneInfo(settings.timezone))


def dashboard(ctx: Context, settings: Settings, app_id: str | None, identity: Identity | None) -> Dashboard:
    """The dashboard's parts: who is looking, and how its session cookie is signed and sent."""
    secret = settings.web_session_secret.get_secret_value() or Sessions.random_secret()
    # A Teams tab is a frame on Teams' own site, where a cookie is sent only as SameSite=None (and so Secure).
    sessions = Sessions(secret) if app_id is None else Sessions(secret, same_site="None", secure=True)
    return Dashboard(
        ctx,
        identity or choose_identity(ctx, app_id, entra_identity(ctx, settings)),
        sessions,
        links=Links(settings.dashboard_url),
    )


def entra_identity(ctx: Context, settings: Settings) -> EntraIdentity | None:
    """Signing in with Microsoft, where the settings name the Entra app; None where they do not."""
    if not settings.sign_in_configured:
        return None
    app = EntraApp(settings.entra_tenant_id, settings.entra_client_id,
                   settings.entra_client_secret.get_secret_value(), settings.entra_authority_host,
                   settings.sign_in_app_id_uri)  # fmt: skip
    return EntraIdentity(ctx, app, settings.sign_in_redirect_uri)


def add_jobs(sobot: Sobot) -> None:
    """The clock's jobs: the dispatch tick, the digest's own minute, and the mailbox poll where there is a mailbox."""
    settings = sobot.settings

    async def dispatch() -> None:
        with sobot.metrics.dispatch_seconds.time():
            queued, report = await sobot.dispatch()
        sobot.metrics.record_dispatch(queued, report)
        if queued or report.sent or report.failed or report.retried:
            log.info("outbox: %d queued, %d sent, %d to retry, %d failed", queued + report.queued,
                     sum(report.sent.values()), report.retried, report.failed)  # fmt: skip

    async def poll() -> None:
        report = await sobot.poll()
        if report and (report.orders or report.allocations or report.needs_attention):
            log.info("mail: %d orders, %d allocations, %d to Needs attention", len(report.orders),
                     len(report.allocations), report.needs_attention)  # fmt: skip

    sobot.jobs.every("dispatch", settings.dispatch_interval_seconds, dispatch)
    # A tick at the digest's minute itself, so the morning's summary goes at 08:30 and not up to a tick later.
    sobot.jobs.daily("digest", settings.digest_time, dispatch)
    if sobot.poller is not None:
        sobot.jobs.every("mail", settings.mail_poll_seconds, poll)
    if sobot.automatic_replies is not None:

        async def read_replies() -> None:
            synced = await sobot.read_automatic_replies()
            if synced and (synced.recorded or synced.changed or synced.ended):
                log.info("automatic replies: %d absences recorded, %d changed, %d ended", synced.recorded,
                         synced.changed, synced.ended)  # fmt: skip

        # Read before the first notices of the day are planned, so a morning's reminder finds the absence.
        start = settings.working_hours_start
        sobot.jobs.daily("automatic_replies", time(max(start.hour - 1, 0), start.minute), read_replies)


def create_app(
    services: Services,
    *,
    run_jobs: bool = True,
    environ: Mapping[str, str] | None = None,
    client_factory: ChannelServiceClientFactoryBase | None = None,
) -> web.Application:
    """The web app of the whole service built on `services`: health, readiness, metrics and the Teams endpoint."""
    return assemble(services, environ=environ, client_factory=client_factory, run_jobs=run_jobs).app


async def metrics_page(request: web.Request) -> web.Response:
    sobot = request.app[SOBOT]
    await sobot.metrics.refresh(sobot.database, sobot.clock, sobot.jobs.last_run.get("mail"))
    return sobot.metrics.exposition()


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    sobot = request.app[SOBOT]
    problems = []
    jobs = sobot.jobs
    try:
        if not await sobot.database.ping():
            problems.append("the database does not answer")
    except DatabaseUnavailable:
        problems.append("the database does not answer")
    if not jobs.running:
        problems.append("the scheduler is not running")
    if problems:
        return web.json_response({"status": "not ready", "problems": problems}, status=503)
    return web.json_response({"status": "ready", "jobs": {name: at.isoformat() for name, at in jobs.last_run.items()}})
