"""The dashboard's pages and their routes: each asks who is looking, calls handlers/, and renders a template."""

from __future__ import annotations

from aiohttp import web

from handlers.queries import my_orders
from web.oversight import add_oversight
from web.page import DASHBOARD, render, viewer


async def home(request: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/caseload")


async def caseload(request: web.Request) -> web.Response:
    person = await viewer(request)
    orders = await my_orders(request.app[DASHBOARD].ctx, person)
    return await render(request, "caseload.html", {"title": "Caseload", "orders": orders})


def add_pages(app: web.Application) -> None:
    app.router.add_get("/", home, name="web.home")
    app.router.add_get("/caseload", caseload, name="web.caseload")
    add_oversight(app)
