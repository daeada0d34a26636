"""Who may do what, through the Teams turn path: every role the directory knows against every operation it can
reach, each allowed or refused as intended, and every refusal in the audit log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from bot.agent import STRANGER
from handlers import orders
from handlers.context import CLI
from sobot.app import Services
from storage import models
from tests.cards import texts
from tests.teams import Teams

ORDER = "SO-2026-0001"  # Sam's (North), allocated to Ian; Tess is Sam's manager
UNALLOCATED = "SO-2026-0002"  # Sam's too, with no IRO yet
CHANNEL = "19:unit-channel@thread.tacv2"

# Each persona, by the handle Teams knows them by, and why they are here.
PERSONAS = {
    "sam": "social_worker: the order's own",
    "sue": "social_worker: another team's",
    "tess": "team_manager: the social worker's manager",
    "tom": "team_manager: another team's",
    "ian": "iro: allocated to the order",
    "ivy": "iro: not allocated to it",
    "una": "safeguarding_unit",
    "sean": "service_manager",
    "hana": "head_of_service",
    "lee": "legal",
    "nobody": "a stranger, not in the directory",
}
DIRECTORY = set(PERSONAS) - {"nobody"}
# Linked to the order: the people its procedure tells (social worker, their manager, its IRO) and the roles that
# oversee every order (the unit, service managers, Heads of Service, Legal).
LINKED = {"sam", "tess", "ian", "una", "sean", "hana", "lee"}
UNIT = {"una"}
NOBODY: set[str] = set()

NOT_LINKED = "You are not linked to SO-2026-0001"
ONLY_THE_UNIT = "Only members of the Safeguarding Unit"


@dataclass(frozen=True)
class Outcome:
    took_effect: bool
    told: str


@dataclass(frozen=True)
class Action:
    name: str
    allowed: set[str]
    run: Callable[[Teams, str], Awaitable[Outcome]]
    refusal: str | None = None  # the sentence a refused person is given
    audit: str | None = None  # the audit action a refusal writes; None where "no" is a scoped answer, not a refusal


def said(bodies: list[dict[str, object]]) -> str:
    return "\n".join(str(b.get("text") or "") + "\n" + texts(b.get("attachments") or []) for b in bodies)


async def events(teams: Teams, kind: str) -> int:
    return await teams.count(models.Event, models.Event.kind == kind)


async def chat_effect(teams: Teams, who: str, line: str, seen: str, conversation: str | None = None) -> Outcome:
    told = said(await teams.say(who, line, conversation))
    return Outcome(seen in told, told)


async def my_orders(teams: Teams, who: str) -> Outcome:
    return await chat_effect(teams, who, "my orders", ORDER)


async def due(teams: Teams, who: str) -> Outcome:
    return await chat_effect(teams, who, "due next 30 days", ORDER)


async def overdue(teams: Teams, who: str) -> Outcome:
    return await chat_effect(teams, who, "overdue", ORDER)


async def view(teams: Teams, who: str) -> Outcome:
    return await chat_effect(teams, who, f"order {ORDER}", "Next steps")


async def new_order_form(teams: Teams, who: str) -> Outcome:
    bodies = await teams.say(who, "new order")
    form = [a["content"] for b in bodies for a in b.get("attachments") or []]  # type: ignore[attr-defined]
    return Outcome(any(e.get("id") == "made" for card in form for e in card["body"]), said(bodies))


async def submit_order(teams: Teams, who: str) -> Outcome:
    before = await teams.count(models.Order)
    card = await teams.click(who, "order.submit", {
        "child_local_id": f"C-{who}", "child_name": "Tom Smith", "order_type": "supervision", "made": "2026-03-03",
        "months": "12", "procedure": "wirral", "social_worker": "sam.worker@example.gov.uk",
    })  # fmt: skip
    return Outcome(await teams.count(models.Order) == before + 1, texts(card))


async def chat_done(teams: Teams, who: str) -> Outcome:
    before = await events(teams, "inform_safeguarding_unit")
    told = said(await teams.say(who, f"done {ORDER} inform safeguarding unit 04/03/2026"))
    return Outcome(await events(teams, "inform_safeguarding_unit") == before + 1, told)


async def chat_event(teams: Teams, who: str) -> Outcome:
    before = await events(teams, "first_cin_meeting")
    told = said(await teams.say(who, f"event {ORDER} first_cin_meeting 09/03/2026"))
    return Outcome(await events(teams, "first_cin_meeting") == before + 1, told)


async def button_done(teams: Teams, who: str) -> Outcome:
    before = await events(teams, "case_summary")
    card = await teams.click(who, "step.done", {"reference": ORDER, "step": "case_summary", "occurrence": 1})
    return Outcome(await events(teams, "case_summary") == before + 1, texts(card))


async def button_done_on(teams: Teams, who: str) -> Outcome:
    before = await events(teams, "case_summary_plan")
    card = await teams.click(who, "step.done_on", {"reference": ORDER, "step": "case_summary_plan", "occurrence": 1,
                                                   "done_on": "2026-03-09"})  # fmt: skip
    return Outcome(await events(teams, "case_summary_plan") == before + 1, texts(card))


async def responses(teams: Teams, kind: str) -> int:
    return await teams.count(models.StepResponse, models.StepResponse.kind == kind)


async def acknowledge(teams: Teams, who: str) -> Outcome:
    before = await responses(teams, "acknowledged")
    card = await teams.click(who, "step.acknowledge", {"reference": ORDER, "step": "nine_month_review"})
    return Outcome(await responses(teams, "acknowledged") == before + 1, texts(card))


async def snooze(teams: Teams, who: str) -> Outcome:
    before = await responses(teams, "snoozed")
    card = await teams.click(who, "step.snooze", {"reference": ORDER, "step": "nine_month_review", "days": 2})
    return Outcome(await responses(teams, "snoozed") == before + 1, texts(card))


async def last_day(teams: Teams) -> date | None:
    async with teams.database.session() as session:
        return await session.scalar(select(models.Order.last_day).where(models.Order.reference == ORDER))


async def extend(teams: Teams, who: str) -> Outcome:
    told = said(await teams.say(who, f"extend {ORDER} to 02/03/2028"))
    return Outcome(await last_day(teams) == date(2028, 3, 2), told)


async def iro_of(teams: Teams, reference: str) -> str | None:
    async with teams.database.session() as session:
        return await session.scalar(
            select(models.Person.email)
            .join(models.Allocation, models.Allocation.iro_id == models.Person.id)
            .join(models.Order, models.Allocation.order_id == models.Order.id)
            .where(models.Order.reference == reference, models.Allocation.active.is_(True))
        )


async def reallocate(teams: Teams, who: str) -> Outcome:
    card = await teams.click(who, "order.allocate", {"reference": ORDER, "iro": "ivy.reviewer@example.gov.uk"})
    return Outcome(await iro_of(teams, ORDER) == "ivy.reviewer@example.gov.uk", texts(card))


async def allocate_in_chat(teams: Teams, who: str) -> Outcome:
    told = said(await teams.say(who, f"allocate {UNALLOCATED} to Ian Reviewer"))
    return Outcome(await iro_of(teams, UNALLOCATED) == "ian.reviewer@example.gov.uk", told)


async def use_channel(teams: Teams, who: str) -> Outcome:
    told = said(await teams.say(who, "<at>sobot</at> use this channel for allocations", CHANNEL))
    chosen = await teams.count(models.ConversationReference, models.ConversationReference.purpose == "allocations")
    return Outcome(chosen == 1, told)


async def end(teams: Teams, who: str) -> Outcome:
    told = said(await teams.say(who, f"end {ORDER} --reason discharged"))
    async with teams.database.session() as session:
        status = await session.scalar(select(models.Order.status).where(models.Order.reference == ORDER))
    return Outcome(status != "open", told)


async def import_people(teams: Teams, who: str) -> Outcome:
    before = await teams.count(models.Person)
    told = said(await teams.say(who, "people import\nname,email,roles\nEve Evil,eve@example.gov.uk,safeguarding_unit"))
    return Outcome(await teams.count(models.Person) != before, told)


# In the order they run for each persona: questions first, then changes, so each sees the order as it was set up.
ACTIONS = [
    Action("my orders", LINKED, my_orders),
    Action("due", LINKED, due),
    Action("overdue", LINKED, overdue),
    Action("view an order", LINKED, view, NOT_LINKED, "order.view"),
    Action("new order form", DIRECTORY, new_order_form),
    Action("create an order", DIRECTORY, submit_order),
    Action("record a step done (chat)", LINKED, chat_done, NOT_LINKED, "event.record"),
    Action("record an event (chat)", LINKED, chat_event, NOT_LINKED, "event.record"),
    Action("mark done (button)", LINKED, button_done, NOT_LINKED, "event.record"),
    Action("done on a date (button)", LINKED, button_done_on, NOT_LINKED, "event.record"),
    Action("acknowledge", LINKED, acknowledge, NOT_LINKED, "step.acknowledge"),
    Action("snooze", LINKED, snooze, NOT_LINKED, "step.snooze"),
    Action("extend", LINKED, extend, NOT_LINKED, "order.extend"),
    Action("reallocate (button)", UNIT, reallocate, ONLY_THE_UNIT, "order.allocate"),
    Action("allocate (chat)", UNIT, allocate_in_chat, ONLY_THE_UNIT, "order.allocate"),
    Action("use this channel for allocations", UNIT, use_channel, ONLY_THE_UNIT, "allocations.channel"),
    # Not offered in Teams to anyone: ending an order and importing people are the administrator's (the CLI).
    Action("end an order", NOBODY, end),
    Action("import people", NOBODY, import_people),
]


async def refusals(teams: Teams, action: str | None = None) -> int:
    where = [models.AuditEntry.outcome == "refused"]
    if action is not None:
        where.append(models.AuditEntry.action == action)
    return await teams.count(models.AuditEntry, *where)


@pytest.fixture
async def two_orders(services: Services) -> None:
    ctx = services.context()
    for child in ("C1", "C2"):
        new = orders.NewOrder(child_local_id=child, child_name=f"Child {child}", order_type="supervision",
                              made=date(2026, 3, 3), social_worker_email="sam.worker@example.gov.uk")  # fmt: skip
        await orders.create_order(ctx, new, CLI)
    await orders.allocate_iro(ctx, ORDER, "ian.reviewer@example.gov.uk", CLI)


@pytest.mark.parametrize("who", PERSONAS, ids=[f"{who}={role.split(':')[0]}" for who, role in PERSONAS.items()])
async def test_each_role_may_do_what_it_should_and_every_refusal_is_audited(
    teams: Teams, two_orders: None, who: str
) -> None:
    failures = []
    for action in ACTIONS:
        allowed = who in action.allowed
        audit_action = "directory.stranger" if who == "nobody" else action.audit
        before_all = await refusals(teams)
        before = await refusals(teams, audit_action) if audit_action else 0
        outcome = await action.run(teams, who)
        written = await refusals(teams) - before_all
        if outcome.took_effect != allowed:
            failures.append(f"{action.name}: {'done' if outcome.took_effect else 'not done'}, told {outcome.told!r}")
            continue
        if allowed:
            if written:
                failures.append(f"{action.name}: allowed, yet {written} refusal(s) audited")
            continue
        if who == "nobody":
            expected_sentence, expected_audit = STRANGER, True
        else:
            expected_sentence, expected_audit = action.refusal, action.audit is not None
        if expected_sentence and expected_sentence not in outcome.told:
            failures.append(f"{action.name}: refused without saying why: {outcome.told!r}")
        if expected_audit:
            assert audit_action is not None
            if written != 1 or await refusals(teams, audit_action) != before + 1:
                failures.append(f"{action.name}: refused, but the audit log has no {audit_action} refusal")
        elif written:
            failures.append(f"{action.name}: {written} refusal(s) audited for an answer that is not a refusal")
    assert failures == [], f"{who} ({PERSONAS[who]}):\n  " + "\n  ".join(failures)


async def test_a_refusal_is_audited_with_who_asked_and_for_which_order(teams: Teams, two_orders: None) -> None:
    await teams.say("sue", f"extend {ORDER} to 02/03/2028")
    await teams.click("sam", "order.allocate", {"reference": ORDER, "iro": "ivy.reviewer@example.gov.uk"})
    await teams.say("nobody", "new order")
    async with teams.database.session() as session:
        rows = (await session.scalars(select(models.AuditEntry).where(models.AuditEntry.outcome == "refused")
                                      .order_by(models.AuditEntry.id))).all()  # fmt: skip
    assert [(r.actor, r.action, r.order_reference) for r in rows] == [
        ("sue.worker@example.gov.uk", "order.extend", ORDER),
        ("sam.worker@example.gov.uk", "order.allocate", ORDER),
        ("teams:29:nobody entra:entra-nobody", "directory.stranger", None),
    ]
    assert rows[-1].details == {"attempt": "message"}
