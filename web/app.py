"""The dashboard mounted on sobot's web app: templates, static files, the session, CSRF and security headers.

Every dashboard route is named "web.…"; the middleware here guards those (and the static files) and lets the
rest of the app (the Teams endpoint, health, metrics) pass untouched. A page handler asks `viewer(request)` for
the person looking, renders a template extending base.html, and posts forms that carry `csrf_token`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from handlers.context import Context
from handlers.terms import counted, day
from web import csrf, pages
from web.identity import Identity
from web.local import LocalIdentity, NoSignIn
from web.page import DASHBOARD, Dashboard
from web.sessions import SESSION

HERE = Path(__file__).resolve().parent
PREFIX = "web."
STATIC = "/static/"
# Where Teams and Outlook host tabs (Microsoft's "tab requirements"); the dashboard may be framed there only.
FRAME_ANCESTORS = ("'self'", "https://teams.microsoft.com", "https://*.teams.microsoft.com", "https://*.cloud.microsoft",
                   "https://*.microsoft365.com", "https://*.office.com", "https://outlook.office.com",
                   "https://outlook.office365.com")  # fmt: skip
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors " + " ".join(FRAME_ANCESTORS)
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _ours(request: web.Request) -> bool:
    route = request.match_info.route
    name = route.name or ""
    return name.startswith(PREFIX) or request.path.startswith(STATIC)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Around each dashboard request: refuse whom the identity refuses, load the session, check a post's CSRF token,
    and set the security headers on whatever is answered (errors included)."""
    if not _ours(request):
        return await handler(request)
    dashboard = request.app[DASHBOARD]
    refused = dashboard.identity.refusal(request)
    if refused is not None:
        refused.headers.update(HEADERS)
        return refused
    session = dashboard.sessions.load(request)
    request[SESSION] = session
    try:
        if request.method == "POST" and not request.path.startswith(STATIC):
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge:
                raise too_large(request) from None
            if not csrf.valid(session, form.get(csrf.FIELD)):
                raise web.HTTPForbidden(text=csrf.REFUSED, content_type="text/plain")
        response = await handler(request)
    except web.HTTPException as answer:
        answer.headers.update(HEADERS)
        dashboard.sessions.save(session, answer)
        raise
    response.headers.update(HEADERS)
    if not request.path.startswith(STATIC):
        # Pages show children's records: no browser or proxy keeps a copy.
        response.headers["Cache-Control"] = "no-store"
    dashboard.sessions.save(session, response)
    return response


def too_large(request: web.Request) -> web.HTTPRequestEntityTooLarge:
    """The answer to a body larger than the app takes (aiohttp's own limit, 1 MiB): a sentence saying what to do."""
    megabytes = request.client_max_size // (1024 * 1024)
    return web.HTTPRequestEntityTooLarge(
        request.client_max_size, request.content_length or 0, content_type="text/plain",
        text=f"What was sent is larger than {megabytes} MB, more than the dashboard takes: import a larger "
        "spreadsheet with sobot orders import FILE on the server, or split it.",
    )  # fmt: skip


def add_web(app: web.Application, dashboard: Dashboard) -> None:
    """Mount the dashboard on `app`: its templates, static files, middleware, sign-in routes and pages."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    env.globals["static"] = lambda name: STATIC + name
    env.filters["day"] = lambda value: day(value) if value else ""
    env.filters["counted"] = counted
    env.filters["words"] = lambda value: str(value or "").replace("_", " ")
    zone = ZoneInfo(dashboard.ctx.zone)
    env.filters["when"] = lambda at: f"{day(at.astimezone(zone).date())}, {at.astimezone(zone):%H:%M}" if at else ""
    app[DASHBOARD] = dashboard
    app.middlewares.append(guard)
    app.router.add_static(STATIC, HERE / "static", name="web.static", append_version=False)
    dashboard.identity.add_routes(app)
    pages.add_pages(app)


def choose_identity(ctx: Context, app_id: str | None, sign_in: Identity | None = None) -> Identity:
    """Local mode's identity without an app id; with one, the Entra sign-in (until it is set up, nobody gets in)."""
    if app_id is None:
        return LocalIdentity(ctx)
    return sign_in or NoSignIn()
