"""The dashboard as a test drives it: the whole service's web app on a loopback port, one person's browser session."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from handlers import orders, people
from handlers.context import CLI, Context
from handlers.directory import directory
from rules.clock import FixedClock
from sobot.app import Sobot, build_sobot
from sobot.settings import load_settings
from storage import Database

STAFF = """name,email,roles,team,manager_email
Tess Manager,tess@example.gov.uk,team_manager,North,
Sam Worker,sam@example.gov.uk,social_worker,North,tess@example.gov.uk
Sue South,sue@example.gov.uk,social_worker,South,
Ian Reviewer,ian@example.gov.uk,iro,IROs,
Ivy Reviewer,ivy@example.gov.uk,iro,IROs,
Una Unit,una@example.gov.uk,safeguarding_unit,Safeguarding,
Hope Head,hope@example.gov.uk,head_of_service,,
Lena Legal,lena@example.gov.uk,legal,Legal,
"""
UNIT_ADDRESS = "safeguarding.unit@example.gov.uk"
SECRET = "a-test-secret-that-is-long-enough-to-sign-cookies"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Browser:
    """One person's cookies against the dashboard, with the form token of the last page read."""

    client: TestClient[Any, Any]
    sobot: Sobot
    token: str = ""

    @property
    def ctx(self) -> Context:
        return self.sobot.context

    async def page(self, path: str, **kwargs: Any) -> tuple[ClientResponse, str]:
        response = await self.client.get(path, **kwargs)
        text = await response.text()
        if found := TOKEN.search(text):
            self.token = found.group(1)
        return response, text

    async def post(self, path: str, form: dict[str, str], *, token: bool = True, **kwargs: Any) -> tuple[
            ClientResponse, str]:  # fmt: skip
        data = {**form, "csrf_token": self.token} if token else form
        response = await self.client.post(path, data=data, **kwargs)
        text = await response.text()
        if found := TOKEN.search(text):
            self.token = found.group(1)
        return response, text

    async def be(self, email: str) -> None:
        """Choose, on local mode's page, to be the directory's person with this email."""
        [person] = [p for p in await directory(self.ctx) if p.email == email]
        await self.page("/local/choose")
        response, _ = await self.post("/local/choose", {"person": str(person.id), "next": "/caseload"})
        assert response.status == 200 and response.url.path == "/caseload", response.url


@asynccontextmanager
async def dashboard(database: Database, database_url: str, at: datetime, maildir: Path, staff: str = STAFF) -> \
        AsyncIterator[Browser]:  # fmt: skip
    """The service in local mode on a loopback port, its directory `staff`, its clock stopped at `at`, the unit's
    mailbox a Maildir at `maildir`."""
    settings = load_settings({}, database_url=database_url, web_session_secret=SECRET, mailbox_dir=maildir,
                             unit_address=UNIT_ADDRESS)  # fmt: skip
    sobot = build_sobot(settings, clock=FixedClock(at), database=database, environ={}, run_jobs=False)
    await people.import_people(sobot.context, staff, CLI)
    client: TestClient[Any, Any] = TestClient(TestServer(sobot.app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield Browser(client, sobot)
    finally:
        await client.close()


async def two_orders(ctx: Context) -> None:
    """Sam's order for Jane Mary Smith (SO-2026-0001) and Sue's for Tom Brown (SO-2026-0002), by the command line."""
    await orders.create_order(ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", date(2026, 2, 2),
                                                   social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
    await orders.create_order(ctx, orders.NewOrder("C2", "Tom Brown", "supervision", date(2026, 3, 9),
                                                   social_worker_email="sue@example.gov.uk"), CLI)  # fmt: skip
