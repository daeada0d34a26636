"""The oversight page: the figures managers, Heads of Service, the unit and Legal oversee, as charts and tables.

It asks handlers.oversight for the figures of the orders the viewer may see, narrowed by the team and procedure
chosen in its form; whoever the permission table refuses gets a 403 page saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from handlers import oversight
from handlers.directory import PersonView
from handlers.errors import InvalidInput, NotAllowed
from web.oversight_charts import charts
from web.page import DASHBOARD, render, viewer

TITLE = "Oversight"


def _chosen(request: web.Request, name: str) -> str | None:
    """A filter's value from the query string: None for "every" (nothing chosen)."""
    value = request.query.get(name, "").strip()
    return value or None


async def page(request: web.Request) -> web.Response:
    person = await viewer(request)
    ctx = request.app[DASHBOARD].ctx
    team, procedure = _chosen(request, "team"), _chosen(request, "procedure")
    try:
        figures = await oversight.figures(ctx, person.actor, team=team, procedure=procedure)
    except NotAllowed as refused:
        return await render(request, "oversight_refused.html", {"title": TITLE, "sentence": str(refused)}, status=403)
    except InvalidInput as problem:
        # The form again, with what was chosen and the problem beside its field; no figures until it is put right.
        context: dict[str, Any] = {
            "title": TITLE, "figures": None, "problem": str(problem), "problem_field": problem.field, "team": team,
            "procedure": procedure, "procedures": {k: p.title for k, p in sorted(ctx.procedures.items())},
            "teams": (), "charts": {},
        }  # fmt: skip
        return await render(request, "oversight.html", context, status=400)
    context = {"title": TITLE, "figures": figures, "problem": None, "problem_field": None, "team": figures.team,
               "procedure": figures.procedure, "procedures": figures.procedures, "teams": figures.teams,
               "charts": charts(figures), "caseload_ending": caseload_ending(figures)}  # fmt: skip
    return await render(request, "oversight.html", context)


def caseload_ending(figures: oversight.Figures) -> str:
    """The caseload's view of the same orders ending within 3 months."""
    chosen = [("ending", "1"), ("team", figures.team or ""), ("procedure", figures.procedure or "")]
    return "/caseload?" + urlencode([(name, value) for name, value in chosen if value])


def may_see(person: PersonView | None) -> bool:
    """Whether the page's way in (its nav entry) is shown to this person."""
    return person is not None and oversight.may_oversee(person.roles, person.team)


def add_oversight(app: web.Application) -> None:
    """The page's route, and `may_see_oversight(viewer)` for base.html's nav."""
    app.router.add_get("/oversight", page, name="web.oversight")
    shown: Callable[[PersonView | None], bool] = may_see
    aiohttp_jinja2.get_env(app).globals["may_see_oversight"] = shown
