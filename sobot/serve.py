"""`sobot serve`: migrate, then run the web app and the clock until stopped."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

from aiohttp import web

from sobot.app import build_sobot
from sobot.settings import Settings, SettingsError, missing_teams_app
from storage import upgrade

log = logging.getLogger("sobot")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Requests in flight and the jobs get this long to finish when sobot is told to stop.
STOP_SECONDS = 20


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
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
    runner = web.AppRunner(build_sobot(settings).app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    log.info("sobot is listening on http://%s:%d (database %s)", settings.host, settings.port,
             settings.database_url.split("://", 1)[0])  # fmt: skip
    try:
        await stop.wait()
    finally:
        log.info("sobot is stopping")
        try:
            await asyncio.wait_for(runner.cleanup(), STOP_SECONDS)
        except TimeoutError:
            log.error("sobot did not stop within %d s; stopping anyway", STOP_SECONDS)


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (all but Windows): the same asyncio, with less overhead per socket event."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(settings: Settings) -> None:
    with asyncio.Runner(loop_factory=event_loop) as runner:
        runner.run(serve(settings))
