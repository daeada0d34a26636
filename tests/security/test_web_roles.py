"""Who may do what through the dashboard: every role the directory knows against every page and form, each allowed
or refused as the permission table says (the same answers as chat and the handlers), and every refusal audited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers import orders
from handlers.context import CLI
from handlers.directory import directory
from storage import Database, models
from tests.security.conftest import STAFF
from tests.web import Browser, dashboard

AT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
ORDER = "SO-2026-0001"  # Sam's (North), allocated to Ian; Tess is Sam's manager
PERSONAS = {
    "sam.worker": "social_worker: the order's own", "sue.worker": "social_worker: another team's",
    "tess.manager": "team_manager: the social worker's manager", "tom.manager": "team_manager: another team's",
    "ian.reviewer": "iro: allocated to the order", "ivy.reviewer": "iro: not allocated to it",
    "una.unit": "safeguarding_unit", "sean.service": "service_manager", "hana.head": "head_of_service",
    "lee.legal": "legal",
}  # fmt: skip
LINKED = {"sam.worker", "tess.manager", "ian.reviewer", "una.unit", "sean.service", "hana.head", "lee.legal"}
# Each page or form: who may use it on the order, and the audit action a refusal writes.
ALLOWED = {
    "caseload": LINKED,
    "order": LINKED,
    "event": LINKED,  # an event no step's role owns: anyone who may record on the order
    "step": {"sam.worker", "tess.manager", "una.unit"},  # the social worker's step: its owner and those who record any
    "extend": LINKED,
    "allocate": {"una.unit"},
    "end": set(),  # an administrator's (the command line)
    "absence": {"sam.worker", "tess.manager", "una.unit"},  # Sam's absence: his own, his manager's, the unit's
}
SHOWN = ("event", "extend", "allocate", "end")
AUDITED = {"order": "order.view", "event": "event.record", "step": "event.record", "extend": "order.extend",
           "allocate": "order.allocate", "end": "order.end", "absence": "absence.record"}  # fmt: skip


@pytest.fixture
async def browser(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Browser]:
    async with dashboard(database, database_url, AT, tmp_path / "mail", STAFF) as made:
        await orders.create_order(made.ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", date(2026, 2, 2),
                                                            social_worker_email="sam.worker@example.gov.uk"),
                                  CLI)  # fmt: skip
        await orders.allocate_iro(made.ctx, ORDER, "ian.reviewer@example.gov.uk", CLI)
        yield made


async def refusals(browser: Browser, who: str) -> list[str]:
    async with browser.ctx.database.read() as session:
        found = await session.scalars(select(models.AuditEntry.action).where(
            models.AuditEntry.outcome == "refused", models.AuditEntry.actor == f"{who}@example.gov.uk"))  # fmt: skip
        return sorted(found.all())


@pytest.mark.parametrize("who", PERSONAS, ids=[f"{w}={r.split(':')[0]}" for w, r in PERSONAS.items()])
async def test_each_role_may_use_the_pages_and_forms_it_should_and_every_refusal_is_audited(
    browser: Browser, who: str
) -> None:
    await browser.be(f"{who}@example.gov.uk")
    ivy = next(p.id for p in await directory(browser.ctx) if p.email == "ivy.reviewer@example.gov.uk")
    forms = {"event": {"key": "initial_review_concerns", "on": "2026-03-09"},
             "step": {"key": "case_summary", "on": "2026-03-09"},
             "extend": {"last_day": "2027-06-01", "decided_on": "2026-03-10"},
             "allocate": {"iro": str(ivy)}, "end": {"reason": "discharged", "on": "2026-03-10"}}  # fmt: skip
    got: dict[str, bool] = {}
    _, page = await browser.page("/caseload")
    got["caseload"] = f'href="/orders/{ORDER}"' in page
    response, page = await browser.page(f"/orders/{ORDER}")
    got["order"] = response.status == 200
    if not got["order"]:
        assert response.status == 403 and f"You are not linked to {ORDER}" in page
    else:
        # The page offers a form exactly to those the table lets use it (the step form lists each one's own steps,
        # so whether it shows says nothing of this step).
        shown = {form for form in SHOWN if f'action="/orders/{ORDER}/{form}"' in page}
        assert shown == {form for form in SHOWN if who in ALLOWED[form]}, PERSONAS[who]
    for form, values in forms.items():
        response, page = await browser.post(f"/orders/{ORDER}/{form}", values)
        got[form] = response.status == 200 and response.url.path == f"/orders/{ORDER}"
        if not got[form]:
            assert response.status == 403, (form, response.status, page[-2000:])
            assert 'role="alert"' in page, "a refusal is told, as a sentence"
    sam = next(p.id for p in await directory(browser.ctx) if p.email == "sam.worker@example.gov.uk")
    await browser.page("/absences")
    response, page = await browser.post("/absences", {"person": str(sam), "first_day": "2026-06-01",
                                                      "last_day": "2026-06-05", "cover": ""})  # fmt: skip
    got["absence"] = response.status == 200 and response.url.path == "/absences"
    if not got["absence"]:
        assert response.status == 403 and "You can record only your own absence" in page, page[-2000:]
    assert got == {name: who in allowed for name, allowed in ALLOWED.items()}, PERSONAS[who]
    expected = sorted(AUDITED[name] for name, ok in got.items() if not ok and name in AUDITED)
    assert await refusals(browser, who) == expected, "every refusal, and nothing else, is audited as refused"
