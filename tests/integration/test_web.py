"""The dashboard's room: local mode's loopback rule and choice of person, the signed session, CSRF, the headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from itsdangerous import URLSafeTimedSerializer

from handlers.directory import directory
from storage import Database
from tests.web import SECRET, Browser, dashboard
from web.identity import safe_next

AT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
async def browser(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Browser]:
    async with dashboard(database, database_url, AT, tmp_path / "mail") as made:
        yield made


async def test_nobody_chosen_is_sent_to_choose_and_comes_back_to_the_page_asked_for(browser: Browser) -> None:
    response, text = await browser.page("/caseload?team=North")
    assert response.url.path == "/local/choose" and response.url.query["next"] == "/caseload?team=North"
    assert "Local mode:" in text and "Una Unit" in text
    ids = {p.email: p.id for p in await directory(browser.ctx)}
    response, text = await browser.post("/local/choose", {"person": str(ids["una@example.gov.uk"]),
                                                          "next": "/caseload?team=North"})  # fmt: skip
    assert response.url.path_qs == "/caseload?team=North"
    assert "Signed in as <strong>Una Unit</strong>" in text


async def test_a_caller_through_a_proxy_is_refused_with_a_sentence(browser: Browser) -> None:
    response = await browser.client.get("/caseload", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status == 403
    assert "answers only on the computer it runs on" in await response.text()
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]


async def test_every_page_carries_the_security_headers_and_no_store(browser: Browser) -> None:
    await browser.be("una@example.gov.uk")
    response, _ = await browser.page("/caseload")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "https://teams.microsoft.com" in csp and "https://*.cloud.microsoft" in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    css = await browser.client.get("/static/sobot.css")
    assert css.status == 200 and "prefers-color-scheme: dark" in await css.text()
    assert "Content-Security-Policy" in css.headers
    health = await browser.client.get("/healthz")
    assert "Content-Security-Policy" not in health.headers, "the rest of the app is not the dashboard's"


async def test_the_session_cookie_is_signed_http_only_and_same_site(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    [cookie] = [c for c in browser.client.session.cookie_jar if c.key == "sobot_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    held = URLSafeTimedSerializer(SECRET, salt="sobot.web.session").loads(cookie.value)
    sam = next(p.id for p in await directory(browser.ctx) if p.email == "sam@example.gov.uk")
    assert held.pop("local_person") == sam, "the cookie names nobody: it holds the person's id"
    assert set(held) == {"csrf"}, "and the form token, nothing else"
    una = next(p.id for p in await directory(browser.ctx) if p.email == "una@example.gov.uk")
    forged = URLSafeTimedSerializer("another-secret-another-secret-another", salt="sobot.web.session").dumps(
        {"local_person": una}
    )
    jar = browser.client.session.cookie_jar
    jar.clear()
    jar.update_cookies({"sobot_session": forged}, browser.client.make_url("/"))
    response, _ = await browser.page("/caseload")
    assert response.url.path == "/local/choose", "an altered cookie is no session at all"


async def test_a_post_without_the_sessions_token_is_refused_and_changes_nothing(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    ids = {p.email: p.id for p in await directory(browser.ctx)}
    response, text = await browser.post("/local/choose", {"person": str(ids["una@example.gov.uk"])}, token=False)
    assert response.status == 403 and "Nothing was changed" in text
    response, text = await browser.post("/local/choose", {"person": str(ids["una@example.gov.uk"]),
                                                          "csrf_token": "forged"}, token=False)  # fmt: skip
    assert response.status == 403
    _, text = await browser.page("/caseload")
    assert "Signed in as <strong>Sam Worker</strong>" in text


async def test_choosing_nobody_says_so_beside_the_list(browser: Browser) -> None:
    await browser.page("/local/choose")
    response, text = await browser.post("/local/choose", {"person": "", "next": "/caseload"})
    assert response.status == 400
    assert 'aria-invalid="true"' in text and "Choose a person from the list" in text


async def test_signing_out_forgets_the_person(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    response, _ = await browser.post("/sign-out", {})
    assert response.url.path == "/local/choose"
    response, _ = await browser.page("/caseload")
    assert response.url.path == "/local/choose"


def test_next_goes_only_to_a_path_of_this_site() -> None:
    assert safe_next("/orders/SO-2026-0001") == "/orders/SO-2026-0001"
    assert safe_next("//evil.example/") == "/" and safe_next("https://evil.example/") == "/"
    assert safe_next("/\\evil.example") == "/" and safe_next(None) == "/"
