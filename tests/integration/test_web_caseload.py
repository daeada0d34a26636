"""The caseload page over HTTP: its filters from the address, problems beside their fields, the search by post, and
the export of the same view as CSV and XLSX, read back."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from storage import Database
from tests.web import Browser, dashboard, two_orders

AT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
async def browser(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Browser]:
    async with dashboard(database, database_url, AT, tmp_path / "mail") as made:
        await two_orders(made.ctx)
        yield made


def rows(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/orders/(SO-\d{4}-\d{4})">', page)


async def test_the_unit_sees_every_order_by_initials_and_filters_by_team(browser: Browser) -> None:
    await browser.be("una@example.gov.uk")
    response, page = await browser.page("/caseload")
    assert response.status == 200
    assert rows(page) == ["SO-2026-0002", "SO-2026-0001"], "newest first"
    assert "J.M.S." in page and "Jane" not in page
    _, page = await browser.page("/caseload?team=North")
    assert rows(page) == ["SO-2026-0001"]
    assert "<option selected>North</option>" in page, "the form keeps what was chosen"


async def test_the_social_worker_sees_their_own_order_by_name(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    _, page = await browser.page("/caseload")
    assert rows(page) == ["SO-2026-0001"] and "Jane Mary Smith" in page
    assert not re.search(r'href="[^"]*(Jane|Smith)', page), "no name in any address"


async def test_a_filter_it_cannot_use_is_named_beside_its_field(browser: Browser) -> None:
    await browser.be("una@example.gov.uk")
    response, page = await browser.page("/caseload?due_within=ten&team=North")
    assert response.status == 400
    assert 'id="due_within-problem"' in page and "“ten” is not one" in page
    assert 'value="ten" aria-invalid="true"' in page, "what was typed is kept"
    assert rows(page) == ["SO-2026-0001"], "the other filters still apply"


async def test_the_search_is_posted_so_no_child_id_sits_in_an_address(browser: Browser) -> None:
    await browser.be("una@example.gov.uk")
    await browser.page("/caseload")
    response, page = await browser.post("/caseload/search", {"q": "C2"})
    assert response.status == 200 and response.url.path == "/caseload/search" and not response.url.query
    assert rows(page) == ["SO-2026-0002"] and "match “C2”" in page
    _, page = await browser.post("/caseload/search", {"q": ""})
    assert 'id="q-problem"' in page


async def test_the_view_exports_as_csv_and_xlsx(browser: Browser) -> None:
    await browser.be("sam@example.gov.uk")
    response = await browser.client.get("/caseload/export.csv?status=open")
    assert response.status == 200 and response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO((await response.read()).decode("utf-8-sig"))))
    assert table[0][:3] == ["Reference", "Child", "Type"]
    assert [line[:2] for line in table[1:]] == [["SO-2026-0001", "Jane Mary Smith"]]
    response = await browser.client.get("/caseload/export.xlsx")
    book = load_workbook(io.BytesIO(await response.read()))
    sheet = book["Caseload"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Reference" and values[1][0] == "SO-2026-0001"
    assert values[1][8].date() == date(2026, 2, 2), "dates are dates in the workbook"
