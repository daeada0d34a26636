"""The absences page over HTTP: the form records through the core's operation, refusals and bad input come back as
sentences, and an order's page says who was sent its notices while covering for whom."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers import absences, orders
from handlers.context import CLI, Actor
from handlers.directory import directory
from rules.clock import FixedClock
from storage import Database, models
from tests.web import Browser, dashboard

STAFF = """name,email,roles,team,manager_email
Tess Manager,tess@example.gov.uk,team_manager,North,
Sam Worker,sam@example.gov.uk,social_worker,North,tess@example.gov.uk
Rita Lead,rita@example.gov.uk,team_manager,IROs,
Megan Bowen,megan@example.gov.uk,iro,IROs,rita@example.gov.uk
Jane Smith,jane@example.gov.uk,iro,IROs,rita@example.gov.uk
Una Unit,una@example.gov.uk,safeguarding_unit,Safeguarding,
"""
AT = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)  # Mon 16 Nov 2026


@pytest.fixture
async def browser(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Browser]:
    async with dashboard(database, database_url, AT, tmp_path / "mail", staff=STAFF) as made:
        yield made


async def ids(browser: Browser) -> dict[str, int]:
    return {p.email.split("@")[0]: p.id for p in await directory(browser.ctx)}


def options(page: str, select: str) -> list[str]:
    """The options' words of the page's <select> with this id."""
    [found] = re.findall(rf'<select id="{select}".*?</select>', page, re.S)
    return re.findall(r"<option [^>]*>([^<]*)</option>", found)


async def test_megan_records_her_absence_on_the_page_and_it_is_listed(browser: Browser) -> None:
    people = await ids(browser)
    await browser.be("megan@example.gov.uk")
    response, page = await browser.page("/absences")
    assert response.status == 200
    assert 'href="/absences" aria-current="page"' in page
    # She may record only her own: the "who" list is herself alone; anyone may cover.
    assert options(page, "away-person") == ["Megan Bowen"]
    assert options(page, "away-cover") == ["No one named", "Jane Smith", "Megan Bowen", "Rita Lead", "Sam Worker",
                                           "Tess Manager", "Una Unit"]  # fmt: skip
    response, page = await browser.post("/absences", {"person": str(people["megan"]), "first_day": "2026-11-23",
                                                      "last_day": "2026-12-04",
                                                      "cover": str(people["jane"])})  # fmt: skip
    assert response.status == 200 and response.url.path == "/absences"
    assert "Recorded: Megan Bowen is away Mon 23 Nov 2026 to Fri 4 Dec 2026; Jane Smith covers." in page
    assert '<th scope="row">Megan Bowen</th>' in page and "By megan@example.gov.uk" in page
    [away] = await absences.absences(browser.ctx)
    assert (away.name, away.cover_name) == ("Megan Bowen", "Jane Smith")


async def test_bad_input_comes_back_beside_its_field_and_nothing_is_recorded(browser: Browser) -> None:
    people = await ids(browser)
    await browser.be("megan@example.gov.uk")
    await browser.page("/absences")
    response, page = await browser.post("/absences", {"person": str(people["megan"]), "first_day": "2026-12-04",
                                                      "last_day": "2026-11-23",
                                                      "cover": str(people["megan"])})  # fmt: skip
    assert response.status == 400
    assert 'id="away-last_day-problem">The last day away (Mon 23 Nov 2026) is before the first' in page
    assert 'value="2026-12-04"' in page, "what was typed is kept"
    response, page = await browser.post("/absences", {"person": str(people["megan"]), "first_day": "2026-11-23",
                                                      "last_day": "2026-12-04",
                                                      "cover": str(people["megan"])})  # fmt: skip
    assert response.status == 400 and 'id="away-cover-problem">Megan Bowen cannot cover their own absence' in page
    assert await absences.absences(browser.ctx) == []


async def test_someone_else_s_absence_is_refused_with_its_sentence_and_audited(browser: Browser) -> None:
    people = await ids(browser)
    await browser.be("sam@example.gov.uk")
    await browser.page("/absences")
    response, page = await browser.post("/absences", {"person": str(people["megan"]), "first_day": "2026-11-23",
                                                      "last_day": "2026-12-04", "cover": ""})  # fmt: skip
    assert response.status == 403 and "You can record only your own absence" in page
    async with browser.ctx.database.read() as session:
        refusals = (await session.scalars(select(models.AuditEntry.actor).where(
            models.AuditEntry.action == "absence.record", models.AuditEntry.outcome == "refused"))).all()  # fmt: skip
    assert list(refusals) == ["sam@example.gov.uk"]


async def test_the_unit_cancels_an_absence_from_the_page(browser: Browser) -> None:
    away = await absences.record_absence(browser.ctx, CLI, "megan@example.gov.uk", date(2026, 11, 23),
                                         date(2026, 12, 4))  # fmt: skip
    await browser.be("una@example.gov.uk")
    response, page = await browser.page("/absences")
    assert "Their team manager (no cover named)" in page
    assert f'action="/absences/{away.id}/cancel"' in page
    response, page = await browser.post(f"/absences/{away.id}/cancel", {})
    assert response.status == 200 and "Cancelled: Megan Bowen is away" in page
    assert "Nobody is recorded away today or later." in page


async def test_the_order_page_says_whom_a_notice_went_to_covering_for_whom(browser: Browser) -> None:
    await orders.create_order(browser.ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", date(2026, 3, 3),
                                                           social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
    await orders.allocate_iro(browser.ctx, "SO-2026-0001", "Megan Bowen", Actor("Una Unit", "una@example.gov.uk"))
    await absences.record_absence(browser.ctx, CLI, "Megan Bowen", date(2026, 11, 30), date(2026, 12, 11), "Jane Smith")
    clock = browser.sobot.clock
    assert isinstance(clock, FixedClock)
    clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    await browser.sobot.planner.plan()
    await browser.be("una@example.gov.uk")
    response, page = await browser.page("/orders/SO-2026-0001")
    assert response.status == 200
    assert "<td>Jane Smith, covering for Megan Bowen</td>" in page
    # The review she chairs falls in her absence: the page says so, beside the way to reallocate.
    assert ("Megan Bowen, the IRO, is away Mon 30 Nov 2026 to Fri 11 Dec 2026 (Jane Smith covers), when “IRO review "
            "meeting: plan, progress, and whether to seek an extension” is due Thu 3 Dec 2026. "
            '<a href="#allocate-heading">Reallocate the IRO</a>') in page  # fmt: skip
    assert 'id="allocate-heading">Reallocate the IRO</h3>' in page
    # The link leads to the reallocation form, which says again who is away, and offers the other IROs, not her.
    form = page[page.index('<form method="post" action="/orders/SO-2026-0001/allocate"') :]
    form = form[: form.index("</form>")]
    assert 'id="allocate-heading"' in form
    assert '<p class="notice" role="note" id="allocate-away">Megan Bowen, the IRO, is away Mon 30 Nov 2026' in form
    offered = re.findall(r'<option value="\d+">([^<]+)</option>', form)
    assert "Jane Smith" in offered and "Megan Bowen" not in offered
