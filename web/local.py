"""Local mode's identity (no Teams app id): loopback callers only, a banner on every page, and a choice of
directory person remembered in the signed session; and the identity of an app id with no sign-in set up."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from handlers.context import Context
from handlers.directory import PersonView, directory, person_by_id
from web import csrf
from web.identity import back_to, is_loopback, safe_next
from web.page import render
from web.sessions import session_of

_PERSON = "local_person"

LOCAL_BANNER = (
    "Local mode: sobot has no Teams app id, so nobody signs in. Anyone at this computer can choose to be anyone in "
    "the directory; only this computer (loopback) is answered."
)
NOT_LOOPBACK = (
    "This sobot runs in local mode (no Teams app id is set), so its dashboard answers only on the computer it runs "
    "on. Open it there at http://127.0.0.1, or ask the council's IT team to set up sign-in with Microsoft."
)
NO_SIGN_IN = (
    "The dashboard cannot sign anyone in: this sobot has a Teams app id, but no Entra sign-in is set up for its "
    "pages. Ask the council's IT team to finish setting it up."
)


class LocalIdentity:
    """Local mode: loopback callers only, and whoever they choose to be from the directory."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    @property
    def banner(self) -> str | None:
        return LOCAL_BANNER

    def refusal(self, request: web.Request) -> web.Response | None:
        # A proxy on this computer would make every caller look local; what it forwards says they are not.
        forwarded = any(h in request.headers for h in ("Forwarded", "X-Forwarded-For", "X-Real-IP"))
        if forwarded or not is_loopback(request.remote):
            return web.Response(status=403, text=NOT_LOOPBACK, content_type="text/plain")
        return None

    async def viewer(self, request: web.Request) -> PersonView | None:
        session = session_of(request)
        chosen = session.get(_PERSON)
        if not isinstance(chosen, int):
            return None
        person = await person_by_id(self._ctx, chosen)
        if person is None:  # gone from the directory since: choose again
            del session[_PERSON]
        return person

    def sign_in_url(self, request: web.Request) -> str:
        return "/local/choose?next=" + quote(back_to(request), safe="/")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/local/choose", self._choose_page, name="web.local.choose")
        app.router.add_post("/local/choose", self._choose, name="web.local.chosen")
        app.router.add_post("/sign-out", self._sign_out, name="web.sign_out")

    async def _choose_page(self, request: web.Request) -> web.Response:
        return await self._render(request, safe_next(request.query.get("next")), None, None)

    async def _render(self, request: web.Request, next_page: str, chosen: str | None,
                      problem: str | None) -> web.Response:  # fmt: skip
        people = await directory(self._ctx)
        context = {"people": people, "next": next_page, "chosen": chosen, "problem": problem,
                   "title": "Choose who you are"}  # fmt: skip
        return await render(request, "local_choose.html", context, status=400 if problem else 200)

    async def _choose(self, request: web.Request) -> web.Response:
        form = await request.post()
        next_page = safe_next(form.get("next"))
        raw = form.get("person")
        person = await person_by_id(self._ctx, int(raw)) if isinstance(raw, str) and raw.isdigit() else None
        if person is None:
            problem = "Choose a person from the list: nobody was chosen, or the one chosen is no longer active."
            return await self._render(request, next_page, raw if isinstance(raw, str) else None, problem)
        session = session_of(request)
        session.clear()  # a new person gets a new session, and with it a new CSRF token
        session[_PERSON] = person.id
        csrf.token(session)
        raise web.HTTPSeeOther(next_page)

    async def _sign_out(self, request: web.Request) -> web.Response:
        session_of(request).clear()
        raise web.HTTPSeeOther("/local/choose")


class NoSignIn:
    """An app id is set but no sign-in for the pages is: every page says so, and nobody is let in."""

    banner = None

    def refusal(self, request: web.Request) -> web.Response | None:
        return web.Response(status=503, text=NO_SIGN_IN, content_type="text/plain")

    async def viewer(self, request: web.Request) -> PersonView | None:
        return None

    def sign_in_url(self, request: web.Request) -> str:
        return "/"

    def add_routes(self, app: web.Application) -> None:
        return None
