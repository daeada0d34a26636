"""The "My calendar" page, where a person makes (or renews) their calendar link, and the feed the link opens.

The feed is served with no session: a calendar program subscribing to it signs nobody in, so the token in its
address is the key. Its route is therefore not one of the dashboard's guarded "web." routes (no session cookie is
read or set, nothing is asked of the sign-in), and it answers 404 alike for a token revoked, unknown or malformed,
so the answer says nothing about which tokens exist. Making a link is a form post like any other (CSRF-checked),
and the new link is shown on the answer to it, once: sobot keeps only its fingerprint.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from handlers import calendar_feed
from web.page import DASHBOARD, render, viewer

FEED = "/calendar/{token}.ics"
TITLE = "My calendar"


def feed_address(request: web.Request, token: str) -> str:
    return f"{request.app[DASHBOARD].links.dashboard}calendar/{token}.ics"


async def _page(request: web.Request, *, link: str | None = None) -> web.Response:
    person = await viewer(request)
    ctx = request.app[DASHBOARD].ctx
    made: datetime | None = await calendar_feed.made_at(ctx, person)
    steps = await calendar_feed.steps_of(ctx, person.id)
    context = {"title": TITLE, "made": made, "link": link, "steps": steps}
    return await render(request, "calendar.html", context)


async def show(request: web.Request) -> web.Response:
    return await _page(request)


async def renew(request: web.Request) -> web.Response:
    person = await viewer(request)
    token = await calendar_feed.renew(request.app[DASHBOARD].ctx, person)
    return await _page(request, link=feed_address(request, token))


async def feed(request: web.Request) -> web.Response:
    dashboard = request.app[DASHBOARD]
    refused = dashboard.identity.refusal(request)
    if refused is not None:  # local mode answers loopback callers only, the feed included
        return refused
    body = await calendar_feed.feed(dashboard.ctx, request.match_info["token"], dashboard.links.order)
    headers = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
    if body is None:
        return web.Response(status=404, text="There is no calendar at this address: make a new link on sobot's My "
                            "calendar page.", content_type="text/plain", headers=headers)  # fmt: skip
    return web.Response(body=body, content_type="text/calendar", charset="utf-8", headers=headers)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/calendar", show, name="web.calendar")
    app.router.add_post("/calendar/renew", renew, name="web.calendar.renew")
    # Not a "web." route: the token is the key, and no session is read or made.
    app.router.add_get(FEED, feed, name="calendar.feed")
