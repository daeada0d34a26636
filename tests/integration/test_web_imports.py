"""The import page over HTTP: the unit uploads the council's spreadsheet, reads the dry run, imports it, and
confirms the steps it brought in; others are refused; the upload is capped and needs its form token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import FormData
from sqlalchemy import func, select

from storage import Database, models
from tests.caseload_sheet import STAFF, caseload
from tests.web import Browser, dashboard
from web.imports import UPLOAD_LIMIT, UPLOADS

AT = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.fixture
async def browser(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Browser]:
    async with dashboard(database, database_url, AT, tmp_path / "mail", staff=STAFF) as made:
        yield made


async def _upload(browser: Browser, name: str, content: bytes, token: bool = True) -> tuple[int, str, str]:
    form = FormData()
    if token:
        form.add_field("csrf_token", browser.token)
    form.add_field("sheet", content, filename=name, content_type="application/octet-stream")
    response = await browser.client.post("/imports", data=form)
    return response.status, response.url.path, await response.text()


async def _finished(browser: Browser, path: str) -> str:
    """The upload's page once its dry run or import has finished (its task awaited, not a time waited)."""
    kept = browser.sobot.app[UPLOADS].kept[path.rsplit("/", 1)[-1]]
    assert kept.task is not None
    await kept.task
    _, page = await browser.page(path)
    return page


async def _orders(browser: Browser) -> int:
    async with browser.ctx.database.read() as session:
        return int(await session.scalar(select(func.count()).select_from(models.Order)) or 0)


async def test_the_unit_uploads_reads_the_dry_run_imports_and_confirms(browser: Browser) -> None:
    await browser.be("una.unit@example.gov.uk")
    _, page = await browser.page("/imports")
    assert "Upload the council's spreadsheet" in page and "Nothing to confirm." in page
    assert '<a href="/imports" aria-current="page">Import</a>' in page, "the unit's nav leads here"
    book = caseload(browser.ctx.procedures, AT.date(), count=20)
    status, path, _ = await _upload(browser, "tracker.csv", book.csv())
    assert status == 200 and path.startswith("/imports/")
    page = await _finished(browser, path)
    assert "Dry run of tracker.csv: 20 new orders, 0 updated, 0 unchanged, 6 rows with problems" in page
    assert "0 escalations" in page
    for sentences in book.bad.values():
        assert sentences[0].replace("'", "&#39;") in page
    assert await _orders(browser) == 0

    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = await browser.client.post(f"{path}/confirm", data={"csrf_token": token.group(1), "skip_bad": "1"})
    assert response.status == 200
    page = await _finished(browser, path)
    assert "Imported tracker.csv: 20 new orders, 0 updated, 0 unchanged; 6 rows with problems were left out." in page
    assert await _orders(browser) == 20

    _, page = await browser.page("/imports")
    async with browser.ctx.database.read() as session:
        waiting = (await session.execute(
            select(models.Order.reference, models.Milestone.key, models.Milestone.occurrence)
            .join(models.Order, models.Order.id == models.Milestone.order_id)
            .where(models.Milestone.state == "to_confirm").order_by(models.Milestone.id)
        )).all()  # fmt: skip
    assert f"{len(waiting)} steps to confirm, the oldest first" in page
    reference, key, occurrence = waiting[0]
    _, page = await browser.page(f"/orders/{reference}")
    assert "Confirm an imported step" in page
    confirmed = {"step": f"{key}:{occurrence}", "outcome": "done", "on": "2026-12-01"}
    response, page = await browser.post(f"/orders/{reference}/confirm", confirmed)
    assert response.status == 200 and "Confirmed: " in page and "done 01 December 2026" in page
    async with browser.ctx.database.read() as session:
        state = await session.scalar(
            select(models.Milestone.state).join(models.Order, models.Order.id == models.Milestone.order_id)
            .where(models.Order.reference == reference, models.Milestone.key == key,
                   models.Milestone.occurrence == occurrence)
        )  # fmt: skip
    assert state == "done"


async def test_others_are_refused_and_the_upload_is_capped_and_guarded(browser: Browser) -> None:
    await browser.be("sam.worker@example.gov.uk")
    _, page = await browser.page("/caseload")
    assert 'href="/imports"' not in page, "no way in for those who may not import"
    response, page = await browser.page("/imports")
    assert response.status == 403 and "Only members of the Safeguarding Unit can confirm an imported step" in page
    status, _, page = await _upload(browser, "t.csv", b"Child ID\n1\n")
    assert status == 403 and "Only members of the Safeguarding Unit can import orders" in page

    await browser.be("una.unit@example.gov.uk")
    await browser.page("/imports")
    status, _, page = await _upload(browser, "t.csv", b"Child ID\n1\n", token=False)
    assert status == 403
    status, _, page = await _upload(browser, "big.csv", b"x" * (UPLOAD_LIMIT + 1))
    assert status == 413 and "What was sent is larger than 1 MB, more than the dashboard takes" in page
    status, path, _ = await _upload(browser, "notes.txt", b"hello")
    page = await _finished(browser, path)
    assert "notes.txt is not a CSV or XLSX file" in page
    assert await _orders(browser) == 0
