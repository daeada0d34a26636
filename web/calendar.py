"""The "My calendar" page, where a person makes (or renews) their calendar link, and the feed the link opens.

The feed is served with no session: a calendar program subscribing to it signs nobody in, so the token in its
address is the key. Its route is therefore not one of the dashboard's guarded "web." routes (no session cookie is
read or set, nothing is asked of the sign-in), and it answers 404 alike for a token revoked, unknown or malformed,
so the answer says nothing about which tokens exist. Making a link is a form post like any other (CSRF-checked),
answered with a redirect to the page (so reloading it never renews again); the new link waits in the signed session
for that one page to show it, and is then gone from the session: sobot keeps only its fingerprint, and the link is
never in an address or a log.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from handlers import calendar_feed
from web.page import DASHBOARD, render, viewer
from web.sessions import session_of

FEED = "/calendar/{token}.ics"
TITLE = "My calendar"
# The session key of a link just made: read once by the page the renewal redirects to, and removed as it is read.
NEW_LINK = "calendar_new_link"


def feed_address(request: web.Request, token: str) -> str:
    return f"{request.app[DASHBOARD].links.dashboard}calendar/{token}.ics"


async def show(request: web.Request) -> web.Response:
    person = await viewer(request)
    ctx = request.app[DASHBOARD].ctx
    made: datetime | None = await calendar_feed.made_at(ctx, person)
    steps = await calendar_feed.steps_of(ctx, person.id)
    new = session_of(request).pop(NEW_LINK, None)
    # A link kept for someone else (a session signed out and in again as another person) is not shown.
    fresh = new if isinstance(new, dict) and new.get("person_id") == person.id else {}
    context = {"title": TITLE, "made": made, "link": fresh.get("link"), "replaced": bool(fresh.get("replaced")),
               "steps": steps}  # fmt: skip
    return await render(request, "calendar.html", context)


async def renew(request: web.Request) -> web.Response:
    person = await viewer(request)
    ctx = request.app[DASHBOARD].ctx
    replaced = await calendar_feed.made_at(ctx, person) is not None
    token = await calendar_feed.renew(ctx, person)
    session_of(request)[NEW_LINK] = {"person_id": person.id, "link": feed_address(request, token),
                                     "replaced": replaced}  # fmt: skip
    raise web.HTTPSeeOther("/calendar")


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
