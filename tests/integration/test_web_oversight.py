"""The oversight page through the whole service's web app in local mode: who sees it, what its charts and tables
say, its filters, and the refusals, each a page with a sentence."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from html import unescape
from pathlib import Path

import pytest

from handlers import orders, oversight
from handlers.context import CLI, Actor
from rules.clock import FixedClock
from storage import Database
from tests.web import Browser, dashboard

AT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # Tuesday


@pytest.fixture
async def browser(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Browser]:
    async with dashboard(database, database_url, AT, tmp_path / "mail") as made:
        ctx = made.ctx
        # Sam's (North) under Wirral, made Tue 3 March and allocated today: 5 working days. Sue's (South) under
        # Camden, made Mon 9 March, not yet allocated.
        north = orders.NewOrder("C1", "Jane Mary Smith", "supervision", date(2026, 3, 3), procedure="wirral",
                                social_worker_email="sam@example.gov.uk")  # fmt: skip
        south = orders.NewOrder("C2", "Tom Jones", "supervision", date(2026, 3, 9), procedure="camden",
                                social_worker_email="sue@example.gov.uk")  # fmt: skip
        first = (await orders.create_order(ctx, north, CLI)).reference
        await orders.create_order(ctx, south, CLI)
        await orders.allocate_iro(ctx, first, "Ian Reviewer", Actor("Una Unit", "una@example.gov.uk"))
        yield made


def cells(html: str, caption: str) -> list[list[str]]:
    """The body rows of the table with this caption, each cell's text."""
    found = re.search(rf"<caption[^>]*>{re.escape(caption)}</caption>", html)
    assert found is not None, f"no table captioned {caption!r}"
    table = html[found.start() :]
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [[unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
            for r in rows]  # fmt: skip


def nav_has_oversight(html: str) -> bool:
    nav = html[html.index('<nav aria-label="Pages">') : html.index("</nav>")]
    return 'href="/oversight"' in nav


async def test_a_head_of_service_sees_every_team_s_figures_as_charts_with_their_tables(browser: Browser) -> None:
    await browser.be("hope@example.gov.uk")
    response, html = await browser.page("/oversight")
    assert response.status == 200 and nav_has_oversight(html)
    assert "Figures of every order, over the 12 months from 11 March 2025 to 10 March 2026." in html
    svgs = re.findall(r"<svg role=\"img\" aria-labelledby=\"([\w-]+)-title \1-desc\"", html)
    assert svgs == ["by-team", "by-procedure", "allocation", "waited", "ending"]
    for key in svgs:
        assert f'<title id="{key}-title">' in html and f'<desc id="{key}-desc">' in html
    assert 'fill="currentColor"' in html and "style=" not in html and "<script" not in html
    # Allocation: Sam's order in 5 working days, Sue's waiting.
    assert cells(html, "Working days from order made to IRO allocated") == [
        ["Camden supervision order practice guidance", "0", "–", "–", "1"],
        ["Wirral Supervision Order procedure", "1", "5", "5", "0"],
        ["All procedures", "1", "5", "5", "1"],
    ]
    assert "median 5, 90th percentile 5 (1 order)" in html  # beside the bars, in words, not colour alone
    assert re.search(r'<option value="North"\s*>North</option>', html) and '<option value="South"' in html


async def test_narrowed_by_procedure_and_by_team(browser: Browser) -> None:
    await browser.be("hope@example.gov.uk")
    _, html = await browser.page("/oversight?procedure=camden&team=")
    assert [row[0] for row in cells(html, "Working days from order made to IRO allocated")] == [
        "Camden supervision order practice guidance", "All procedures",
    ]  # fmt: skip
    assert '<option value="camden" selected>' in html
    _, html = await browser.page("/oversight?team=North")
    assert cells(html, "Working days from order made to IRO allocated")[-1] == ["All procedures", "1", "5", "5", "0"]


async def test_a_team_manager_sees_their_team_only_and_is_refused_another(browser: Browser) -> None:
    await browser.be("tess@example.gov.uk")
    response, html = await browser.page("/oversight")
    assert response.status == 200 and "Figures of the North team&#39;s orders" in html
    assert 'href="/caseload?ending=1&amp;team=North"' in html
    assert '<select id="team"' not in html and "North (yours)" in html
    assert cells(html, "Working days from order made to IRO allocated")[-1] == ["All procedures", "1", "5", "5", "0"]
    response, html = await browser.page("/oversight?team=South")
    assert response.status == 403
    assert "You can see the oversight figures of your own team (North) only, not of South." in html


async def test_a_social_worker_is_refused_with_a_sentence_and_shown_no_way_in(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    _, caseload = await browser.page("/caseload")
    assert not nav_has_oversight(caseload)
    response, html = await browser.page("/oversight")
    assert response.status == 403
    assert "The oversight figures are for team managers, service managers, Heads of Service" in html
    assert "Content-Security-Policy" in response.headers


async def test_an_unknown_procedure_is_put_beside_its_field_and_kept(browser: Browser) -> None:
    await browser.be("lena@example.gov.uk")
    response, html = await browser.page("/oversight?procedure=atlantis")
    assert response.status == 400
    assert re.search(r'<p class="problem" id="procedure-problem">There is no procedure &#39;atlantis&#39;', html)
    assert '<option value="atlantis" selected>atlantis</option>' in html
    assert "<svg" not in html


async def test_the_figures_move_with_the_clock(browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    await browser.be("una@example.gov.uk")
    clock = browser.ctx.clock
    assert isinstance(clock, FixedClock)
    clock.set(datetime(2027, 1, 4, 10, 0, tzinfo=UTC))  # both orders now end within 3 months
    _, html = await browser.page("/oversight")
    ending = cells(html, "Orders ending by 4 April 2027")
    assert [row[:3] for row in ending] == [["SO-2026-0001", "J.M.S.", "North"], ["SO-2026-0002", "T.J.", "South"]]
    assert [row[-1] for row in ending] == ["No", "No"]
    assert cells(html, "Orders ending by 4 April 2027: their decisions") == [
        ["Recorded", "0"], ["Not recorded", "2"], ["The procedure names none", "0"],
    ]  # fmt: skip
    assert '<a href="/caseload?ending=1">See every order ending by then in the caseload</a>' in html
    assert '<a href="/orders/SO-2026-0001">SO-2026-0001</a>' in html
    monkeypatch.setattr(oversight, "ENDING_SHOWN", 1)
    _, html = await browser.page("/oversight")
    assert "Below, the 1 ending soonest of 2." in html
    assert [row[0] for row in cells(html, "Orders ending by 4 April 2027")] == ["SO-2026-0001"]
    assert "Jane" not in html
