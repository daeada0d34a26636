"""The caseload's operation on both databases: who sees which orders (names only where linked), its filters,
sorting, search, pages, and the export of the same view, audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers import caseload as cl
from handlers import orders
from handlers.caseload import CaseloadQuery
from handlers.context import CLI, Context
from handlers.directory import PersonView, directory
from storage import Database, models
from tests.web import Browser, dashboard

# Tuesday 10 March 2026.
AT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


@pytest.fixture
async def rig(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Browser]:
    async with dashboard(database, database_url, AT, tmp_path / "mail") as made:
        ctx = made.ctx
        # SO-2026-0001: Sam's (North), made a month ago, allocated to Ian; its early steps are now overdue.
        await orders.create_order(ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", date(2026, 2, 2),
                                                       social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
        await orders.allocate_iro(ctx, "SO-2026-0001", "ian@example.gov.uk", CLI)
        # SO-2026-0002: Sue's (South), Camden's, made yesterday, unallocated.
        await orders.create_order(ctx, orders.NewOrder("C2", "Tom Brown", "supervision", date(2026, 3, 9),
                                                       procedure="camden",
                                                       social_worker_email="sue@example.gov.uk"), CLI)  # fmt: skip
        # SO-2026-0003: Sam's again, a six-month order made in December: it ends within three months.
        await orders.create_order(ctx, orders.NewOrder("C3", "Amy Green", "supervision", date(2025, 12, 1),
                                                       months=6, social_worker_email="sam@example.gov.uk"),
                                  CLI)  # fmt: skip
        await orders.allocate_iro(ctx, "SO-2026-0003", "ivy@example.gov.uk", CLI)
        yield made


async def person(ctx: Context, email: str) -> PersonView:
    return next(p for p in await directory(ctx) if p.email == email)


async def references(ctx: Context, email: str, query: CaseloadQuery | None = None) -> list[str]:
    result = await cl.caseload(ctx, await person(ctx, email), query or CaseloadQuery(sort="reference",
                                                                                      descending=False))  # fmt: skip
    return [line.reference for line in result.lines]


async def test_each_person_sees_the_orders_the_permission_table_lets_them(rig: Browser) -> None:
    ctx = rig.ctx
    everything = ["SO-2026-0001", "SO-2026-0002", "SO-2026-0003"]
    assert await references(ctx, "sam@example.gov.uk") == ["SO-2026-0001", "SO-2026-0003"]
    assert await references(ctx, "sue@example.gov.uk") == ["SO-2026-0002"]
    assert await references(ctx, "tess@example.gov.uk") == ["SO-2026-0001", "SO-2026-0003"], "Sam's manager"
    assert await references(ctx, "ian@example.gov.uk") == ["SO-2026-0001"]
    assert await references(ctx, "ivy@example.gov.uk") == ["SO-2026-0003"]
    for overseer in ("una@example.gov.uk", "hope@example.gov.uk", "lena@example.gov.uk"):
        assert await references(ctx, overseer) == everything, overseer


async def test_the_full_name_only_to_people_linked_to_the_order(rig: Browser) -> None:
    ctx = rig.ctx

    async def children(email: str) -> dict[str, str]:
        result = await cl.caseload(ctx, await person(ctx, email), CaseloadQuery())
        return {line.reference: line.child for line in result.lines}

    assert await children("sam@example.gov.uk") == {"SO-2026-0001": "Jane Mary Smith", "SO-2026-0003": "Amy Green"}
    assert await children("ian@example.gov.uk") == {"SO-2026-0001": "Jane Mary Smith"}
    assert (await children("tess@example.gov.uk"))["SO-2026-0001"] == "Jane Mary Smith"
    assert await children("una@example.gov.uk") == {"SO-2026-0001": "J.M.S.", "SO-2026-0002": "T.B.",
                                                    "SO-2026-0003": "A.G."}  # fmt: skip


async def test_each_line_has_its_people_dates_next_step_and_overdue_count(rig: Browser) -> None:
    result = await cl.caseload(rig.ctx, await person(rig.ctx, "una@example.gov.uk"), CaseloadQuery())
    first = next(line for line in result.lines if line.reference == "SO-2026-0001")
    assert (first.social_worker, first.team, first.iro) == ("Sam Worker", "North", "Ian Reviewer")
    assert (first.made, first.last_day, first.procedure) == (date(2026, 2, 2), date(2027, 2, 1),
                                                             "Wirral Supervision Order procedure")  # fmt: skip
    # Made 2 Feb: telling the unit (2 working days), the case summary (10) and the first CIN meeting (20) are past;
    # the IRO's allocation, late as it was, is done.
    assert first.overdue_count == 3
    assert first.next_step is not None and first.next_step.startswith("Tell the Safeguarding Unit")
    assert first.next_due == date(2026, 2, 4)
    second = next(line for line in result.lines if line.reference == "SO-2026-0002")
    assert second.iro is None and second.overdue_count == 0 and second.procedure_id == "camden"


async def test_the_filters(rig: Browser) -> None:
    ctx, unit = rig.ctx, "una@example.gov.uk"
    base = CaseloadQuery(sort="reference", descending=False)
    ian = (await person(ctx, "ian@example.gov.uk")).id
    assert await references(ctx, unit, replace(base, team="North")) == ["SO-2026-0001", "SO-2026-0003"]
    assert await references(ctx, unit, replace(base, procedure="camden")) == ["SO-2026-0002"]
    assert await references(ctx, unit, replace(base, iro_id=ian)) == ["SO-2026-0001"]
    assert await references(ctx, unit, replace(base, unallocated=True)) == ["SO-2026-0002"]
    assert await references(ctx, unit, replace(base, overdue=True)) == ["SO-2026-0001", "SO-2026-0003"]
    assert await references(ctx, unit, replace(base, ending_soon=True)) == ["SO-2026-0003"]
    # SO-2026-0002's first support plan review is due on Thursday 9 April: the first step due from today on.
    days = next(n for n in range(1, 60) if ctx.calendar.add_working_days(ctx.today(), n) == date(2026, 4, 9))
    assert await references(ctx, unit, replace(base, due_within=days)) == ["SO-2026-0002"]
    assert await references(ctx, unit, replace(base, due_within=days - 1)) == []
    assert await references(ctx, unit, replace(base, team="North", overdue=True, ending_soon=True)) == [
        "SO-2026-0003"]  # fmt: skip
    assert await references(ctx, "sue@example.gov.uk", replace(base, team="North")) == [], "filters narrow, never widen"


async def test_ended_orders_are_shown_when_asked_for(rig: Browser) -> None:
    ctx, unit = rig.ctx, "una@example.gov.uk"
    await orders.end_order(ctx, "SO-2026-0002", "discharged", date(2026, 3, 10), CLI)
    base = CaseloadQuery(sort="reference", descending=False)
    assert await references(ctx, unit, base) == ["SO-2026-0001", "SO-2026-0003"]
    assert await references(ctx, unit, replace(base, status="ended")) == ["SO-2026-0002"]
    assert len(await references(ctx, unit, replace(base, status="all"))) == 3


async def test_search_by_reference_however_typed_or_by_child_id(rig: Browser) -> None:
    ctx, unit = rig.ctx, "una@example.gov.uk"
    assert await references(ctx, unit, CaseloadQuery(search="so-2026-2")) == ["SO-2026-0002"]
    assert await references(ctx, unit, CaseloadQuery(search="C3")) == ["SO-2026-0003"]
    assert await references(ctx, unit, CaseloadQuery(search="SO-2026", sort="reference", descending=False)) == [
        "SO-2026-0001", "SO-2026-0002", "SO-2026-0003"]  # fmt: skip
    assert await references(ctx, "sue@example.gov.uk", CaseloadQuery(search="C1")) == [], "only what they may see"
    assert await references(ctx, unit, CaseloadQuery(search="C")) == [], "a child's ID is matched whole"


async def test_sorting(rig: Browser) -> None:
    ctx, unit = rig.ctx, "una@example.gov.uk"
    assert await references(ctx, unit, CaseloadQuery(sort="last_day", descending=False)) == [
        "SO-2026-0003", "SO-2026-0001", "SO-2026-0002"]  # fmt: skip
    assert (await references(ctx, unit, CaseloadQuery(sort="overdue", descending=True)))[-1] == "SO-2026-0002"
    assert await references(ctx, unit, CaseloadQuery(sort="reference", descending=True)) == [
        "SO-2026-0003", "SO-2026-0002", "SO-2026-0001"]  # fmt: skip
    # Unallocated orders sort last whichever way the IROs run.
    assert (await references(ctx, unit, CaseloadQuery(sort="iro", descending=False)))[-1] == "SO-2026-0002"
    assert (await references(ctx, unit, CaseloadQuery(sort="iro", descending=True)))[-1] == "SO-2026-0002"


async def test_pages_of_fifty(rig: Browser) -> None:
    ctx = rig.ctx
    for number in range(4, 53):
        await orders.create_order(ctx, orders.NewOrder(f"P{number}", "Pat Page", "supervision", date(2026, 3, 2),
                                                       social_worker_email="sue@example.gov.uk"), CLI)  # fmt: skip
    unit = await person(ctx, "una@example.gov.uk")
    first = await cl.caseload(ctx, unit, CaseloadQuery(sort="reference", descending=False))
    assert (first.total, first.pages, len(first.lines)) == (52, 2, 50)
    second = await cl.caseload(ctx, unit, CaseloadQuery(sort="reference", descending=False, page=2))
    assert [line.reference for line in second.lines] == ["SO-2026-0051", "SO-2026-0052"]
    beyond = await cl.caseload(ctx, unit, CaseloadQuery(sort="reference", descending=False, page=9))
    assert beyond.page == 2, "a page past the end shows the last one"


async def test_the_export_holds_every_page_and_is_audited(rig: Browser) -> None:
    ctx = rig.ctx
    lines = await cl.export(ctx, await person(ctx, "tess@example.gov.uk"), CaseloadQuery(overdue=True), "xlsx")
    assert sorted(line.reference for line in lines) == ["SO-2026-0001", "SO-2026-0003"]
    async with ctx.database.read() as session:
        entry = (await session.scalars(select(models.AuditEntry).where(models.AuditEntry.action ==
                                                                       "caseload.export"))).one()  # fmt: skip
    assert (entry.actor, entry.details) == ("tess@example.gov.uk", {"form": "xlsx", "orders": 2})


async def test_a_role_that_sees_no_order_sees_an_empty_caseload(rig: Browser) -> None:
    nobody = PersonView(999, "Rita Receiving", "rita@example.gov.uk", ("receiving_authority",), None)
    assert (await cl.caseload(rig.ctx, nobody, CaseloadQuery())).lines == []
