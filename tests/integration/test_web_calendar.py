"""Each person's calendar feed, over HTTP: made and renewed on the dashboard's My calendar page, read with no session
by the token alone, holding that person's own open steps (by reference and initials), and nobody else's."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import icalendar
import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from handlers import orders
from handlers.context import CLI
from storage import Database, models
from tests.web import SECRET, Browser, dashboard, two_orders
from web.calendar import NEW_LINK
from web.sessions import COOKIE

AT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # Tue 10 Mar 2026
LINK = re.compile(r'id="feed-link" class="feed-link" type="text" readonly value="([^"]+)"')


@pytest.fixture
async def browser(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Browser]:
    async with dashboard(database, database_url, AT, tmp_path / "mail") as made:
        await two_orders(made.ctx)
        await orders.allocate_iro(made.ctx, "SO-2026-0001", "ian@example.gov.uk", CLI)
        yield made


async def make_link(browser: Browser, email: str) -> str:
    await browser.be(email)
    await browser.page("/calendar")
    response, page = await browser.post("/calendar/renew", {})
    assert response.status == 200 and response.url.path == "/calendar", page
    found = LINK.search(page)
    assert found, page
    return html.unescape(found.group(1))


async def read_feed(browser: Browser, link: str, **headers: str) -> tuple[int, str, aiohttp.ClientResponse]:
    """The feed as a calendar program reads it: no cookies, no sign-in, only the address."""
    path = "/" + link.split("/", 3)[3]
    async with aiohttp.ClientSession() as fresh:
        response = await fresh.get(browser.client.make_url(path), headers=headers)
        return response.status, await response.text(), response


async def open_steps(browser: Browser, reference: str, owner: str) -> set[str]:
    """The UIDs the feed should hold: the order's open steps with due dates owned by `owner`, from the records."""
    async with browser.ctx.database.read() as session:
        rows = await session.execute(
            select(models.Milestone.key, models.Milestone.occurrence)
            .join(models.Order, models.Milestone.order_id == models.Order.id)
            .where(models.Order.reference == reference, models.Milestone.owner_role == owner,
                   models.Milestone.state == "open", models.Milestone.due.is_not(None))
        )  # fmt: skip
        return {f"{reference}.{key}.{occurrence}@sobot" for key, occurrence in rows}


def events(body: str) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(event["uid"]): event for event in calendar.walk("VEVENT")}


async def test_a_persons_feed_holds_their_own_open_steps_by_reference_and_initials(browser: Browser) -> None:
    link = await make_link(browser, "sam@example.gov.uk")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/calendar/[A-Za-z0-9_-]{43}\.ics", link), link
    status, body, response = await read_feed(browser, link)
    assert status == 200 and response.content_type == "text/calendar"
    assert "Set-Cookie" not in response.headers, "the feed reads and makes no session"
    found = events(body)
    expected = await open_steps(browser, "SO-2026-0001", "social_worker")
    assert expected and set(found) == expected
    for event in found.values():
        summary = str(event["summary"])
        assert re.fullmatch(r"(Overdue: )?SO-2026-0001 \(J\.M\.S\.\): .+", summary), summary
        assert isinstance(event.decoded("dtstart"), date) and not isinstance(event.decoded("dtstart"), datetime)
    assert "Jane" not in body and "Smith" not in body, "the child by initials only"
    assert "SO-2026-0002" not in body and "Tom Brown" not in body, "another social worker's order is not in it"
    # The page lists the same steps.
    _, page = await browser.page("/calendar")
    assert "Your calendar link was made on" in page and page.count('<a href="/orders/SO-2026-0001">') == len(expected)


async def test_a_step_done_leaves_the_feed(browser: Browser) -> None:
    link = await make_link(browser, "sam@example.gov.uk")
    _, before, _ = await read_feed(browser, link)
    assert "SO-2026-0001.case_summary.1@sobot" in events(before)
    await orders.record_event(browser.ctx, "SO-2026-0001", "case_summary", date(2026, 3, 9), CLI)
    _, after, _ = await read_feed(browser, link)
    assert set(events(after)) == set(events(before)) - {"SO-2026-0001.case_summary.1@sobot"}


async def test_renewing_revokes_the_old_link_and_unknown_links_are_404(browser: Browser) -> None:
    old = await make_link(browser, "sam@example.gov.uk")
    _, page = await browser.post("/calendar/renew", {})
    new = html.unescape(LINK.search(page).group(1))  # type: ignore[union-attr]
    assert new != old and "any link you had before no longer works" in page
    assert (await read_feed(browser, old))[0] == 404
    assert (await read_feed(browser, new))[0] == 200
    made_up = old.rsplit("/", 1)[0] + "/" + "A" * 43 + ".ics"
    assert (await read_feed(browser, made_up))[0] == 404
    assert (await read_feed(browser, old.rsplit("/", 1)[0] + "/not-a-token.ics"))[0] == 404
    # Local mode answers loopback callers only, the feed as every page: a caller through a proxy is refused.
    assert (await read_feed(browser, new, **{"X-Forwarded-For": "203.0.113.9"}))[0] == 403
    async with browser.ctx.database.read() as session:
        feeds = (await session.scalars(select(models.CalendarFeed).order_by(models.CalendarFeed.id))).all()
        renewals = (await session.scalars(select(models.AuditEntry).where(
            models.AuditEntry.action == "calendar.renew"))).all()  # fmt: skip
    token = new.rsplit("/", 1)[1].removesuffix(".ics")
    # Only a fingerprint is kept, and the audit names who renewed, never the token.
    assert [(f.revoked_at is None, f.token_hash) for f in feeds][-1] == (
        True,
        hashlib.sha256(token.encode()).hexdigest(),
    )
    assert [f.revoked_at is None for f in feeds] == [False, True]
    assert [(r.actor, r.details) for r in renewals] == [("sam@example.gov.uk", {"revoked": 0}),
                                                        ("sam@example.gov.uk", {"revoked": 1})]  # fmt: skip


async def test_the_new_link_is_shown_once_and_a_reload_renews_nothing(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    await browser.page("/calendar")
    response, page = await browser.post("/calendar/renew", {}, allow_redirects=False)
    # The renewal answers with a redirect to the page, whose address carries no token.
    assert response.status == 303 and response.headers["Location"] == "/calendar", page
    response, page = await browser.page("/calendar")
    link = html.unescape(LINK.search(page).group(1))  # type: ignore[union-attr]
    token = link.rsplit("/", 1)[1].removesuffix(".ics")
    assert token not in str(response.url) and "any link you had before" not in page, "the first link replaced none"
    # Reloading shows the link no more, and renews nothing: the link still works.
    _, again = await browser.page("/calendar")
    assert LINK.search(again) is None and token not in again and "Your calendar link was made on" in again
    assert (await read_feed(browser, link))[0] == 200
    async with browser.ctx.database.read() as session:
        feeds = (await session.scalars(select(models.CalendarFeed))).all()
    assert len(feeds) == 1 and feeds[0].revoked_at is None
    # Nor is the link kept in the session once shown: the cookie the browser now holds no longer carries it.
    cookies = browser.client.session.cookie_jar.filter_cookies(browser.client.make_url("/"))
    session = URLSafeTimedSerializer(SECRET, salt="sobot.web.session").loads(cookies[COOKIE].value)
    assert token not in repr(session) and NEW_LINK not in session


async def test_each_persons_feed_has_their_steps_and_not_anothers(browser: Browser) -> None:
    sams = await make_link(browser, "sam@example.gov.uk")
    ians = await make_link(browser, "ian@example.gov.uk")
    sues = await make_link(browser, "sue@example.gov.uk")
    sam, ian, sue = [events((await read_feed(browser, link))[1]) for link in (sams, ians, sues)]
    assert set(ian) == await open_steps(browser, "SO-2026-0001", "iro") and ian
    assert set(sue) == await open_steps(browser, "SO-2026-0002", "social_worker") and sue
    assert not set(sam) & set(ian) and not set(sam) & set(sue)
    assert all(uid.startswith("SO-2026-0002.") for uid in sue)
