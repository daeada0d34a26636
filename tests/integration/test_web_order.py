"""One order's page over HTTP: its facts (the name only to those linked), the timeline picture, steps with their
sections, notifications and audit trail; looking is audited; and the forms, through the chat's own operations."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from handlers.directory import directory
from storage import Database, models
from tests.web import Browser, dashboard, two_orders

AT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
ORDER = "/orders/SO-2026-0001"


@pytest.fixture
async def browser(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Browser]:
    async with dashboard(database, database_url, AT, tmp_path / "mail") as made:
        await two_orders(made.ctx)
        yield made


async def audit(browser: Browser, action: str) -> list[models.AuditEntry]:
    async with browser.ctx.database.read() as session:
        found = await session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == action)
                                      .order_by(models.AuditEntry.id))  # fmt: skip
        return list(found.all())


def svg(page: str) -> ElementTree.Element:
    [picture] = re.findall(r"<svg .*?</svg>", page, re.S)
    return ElementTree.fromstring(picture)


async def test_the_social_worker_reads_their_order_whole_and_the_look_is_audited(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    response, page = await browser.page(ORDER)
    assert response.status == 200
    assert "Jane Mary Smith" in page and "C1" in page
    assert "Wirral procedure §4.1(d)" in page, "each step names its section of the procedure"
    assert "Overdue" in page and "Sam Worker" in page
    [looked] = await audit(browser, "order.view")
    assert (looked.actor, looked.order_reference, looked.details) == ("sam@example.gov.uk", "SO-2026-0001",
                                                                      {"full_name": True})  # fmt: skip
    assert "order.view" in page, "the audit trail shows the look itself"


async def test_the_unit_sees_initials_and_its_look_is_audited_as_such(browser: Browser) -> None:
    await browser.be("una@example.gov.uk")
    _, page = await browser.page(ORDER)
    assert "J.M.S." in page and "Jane" not in page
    [looked] = await audit(browser, "order.view")
    assert looked.details == {"full_name": False}


async def test_the_timeline_picture_marks_each_step_by_shape_and_words(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    _, page = await browser.page(ORDER)
    picture = svg(page)
    ns = {"s": "http://www.w3.org/2000/svg"}
    assert picture.get("role") == "img"
    titles = [t.text or "" for t in picture.iterfind(".//s:g/s:title", ns)]
    assert any(t.startswith("Tell the Safeguarding Unit") and t.endswith("overdue") for t in titles)
    assert any("waiting on" in t for t in titles), "a step that waits on an event says so"
    assert "Today, 10 March 2026" in titles and "Three-year limit: 01 February 2029" in titles
    overdue = picture.findall(".//s:g[@class='mark mark-overdue']/s:polygon", ns)
    waiting = picture.findall(".//s:g[@class='mark mark-waiting']/s:rect", ns)
    assert overdue and waiting, "overdue is a triangle, waiting a square: not colour alone"


async def test_a_social_worker_is_refused_someone_elses_order_and_that_is_audited(browser: Browser) -> None:
    await browser.be("sue@example.gov.uk")
    response, page = await browser.page(ORDER)
    assert response.status == 403 and "You are not linked to SO-2026-0001" in page
    assert "Jane" not in page and "J.M.S." not in page
    [refused] = await audit(browser, "order.view")
    assert (refused.actor, refused.outcome) == ("sue@example.gov.uk", "refused")


async def test_an_unknown_order_says_so(browser: Browser) -> None:
    await browser.be("una@example.gov.uk")
    response, page = await browser.page("/orders/SO-2026-0099")
    assert response.status == 404 and "SO-2026-0099" in page
    response, page = await browser.page("/orders/nonsense")
    assert response.status == 404 and "they look like SO-2026-0007" in page


async def test_the_social_worker_records_a_step_done(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    await browser.page(ORDER)
    response, page = await browser.post(f"{ORDER}/step", {"key": "case_summary", "on": "2026-03-09"})
    assert response.status == 200 and response.url.path == ORDER
    assert "Recorded: Rewrite the case summary" in page and "done 09 March 2026" in page
    [recorded] = await audit(browser, "event.record")
    assert recorded.details == {"key": "case_summary", "on": "2026-03-09"}
    _, page = await browser.page(ORDER)
    assert "Recorded:" not in page, "the notice is shown once"


async def test_a_form_with_problems_comes_back_as_typed_with_each_problem_beside_its_field(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    await browser.page(ORDER)
    response, page = await browser.post(f"{ORDER}/step", {"key": "", "on": "31 Febtember"})
    assert response.status == 400
    assert 'id="step-key-problem"' in page and "Choose the step that was done" in page
    assert 'id="step-on-problem"' in page and 'value="31 Febtember"' in page
    response, page = await browser.post(f"{ORDER}/step", {"key": "case_summary", "on": "2025-01-01"})
    assert response.status == 400 and 'id="step-on-problem"' in page, "the operation's own problem, by its field"
    assert 'value="case_summary" selected' in page
    assert await audit(browser, "event.record") == []


async def test_the_unit_allocates_and_a_social_worker_is_refused_allocating(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    _, page = await browser.page(ORDER)
    assert 'id="allocate-heading"' not in page, "the form is only for those allowed"
    ian = next(p.id for p in await directory(browser.ctx) if p.email == "ian@example.gov.uk")
    response, page = await browser.post(f"{ORDER}/allocate", {"iro": str(ian)})
    assert response.status == 403 and "Only members of the Safeguarding Unit can allocate an IRO" in page
    [refused] = await audit(browser, "order.allocate")
    assert refused.outcome == "refused" and refused.actor == "sam@example.gov.uk"
    await browser.be("una@example.gov.uk")
    _, page = await browser.page(ORDER)
    assert 'id="allocate-heading"' in page and "Ian Reviewer" in page
    response, page = await browser.post(f"{ORDER}/allocate", {"iro": str(ian)})
    assert response.url.path == ORDER and "Ian Reviewer is now the IRO for SO-2026-0001." in page
    allocated = (await audit(browser, "order.allocate"))[-1]
    assert (allocated.outcome, allocated.details) == ("ok", {"iro": "ian@example.gov.uk"})


async def test_an_extension_past_three_years_is_refused_beside_its_field(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    await browser.page(ORDER)
    response, page = await browser.post(f"{ORDER}/extend", {"last_day": "2029-06-01", "decided_on": ""})
    assert response.status == 400 and 'id="extend-last_day-problem"' in page and "three years" in page
    response, page = await browser.post(f"{ORDER}/extend", {"last_day": "2028-02-01", "decided_on": "2026-03-10"})
    assert "last day is now 01 February 2028" in page


async def test_ending_is_refused_to_everyone_but_an_administrator_and_audited(browser: Browser) -> None:
    await browser.be("una@example.gov.uk")
    _, page = await browser.page(ORDER)
    assert 'id="end-heading"' not in page
    response, page = await browser.post(f"{ORDER}/end", {"reason": "discharged", "on": "2026-03-10"})
    assert response.status == 403 and "Only a sobot administrator can end an order" in page
    [refused] = await audit(browser, "order.end")
    assert refused.outcome == "refused"


async def test_the_notifications_about_the_order_are_listed(browser: Browser) -> None:
    await browser.sobot.dispatch()
    await browser.be("una@example.gov.uk")
    _, page = await browser.page(ORDER)
    section = page.split('id="notifications"', 1)[1].split('id="audit"', 1)[0]
    assert ("Sam Worker" in section and "Reminder" not in section) or "reminder" in section
    assert "No notification has been queued" not in section
