"""The dashboard signed in with Microsoft, as tests drive it: the whole service against the fake Entra ID."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from bot.app import CLIENT_ID as TEAMS_CLIENT_ID
from handlers import people
from handlers.context import CLI
from rules.clock import Clock
from sobot.app import Sobot, assemble, build_services
from sobot.settings import Settings, load_settings
from storage import Database
from tests.fakes.entra import EntraUser, FakeEntra, Tls
from web.entra import EntraApp
from web.signin import EntraIdentity

DOMAIN = "sobot.example.gov.uk"
REDIRECT_URI = f"https://{DOMAIN}/signin/callback"
SECRET = "a-test-secret-that-is-long-enough-to-sign-cookies"
BOT_APP_ID = "11111111-2222-3333-4444-555555555555"
TEAMS_APP = {
    TEAMS_CLIENT_ID: BOT_APP_ID,
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET": "not-a-real-secret",
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID": "66666666-7777-8888-9999-000000000000",
}

UNA = EntraUser("0a1b2c3d-0000-4000-8000-000000000001", "Una Unit", "una@example.gov.uk")
SAM = EntraUser("0a1b2c3d-0000-4000-8000-000000000002", "Sam Worker", "sam@example.gov.uk")
STRANGER = EntraUser("0a1b2c3d-0000-4000-8000-0000000000ff", "Stella Stranger", "stella@example.gov.uk")
STAFF = f"""name,email,roles,team,manager_email,entra_id
Tess Manager,tess@example.gov.uk,team_manager,North,,
Sam Worker,sam@example.gov.uk,social_worker,North,tess@example.gov.uk,{SAM.oid}
Una Unit,una@example.gov.uk,safeguarding_unit,Safeguarding,,{UNA.oid}
Ian Reviewer,ian@example.gov.uk,iro,IROs,,
"""
TOKEN = re.compile(r'data-csrf="([^"]+)"|name="csrf_token" value="([^"]+)"')


def sign_in_settings(fake: FakeEntra, database_url: str, **more: Any) -> Settings:
    return load_settings({}, database_url=database_url, web_session_secret=SECRET, bot_domain=DOMAIN,
                         entra_tenant_id=fake.tenant, entra_client_id=fake.client_id,
                         entra_client_secret=fake.client_secret, entra_authority_host=fake.base_url,
                         **more)  # fmt: skip


@dataclass
class SignedInBrowser:
    """One browser's cookies against the dashboard, and a client of its own for the fake Entra's pages."""

    client: TestClient[Any, Any]
    sobot: Sobot
    identity: EntraIdentity
    entra: aiohttp.ClientSession
    tls: Tls
    token: str = ""

    async def page(self, path: str, **kwargs: Any) -> tuple[ClientResponse, str]:
        response = await self.client.get(path, **kwargs)
        text = await response.text()
        if found := TOKEN.search(text):
            self.token = found.group(1) or found.group(2)
        return response, text

    async def post_tab_token(self, token: str | None) -> tuple[ClientResponse, dict[str, Any]]:
        """What the tab's page does: read its page (and CSRF token), then post the token Teams gave it."""
        await self.page("/tab")
        form = {"csrf_token": self.token, "next": "/caseload"}
        if token is not None:
            form["token"] = token
        response = await self.client.post("/signin/teams", data=form)
        return response, await response.json()

    async def sign_in_with_microsoft(self, next_page: str = "/caseload") -> ClientResponse:
        """Press "Sign in with Microsoft" and follow each hop: sobot, then Entra, then sobot's callback."""
        start = await self.client.get(f"/signin/microsoft?next={next_page}", allow_redirects=False)
        assert start.status == 303, await start.text()
        at_entra = await self.entra.get(start.headers["Location"], allow_redirects=False, ssl=self.tls.client_context())
        assert at_entra.status == 302, await at_entra.text()
        back = at_entra.headers["Location"]
        assert back.startswith(REDIRECT_URI + "?"), back
        return await self.client.get("/signin/callback?" + back.split("?", 1)[1], allow_redirects=False)


@asynccontextmanager
async def signed_in_dashboard(database: Database, database_url: str, fake: FakeEntra, tls: Tls, clock: Clock,
                              staff: str = STAFF) -> AsyncIterator[SignedInBrowser]:  # fmt: skip
    """The service with a Teams app and sign-in with Microsoft set up, on a loopback port, its clock `clock`."""
    fake.redirect_uris = [REDIRECT_URI]
    settings = sign_in_settings(fake, database_url)
    services = build_services(settings, clock=clock, database=database)
    app = EntraApp(fake.tenant, fake.client_id, fake.client_secret, fake.base_url, settings.sign_in_app_id_uri)
    # As the composition root builds it, told to trust the fake's own certificate authority.
    identity = EntraIdentity(services.context(), app, settings.sign_in_redirect_uri, ca_file=str(tls.ca_file))
    sobot = assemble(services, environ=TEAMS_APP, run_jobs=False, identity=identity)
    await people.import_people(sobot.context, staff, CLI)
    server = TestServer(sobot.app, host="127.0.0.1")
    await server.start_server()
    # The session cookie is Secure (SameSite=None, for the Teams tab): sent back over http to loopback only, as
    # browsers do for http://127.0.0.1.
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[str(server.make_url("/")).rstrip("/")])
    client: TestClient[Any, Any] = TestClient(server, cookie_jar=jar)
    await client.start_server()
    try:
        async with aiohttp.ClientSession() as entra:
            yield SignedInBrowser(client, sobot, identity, entra, tls)
    finally:
        await client.close()
