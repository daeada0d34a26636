"""`sobot serve`: migrate, then run the web app and the clock until stopped."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from sobot.app import build_sobot
from sobot.settings import Settings, SettingsError, missing_teams_app
from storage import upgrade
from web.app import too_large

log = logging.getLogger("sobot")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Requests in flight and the jobs get this long to finish when sobot is told to stop.
STOP_SECONDS = 20


@dataclass(frozen=True)
class Patience:
    """How long the server waits on a caller before it closes the connection, so that connections held open slowly
    (a request's head sent a byte at a time, or never) cannot pile up without end."""

    # From a connection's opening, or the end of its last answer, until a request's head (line and headers) has
    # arrived. Longer than a reverse proxy's idle keep-alive to its upstreams (nginx: 60 s), so that the proxy, not
    # sobot, closes an idle connection it might be about to reuse.
    idle_seconds: float = 75.0
    # From the end of a request's head until its whole body has arrived.
    body_seconds: float = 30.0
    # After answering a request whose body is unfinished (a 408), how long the rest is still read and dropped, so
    # the caller hears the answer before the connection closes.
    linger_seconds: float = 5.0


def body_within(seconds: float) -> Middleware:
    """A middleware that reads a request's body (up to the app's size limit) before anything else sees it, and
    answers 408, closing the connection, when it does not all arrive within `seconds`."""

    @web.middleware
    async def read_body(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            try:
                async with asyncio.timeout(seconds):
                    if request.content_type == "multipart/form-data":
                        # Parsed and kept: a multipart body read as bytes could not be parsed afterwards.
                        await request.post()
                    else:
                        await request.read()  # kept by aiohttp: the handler reads the same body again
            except web.HTTPRequestEntityTooLarge:
                if (request.match_info.route.name or "").startswith("web."):
                    raise too_large(request) from None  # the dashboard's sentence for it
                raise
            except TimeoutError:
                log.info("a request's body did not arrive within %g s; its connection was closed", seconds)
                response = web.json_response(
                    {"error": f"the request's body did not arrive within {seconds:g} seconds: send it again"},
                    status=408,
                )
                response.force_close()
                return response
        return await handler(request)

    return read_body


def runner(app: web.Application, patience: Patience = Patience()) -> web.AppRunner:
    """The server for the app, with its patience for slow callers."""
    app.middlewares.insert(0, body_within(patience.body_seconds))
    return web.AppRunner(app, access_log=None, keepalive_timeout=patience.idle_seconds,
                         lingering_time=patience.linger_seconds)  # fmt: skip


async def serve(settings: Settings, stop: asyncio.Event | None = None, patience: Patience = Patience()) -> None:
    """Serve until `stop` is set (or SIGINT/SIGTERM); SettingsError, before anything starts, naming every Teams
    app variable that serving on this address needs and lacks."""
    missing = missing_teams_app(os.environ, settings.host)
    if missing:
        raise SettingsError(
            f"sobot cannot serve Teams on {settings.host} without the Teams app's settings: set {', '.join(missing)} "
            "(from the app registration in Entra ID), or serve on 127.0.0.1 in local mode with none of them."
        )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()

    def first_signal() -> None:
        # The first signal stops sobot in order; a second one, while it stops, ends the process at once.
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
        stop.set()

    for sig in SIGNALS:
        loop.add_signal_handler(sig, first_signal)
    await upgrade(settings.database_url)
    server = runner(build_sobot(settings).app, patience)
    await server.setup()
    settled()
    site = web.TCPSite(server, settings.host, settings.port)
    await site.start()
    log.info("sobot is listening on http://%s:%d (database %s)", settings.host, settings.port,
             settings.database_url.split("://", 1)[0])  # fmt: skip
    try:
        await stop.wait()
    finally:
        log.info("sobot is stopping")
        try:
            await asyncio.wait_for(server.cleanup(), STOP_SECONDS)
        except TimeoutError:
            log.error("sobot did not stop within %d s; stopping anyway", STOP_SECONDS)


def settled() -> int:
    """Everything made while starting (modules, procedures, the app) kept out of the garbage collector's sight from
    now on, as none of it is garbage: a full collection otherwise walks all of it, a pause of about 100 ms in which
    nothing else runs (a Teams turn, the mail poll, /healthz). How many objects that was."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (all but Windows): the same asyncio, with less overhead per socket event."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(settings: Settings) -> None:
    with asyncio.Runner(loop_factory=event_loop) as loop:
        loop.run(serve(settings))
