"""The dashboard's pages and their routes: each asks who is looking, calls handlers/, and renders a template."""

from __future__ import annotations

from aiohttp import web

from web import absences, calendar, caseload, imports, order
from web.oversight import add_oversight


async def home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/caseload")


def add_pages(app: web.Application) -> None:
    app.router.add_get("/", home, name="web.home")
    caseload.add_routes(app)
    order.add_routes(app)
    imports.add_routes(app)
    add_oversight(app)
    absences.add_routes(app)
    calendar.add_routes(app)
