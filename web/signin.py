"""Signing in with Microsoft: the Teams tab's token, or OpenID Connect with PKCE in a browser; then a session.

In Teams the tab's page (web/static/teams-signin.js) asks TeamsJS for a token and posts it to /signin/teams; the
token is checked (web/entra.py) and its `oid` looked up in the directory. In a browser, "Sign in with Microsoft"
runs the authorization code flow with PKCE through msal: the flow (state, nonce, code verifier) waits in the signed
session while the browser is at Entra, and the id_token that comes back is checked as the tab's token is. Either
way the session then holds the directory person's id, and each page reads the person again (someone who has left
is signed out at their next page).
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
import warnings
from typing import Any
from urllib.parse import quote

import msal
import requests
from aiohttp import web

from handlers import access
from handlers.context import Context
from handlers.directory import PersonView, identify, person_by_id
from rules.clock import Clock
from web import csrf
from web.entra import TAB_SCOPE, EntraApp, EntraKeys, TokenChecker, TokenRefused
from web.identity import back_to, safe_next
from web.page import render
from web.sessions import Session, session_of

log = logging.getLogger(__name__)

_PERSON = "entra_person"
_FLOW = "entra_flow"
_NEXT = "entra_next"
HOME = "/caseload"
TEAMS_SIGN_IN = "/signin/teams"
# How a refused sign-in came, as its audit line says.
THROUGH_TAB = "teams tab"
THROUGH_BROWSER = "browser"

FLOW_LOST = (
    "The sign-in could not be finished: sobot had no record of starting it (the page may have been open too long, "
    "or opened in another browser). Sign in again."
)
ENTRA_SAID = "Microsoft did not sign you in ({what}). Sign in again; if this goes on, tell the council's IT team."
ENTRA_UNREACHABLE = (
    "sobot could not reach Microsoft's sign-in service just now. Try again in a few minutes; if this goes on, tell "
    "the council's IT team."
)


class _NoTokenCache(msal.TokenCache):  # type: ignore[misc]
    """sobot keeps no Microsoft tokens: it needs only who signed in, once."""

    def add(self, event: dict[str, Any], **kwargs: Any) -> None:
        return None


class EntraIdentity:
    """The dashboard's identity when sobot has an Entra app: people signed in by Microsoft, matched by object id."""

    banner = None

    def __init__(self, ctx: Context, app: EntraApp, redirect_uri: str, *, clock: Clock | None = None,
                 ca_file: str | None = None) -> None:  # fmt: skip
        self._ctx = ctx
        self.app = app
        self.redirect_uri = redirect_uri
        clock = clock or ctx.clock
        context = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self.keys = EntraKeys(app, clock, ssl_context=context)
        self.checker = TokenChecker(app, self.keys, clock)
        self._ca_file = ca_file
        self._msal: msal.ConfidentialClientApplication | None = None

    def refusal(self, request: web.Request) -> web.Response | None:
        return None

    async def viewer(self, request: web.Request) -> PersonView | None:
        session = session_of(request)
        chosen = session.get(_PERSON)
        if not isinstance(chosen, int):
            return None
        person = await person_by_id(self._ctx, chosen)
        if person is None:  # gone from the directory since
            session.clear()
        return person

    def sign_in_url(self, request: web.Request) -> str:
        return "/signin?next=" + quote(back_to(request), safe="/")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/signin", self._page, name="web.signin")
        app.router.add_get("/signin/microsoft", self._start, name="web.signin.microsoft")
        app.router.add_get("/signin/callback", self._callback, name="web.signin.callback")
        app.router.add_post(TEAMS_SIGN_IN, self._teams, name="web.signin.teams")
        app.router.add_post("/sign-out", self._sign_out, name="web.sign_out")
        app.router.add_get("/tab", self._tab, name="web.tab")
        app.router.add_get("/tab/configure", self._configure, name="web.tab.configure")
        app.on_cleanup.append(self._close)

    async def _close(self, app: web.Application) -> None:
        await self.keys.close()

    # -- the pages

    async def _page(self, request: web.Request, *, problem: str | None = None, status: int = 200) -> web.Response:
        next_page = safe_next(request.query.get("next", HOME))
        context = {"title": "Sign in", "next": next_page, "problem": problem,
                   "start": "/signin/microsoft?next=" + quote(next_page, safe="/"),
                   "signed_out": "signed_out" in request.query, "teams": "auto"}  # fmt: skip
        return await render(request, "signin.html", context, status=status)

    async def _tab(self, request: web.Request) -> web.Response:
        context = {"title": "Signing in", "next": safe_next(request.query.get("next", HOME)), "problem": None,
                   "start": "/signin/microsoft", "signed_out": False, "teams": "always"}  # fmt: skip
        return await render(request, "signin.html", context)

    async def _configure(self, request: web.Request) -> web.Response:
        return await render(request, "tab_configure.html", {"title": "Add sobot to this channel"})

    # -- signing in with Microsoft in a browser

    async def _start(self, request: web.Request) -> web.Response:
        try:
            client = await self._client()
            flow: dict[str, Any] = await asyncio.to_thread(self._initiate, client)
        except (ValueError, OSError) as error:
            log.warning("sign-in could not start: %r", error)
            return await self._page(request, problem=ENTRA_UNREACHABLE, status=503)
        session = session_of(request)
        session[_FLOW] = flow
        session[_NEXT] = safe_next(request.query.get("next", HOME))
        raise web.HTTPSeeOther(str(flow["auth_uri"]))

    async def _callback(self, request: web.Request) -> web.Response:
        session = session_of(request)
        flow = session.get(_FLOW)
        next_page = safe_next(session.get(_NEXT, HOME))
        if not isinstance(flow, dict):
            await access.refuse_sign_in(self._ctx, THROUGH_BROWSER, "flow_lost")
            return await self._page(request, problem=FLOW_LOST, status=400)
        session.pop(_FLOW, None)
        session.pop(_NEXT, None)
        if "error" in request.query:
            log.info("sign-in: Entra answered %s", request.query.get("error"))
            what = _what_entra_said(request.query["error"], request.query.get("error_description", ""))
            await access.refuse_sign_in(self._ctx, THROUGH_BROWSER, f"entra_said: {what}")
            return await self._page(request, problem=ENTRA_SAID.format(what=what), status=401)
        try:
            client = await self._client()
            result: dict[str, Any] = await asyncio.to_thread(
                client.acquire_token_by_auth_code_flow, flow, dict(request.query)
            )
        except ValueError as error:  # msal: the state or nonce does not match the flow it started
            log.info("sign-in: the answer did not match its flow (%s)", error)
            await access.refuse_sign_in(self._ctx, THROUGH_BROWSER, "flow_mismatch")
            return await self._page(request, problem=FLOW_LOST, status=400)
        except OSError as error:
            log.warning("sign-in: the token endpoint did not answer: %r", error)
            await access.refuse_sign_in(self._ctx, THROUGH_BROWSER, "entra_unreachable")
            return await self._page(request, problem=ENTRA_UNREACHABLE, status=503)
        if "error" in result:
            log.info("sign-in: Entra refused the code: %s", result.get("error"))
            what = _what_entra_said(str(result["error"]), str(result.get("error_description") or ""))
            await access.refuse_sign_in(self._ctx, THROUGH_BROWSER, f"entra_said: {what}")
            return await self._page(request, problem=ENTRA_SAID.format(what=what), status=401)
        try:
            person = await self._person(result.get("id_token"), (self.app.client_id,), THROUGH_BROWSER)
        except TokenRefused as refused:
            return await self._page(request, problem=refused.sentence, status=401)
        _begin(session, person)
        raise web.HTTPSeeOther(next_page)

    def _initiate(self, client: msal.ConfidentialClientApplication) -> dict[str, Any]:
        with warnings.catch_warnings():
            # msal suggests form_post; the code comes back in the query instead, so the callback stays a GET that
            # needs no exemption from the dashboard's CSRF check. PKCE, state and nonce guard it either way.
            warnings.filterwarnings("ignore", "response_mode='form_post' is recommended", UserWarning)
            flow: dict[str, Any] = client.initiate_auth_code_flow(
                [], redirect_uri=self.redirect_uri, response_mode="query"
            )
        return flow

    async def _client(self) -> msal.ConfidentialClientApplication:
        if self._msal is None:
            # Building it reads the tenant's discovery document, so it is built once, off the event loop.
            self._msal = await asyncio.to_thread(self._build_client)
        return self._msal

    def _build_client(self) -> msal.ConfidentialClientApplication:
        http = None
        if self._ca_file:
            # requests lets REQUESTS_CA_BUNDLE beat a session's own authorities; a client told its own ignores it.
            http = requests.Session()
            http.verify = self._ca_file
            http.trust_env = False
        return msal.ConfidentialClientApplication(
            self.app.client_id,
            client_credential=self.app.client_secret,
            authority=self.app.authority,
            token_cache=_NoTokenCache(),
            # The authority is the council's own tenant on a known Microsoft host: nothing to discover about it.
            instance_discovery=False,
            http_client=http,
        )

    # -- signing in with the Teams tab's token

    async def _teams(self, request: web.Request) -> web.Response:
        # A form post like any other (the tab's page sends the session's CSRF token with it), answered in JSON.
        form = await request.post()
        token = form.get("token")
        next_page = safe_next(form.get("next", HOME))
        try:
            person = await self._person(token, self.app.tab_audiences, THROUGH_TAB, scope=TAB_SCOPE)
        except TokenRefused as refused:
            response = web.json_response({"error": refused.sentence, "reason": refused.reason}, status=401)
            response.headers["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{refused.reason}"'
            return response
        _begin(session_of(request), person)
        return web.json_response({"next": next_page, "name": person.name})

    async def _person(self, token: object, audiences: tuple[str, ...], through: str, *,
                      scope: str | None = None) -> PersonView:  # fmt: skip
        """The directory's person a token is for; a refusal is logged and audited, then raised."""
        oid = None
        try:
            claims = await self.checker.check(token if isinstance(token, str) else None, audiences, scope=scope)
            oid = claims.oid
            person = await identify(self._ctx, claims.oid, None)
            if person is None:
                raise TokenRefused("not_in_directory", more=f"Your account's Entra object id is {claims.oid}.")
        except TokenRefused as refused:
            log.info("sign-in refused: %s", refused.reason)
            await access.refuse_sign_in(self._ctx, through, refused.reason, oid)
            raise
        return person

    async def _sign_out(self, request: web.Request) -> web.Response:
        session_of(request).clear()
        raise web.HTTPSeeOther("/signin?signed_out=1")


def _begin(session: Session, person: PersonView) -> None:
    """A new person gets a new session, and with it a new CSRF token."""
    session.clear()
    session[_PERSON] = person.id
    csrf.token(session)


def _what_entra_said(error: str, description: str) -> str:
    """Entra's error code and AADSTS number, never its free text: the callback's query is anyone's to write."""
    code = error if re.fullmatch(r"[a-z_]{1,40}", error) else "an error"
    number = re.search(r"\bAADSTS\d{4,7}\b", description)
    return f"{code}, {number.group(0)}" if number else code
