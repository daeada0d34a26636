"""What every dashboard page uses: the dashboard's parts, who is looking, and rendering a template on base.html."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from handlers.context import Context
from handlers.directory import TRUSTED_FOR, Listed, PersonView
from handlers.imports import Forecast
from handlers.kept import Kept
from handlers.links import Links
from web import csrf
from web.identity import Identity
from web.sessions import Sessions, session_of


@dataclass(frozen=True)
class Dashboard:
    """What every page needs: the handlers' context, who is looking, and the session's signing."""

    ctx: Context
    identity: Identity
    sessions: Sessions
    # The directory's list behind the pages' choices (teams, IROs), read again after TRUSTED_FOR.
    directory: Kept[str, list[Listed]] = field(default_factory=lambda: Kept(TRUSTED_FOR))
    # What the planner would send for some orders on a day: the import page's dry run shows it.
    forecast: Forecast | None = None
    # Where the dashboard is seen from outside: the calendar link a person copies into Outlook starts with it.
    links: Links = field(default_factory=lambda: Links("/"))


DASHBOARD = web.AppKey("sobot_dashboard", Dashboard)
VIEWER = web.RequestKey("sobot_viewer", PersonView)


async def viewer(request: web.Request) -> PersonView:
    """The person looking; anyone not signed in is sent to sign in, and comes back here afterwards."""
    known: PersonView | None = request.get(VIEWER)
    if known is not None:
        return known
    identity = request.app[DASHBOARD].identity
    person = await identity.viewer(request)
    if person is None:
        raise web.HTTPSeeOther(identity.sign_in_url(request))
    request[VIEWER] = person
    return person


async def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    """A page from `template` (which extends base.html), with what base.html shows on every page: the banner, the
    person looking (if anyone is signed in), the CSRF token for its forms."""
    dashboard = request.app[DASHBOARD]
    person = request.get(VIEWER) or await dashboard.identity.viewer(request)
    shared = {"banner": dashboard.identity.banner, "viewer": person, "csrf_token": csrf.token(session_of(request)),
              "csrf_field": csrf.FIELD, "path": request.path}  # fmt: skip
    return aiohttp_jinja2.render_template(template, request, {**shared, **context}, status=status)
