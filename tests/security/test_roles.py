"""Who may do what, asked two ways: through the Teams turn path, and of the handlers directly with no channel in
between (so a new channel inherits the same answers). Every role the directory knows against every operation it can
reach, each allowed or refused as intended, with the sentence it is told, and every refusal in the audit log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from bot.agent import STRANGER, STRANGER_AUDITED_EVERY
from handlers import absences, conversations, orders, oversight, queries, reminders
from handlers.context import CLI
from rules.clock import FixedClock
from sobot.app import Services
from storage import models
from tests.cards import texts
from tests.security.conftest import Handlers
from tests.teams import Teams

ORDER = "SO-2026-0001"  # Sam's (North), allocated to Ian; Tess is Sam's manager
UNALLOCATED = "SO-2026-0002"  # Sam's too, with no IRO yet
CHANNEL = "19:unit-channel@thread.tacv2"
TODAY = date(2026, 3, 10)

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
# Those who may record any step of the order, whoever owns it: its social worker, their manager, the unit.
ANY_STEP = {"sam", "tess", "una"}

NOT_LINKED = "You are not linked to SO-2026-0001"
NOT_LINKED_UNALLOCATED = "You are not linked to SO-2026-0002"
ONLY_THE_UNIT = "Only members of the Safeguarding Unit"
SOCIAL_WORKERS_STEP = "is the social worker's step on SO-2026-0001: ask the social worker, the team manager or"
IROS_STEP = "is the IRO's step on SO-2026-0001: ask the IRO, the social worker, the team manager or"
BY_ALLOCATING = "is done by allocating an IRO"
ONLY_AN_ADMINISTRATOR = "Only a sobot administrator can end an order"
NOT_AN_OVERSEER = "The oversight figures are for team managers, service managers, Heads of Service"
# Those who may see the oversight figures: team managers (their own team's), and the roles that oversee every order.
OVERSEERS = {"tess", "tom", "una", "sean", "hana", "lee"}


@dataclass(frozen=True)
class Outcome:
    took_effect: bool
    told: str


Teamsway = Callable[[Teams, str], Awaitable[Outcome]]
# None: not a question the handlers take from this persona (they need a directory person a channel has found).
Direct = Callable[[Handlers, str], Awaitable[Outcome | None]]


@dataclass(frozen=True)
class Action:
    name: str
    allowed: set[str]
    teams: Teamsway | None  # None: not offered in Teams
    handlers: Direct | None  # None: a channel's own answer, not an operation's
    refusal: str | None = None  # the sentence a refused person is given
    audit: str | None = None  # the audit action a refusal writes; None where "no" is a scoped answer, not a refusal
    linked: set[str] = frozenset(LINKED)  # type: ignore[assignment]  # those linked to the order it acts on
    refusal_linked: str | None = None  # said instead to someone linked to the order whose role may not do this


def said(bodies: list[dict[str, object]]) -> str:
    return "\n".join(str(b.get("text") or "") + "\n" + texts(b.get("attachments") or []) for b in bodies)


async def events(rig: Teams | Handlers, kind: str) -> int:
    return await rig.count(models.Event, models.Event.kind == kind)


async def chat_effect(teams: Teams, who: str, line: str, seen: str, conversation: str | None = None) -> Outcome:
    told = said(await teams.say(who, line, conversation))
    return Outcome(seen in told, told)


async def my_orders(teams: Teams, who: str) -> Outcome:
    return await chat_effect(teams, who, "my orders", ORDER)


async def due(teams: Teams, who: str) -> Outcome:
    return await chat_effect(teams, who, "due next 30 days", ORDER)


async def overdue(teams: Teams, who: str) -> Outcome:
    return await chat_effect(teams, who, "overdue", ORDER)


async def asked(direct: Handlers, who: str, question: str) -> Outcome | None:
    person = await direct.person(who)
    if person is None:
        return None  # the questions take a directory person, whom a channel has found
    if question == "my orders":
        found = [s.reference for s in await queries.my_orders(direct.ctx, person)]
    else:
        until = None if question == "overdue" else date(2026, 4, 9)
        steps = await queries.due_steps(direct.ctx, person, until=until, overdue_only=question == "overdue")
        found = [s.reference for s in steps]
    return Outcome(ORDER in found, "")


async def my_orders_direct(direct: Handlers, who: str) -> Outcome | None:
    return await asked(direct, who, "my orders")


async def due_direct(direct: Handlers, who: str) -> Outcome | None:
    return await asked(direct, who, "due")


async def overdue_direct(direct: Handlers, who: str) -> Outcome | None:
    return await asked(direct, who, "overdue")


async def view(teams: Teams, who: str) -> Outcome:
    return await chat_effect(teams, who, f"order {ORDER}", "Next steps")


async def view_direct(direct: Handlers, who: str) -> Outcome:
    told = await direct.attempt(orders.get_order(direct.ctx, ORDER, await direct.actor(who)))
    return Outcome(told == "", told)


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


async def submit_order_direct(direct: Handlers, who: str) -> Outcome | None:
    if await direct.person(who) is None:
        return None  # who may send a new order is the channel's to know: Teams' directory, the council's mail
    before = await direct.count(models.Order)
    new = orders.NewOrder(child_local_id=f"C-{who}", child_name="Tom Smith", order_type="supervision",
                          made=date(2026, 3, 3), social_worker_email="sam.worker@example.gov.uk")  # fmt: skip
    told = await direct.attempt(orders.create_order(direct.ctx, new, await direct.actor(who)))
    return Outcome(await direct.count(models.Order) == before + 1, told)


async def recorded(rig: Teams | Handlers, kind: str, attempt: Awaitable[str]) -> Outcome:
    before = await events(rig, kind)
    told = await attempt
    return Outcome(await events(rig, kind) == before + 1, told)


async def say(teams: Teams, who: str, line: str) -> str:
    return said(await teams.say(who, line))


async def click(teams: Teams, who: str, verb: str, data: dict[str, object]) -> str:
    return texts(await teams.click(who, verb, data))


async def chat_done(teams: Teams, who: str) -> Outcome:
    line = f"done {ORDER} inform safeguarding unit 04/03/2026"
    return await recorded(teams, "inform_safeguarding_unit", say(teams, who, line))


async def said_done_direct(direct: Handlers, who: str) -> Outcome:
    actor = await direct.actor(who)
    attempt = orders.record_said(direct.ctx, ORDER, "inform safeguarding unit", date(2026, 3, 4), actor)
    return await recorded(direct, "inform_safeguarding_unit", direct.attempt(attempt))


async def chat_event(teams: Teams, who: str) -> Outcome:
    return await recorded(teams, "first_cin_meeting", say(teams, who, f"event {ORDER} first_cin_meeting 09/03/2026"))


async def event_direct(direct: Handlers, who: str) -> Outcome:
    attempt = orders.record_event(direct.ctx, ORDER, "first_cin_meeting", date(2026, 3, 9), await direct.actor(who))
    return await recorded(direct, "first_cin_meeting", direct.attempt(attempt))


async def iro_step(teams: Teams, who: str) -> Outcome:
    return await recorded(teams, "initial_review", say(teams, who, f"event {ORDER} initial_review 10/03/2026"))


async def iro_step_direct(direct: Handlers, who: str) -> Outcome:
    attempt = orders.record_event(direct.ctx, ORDER, "initial_review", TODAY, await direct.actor(who))
    return await recorded(direct, "initial_review", direct.attempt(attempt))


async def allocation_by_hand(teams: Teams, who: str) -> Outcome:
    line = f"done {UNALLOCATED} allocate iro 10/03/2026"
    return await recorded(teams, "iro_allocated", say(teams, who, line))


async def allocation_by_hand_direct(direct: Handlers, who: str) -> Outcome:
    attempt = orders.record_event(direct.ctx, UNALLOCATED, "allocate_iro", TODAY, await direct.actor(who))
    return await recorded(direct, "iro_allocated", direct.attempt(attempt))


async def button_done(teams: Teams, who: str) -> Outcome:
    data = {"reference": ORDER, "step": "case_summary", "occurrence": 1}
    return await recorded(teams, "case_summary", click(teams, who, "step.done", data))


async def button_done_on(teams: Teams, who: str) -> Outcome:
    data = {"reference": ORDER, "step": "case_summary_plan", "occurrence": 1, "done_on": "2026-03-09"}
    return await recorded(teams, "case_summary_plan", click(teams, who, "step.done_on", data))


async def step_done_direct(direct: Handlers, who: str) -> Outcome:
    attempt = orders.record_event(direct.ctx, ORDER, "case_summary", TODAY, await direct.actor(who))
    return await recorded(direct, "case_summary", direct.attempt(attempt))


async def responses(rig: Teams | Handlers, kind: str) -> int:
    return await rig.count(models.StepResponse, models.StepResponse.kind == kind)


async def acknowledge(teams: Teams, who: str) -> Outcome:
    before = await responses(teams, "acknowledged")
    card = await teams.click(who, "step.acknowledge", {"reference": ORDER, "step": "nine_month_review"})
    return Outcome(await responses(teams, "acknowledged") == before + 1, texts(card))


async def acknowledge_direct(direct: Handlers, who: str) -> Outcome:
    before = await responses(direct, "acknowledged")
    attempt = reminders.acknowledge(direct.ctx, ORDER, "nine_month_review", 1, await direct.actor(who))
    told = await direct.attempt(attempt)
    return Outcome(await responses(direct, "acknowledged") == before + 1, told)


async def snooze(teams: Teams, who: str) -> Outcome:
    before = await responses(teams, "snoozed")
    card = await teams.click(who, "step.snooze", {"reference": ORDER, "step": "nine_month_review", "days": 2})
    return Outcome(await responses(teams, "snoozed") == before + 1, texts(card))


async def snooze_direct(direct: Handlers, who: str) -> Outcome:
    before = await responses(direct, "snoozed")
    told = await direct.attempt(reminders.snooze(direct.ctx, ORDER, "nine_month_review", 1, 2, await direct.actor(who)))
    return Outcome(await responses(direct, "snoozed") == before + 1, told)


async def last_day(rig: Teams | Handlers) -> date | None:
    async with rig.database.session() as session:
        return await session.scalar(select(models.Order.last_day).where(models.Order.reference == ORDER))


async def extend(teams: Teams, who: str) -> Outcome:
    told = said(await teams.say(who, f"extend {ORDER} to 02/03/2028"))
    return Outcome(await last_day(teams) == date(2028, 3, 2), told)


async def extend_direct(direct: Handlers, who: str) -> Outcome:
    told = await direct.attempt(orders.extend_order(direct.ctx, ORDER, date(2028, 3, 2), await direct.actor(who)))
    return Outcome(await last_day(direct) == date(2028, 3, 2), told)


async def iro_of(rig: Teams | Handlers, reference: str) -> str | None:
    async with rig.database.session() as session:
        return await session.scalar(
            select(models.Person.email)
            .join(models.Allocation, models.Allocation.iro_id == models.Person.id)
            .join(models.Order, models.Allocation.order_id == models.Order.id)
            .where(models.Order.reference == reference, models.Allocation.active.is_(True))
        )


async def reallocate(teams: Teams, who: str) -> Outcome:
    card = await teams.click(who, "order.allocate", {"reference": ORDER, "iro": "ivy.reviewer@example.gov.uk"})
    return Outcome(await iro_of(teams, ORDER) == "ivy.reviewer@example.gov.uk", texts(card))


async def reallocate_direct(direct: Handlers, who: str) -> Outcome:
    attempt = orders.allocate_iro(direct.ctx, ORDER, "ivy.reviewer@example.gov.uk", await direct.actor(who))
    told = await direct.attempt(attempt)
    return Outcome(await iro_of(direct, ORDER) == "ivy.reviewer@example.gov.uk", told)


async def allocate_in_chat(teams: Teams, who: str) -> Outcome:
    told = said(await teams.say(who, f"allocate {UNALLOCATED} to Ian Reviewer"))
    return Outcome(await iro_of(teams, UNALLOCATED) == "ian.reviewer@example.gov.uk", told)


async def channels(rig: Teams | Handlers) -> int:
    return await rig.count(models.ConversationReference, models.ConversationReference.purpose == "allocations")


async def use_channel(teams: Teams, who: str) -> Outcome:
    told = said(await teams.say(who, "<at>sobot</at> use this channel for allocations", CHANNEL))
    return Outcome(await channels(teams) == 1, told)


async def use_channel_direct(direct: Handlers, who: str) -> Outcome | None:
    person = await direct.person(who)
    if person is None:
        return None
    await conversations.remember(direct.ctx, conversation_id=CHANNEL, kind="channel", service_url="https://teams",
                                 reference={"conversation": {"id": CHANNEL}}, person=None)  # fmt: skip
    told = await direct.attempt(conversations.use_for_allocations(direct.ctx, CHANNEL, person))
    return Outcome(await channels(direct) == 1, told)


async def status(rig: Teams | Handlers) -> str | None:
    async with rig.database.session() as session:
        return await session.scalar(select(models.Order.status).where(models.Order.reference == ORDER))


async def end(teams: Teams, who: str) -> Outcome:
    told = said(await teams.say(who, f"end {ORDER} --reason discharged"))
    return Outcome(await status(teams) != "open", told)


async def end_direct(direct: Handlers, who: str) -> Outcome:
    told = await direct.attempt(orders.end_order(direct.ctx, ORDER, "discharged", TODAY, await direct.actor(who)))
    return Outcome(await status(direct) != "open", told)


async def import_people(teams: Teams, who: str) -> Outcome:
    before = await teams.count(models.Person)
    told = said(await teams.say(who, "people import\nname,email,roles\nEve Evil,eve@example.gov.uk,safeguarding_unit"))
    return Outcome(await teams.count(models.Person) != before, told)


async def oversight_direct(direct: Handlers, who: str) -> Outcome:
    told = await direct.attempt(oversight.figures(direct.ctx, await direct.actor(who)))
    return Outcome(told == "", told)


async def record_absence(teams: Teams, who: str) -> Outcome:
    before = await teams.count(models.Absence)
    told = said(await teams.say(who, "away for Sam Worker 01/06/2026 to 05/06/2026"))
    return Outcome(await teams.count(models.Absence) != before, told)


async def record_absence_direct(direct: Handlers, who: str) -> Outcome:
    before = await direct.count(models.Absence)
    actor = await direct.actor(who)
    told = await direct.attempt(absences.record_absence(direct.ctx, actor, "sam.worker@example.gov.uk",
                                                        date(2026, 6, 1), date(2026, 6, 5)))  # fmt: skip
    return Outcome(await direct.count(models.Absence) != before, told)


UNALLOCATED_LINKED = LINKED - {"ian"}
# Whose absence Sam's is to record: his own, his manager's, and the unit's.
SAMS_ABSENCE = {"sam", "tess", "una"}

# In the order they run for each persona: questions first, then changes, so each sees the order as it was set up.
ACTIONS = [
    Action("my orders", LINKED, my_orders, my_orders_direct),
    Action("due", LINKED, due, due_direct),
    Action("overdue", LINKED, overdue, overdue_direct),
    Action("view an order", LINKED, view, view_direct, NOT_LINKED, "order.view"),
    Action("new order form", DIRECTORY, new_order_form, None),
    Action("create an order", DIRECTORY, submit_order, submit_order_direct),
    Action("record the social worker's step done (words)", ANY_STEP, chat_done, said_done_direct, NOT_LINKED,
           "event.record", refusal_linked=SOCIAL_WORKERS_STEP),
    Action("record the social worker's step as an event", ANY_STEP, chat_event, event_direct, NOT_LINKED,
           "event.record", refusal_linked=SOCIAL_WORKERS_STEP),
    Action("record the IRO's step", ANY_STEP | {"ian"}, iro_step, iro_step_direct, NOT_LINKED, "event.record",
           refusal_linked=IROS_STEP),
    Action("record an allocation by hand", NOBODY, allocation_by_hand, allocation_by_hand_direct,
           NOT_LINKED_UNALLOCATED, "event.record", UNALLOCATED_LINKED, BY_ALLOCATING),
    Action("mark done (button)", ANY_STEP, button_done, step_done_direct, NOT_LINKED, "event.record",
           refusal_linked=SOCIAL_WORKERS_STEP),
    Action("done on a date (button)", ANY_STEP, button_done_on, None, NOT_LINKED, "event.record",
           refusal_linked=SOCIAL_WORKERS_STEP),
    Action("acknowledge", LINKED, acknowledge, acknowledge_direct, NOT_LINKED, "step.acknowledge"),
    Action("snooze", LINKED, snooze, snooze_direct, NOT_LINKED, "step.snooze"),
    Action("extend", LINKED, extend, extend_direct, NOT_LINKED, "order.extend"),
    Action("reallocate", UNIT, reallocate, reallocate_direct, ONLY_THE_UNIT, "order.allocate"),
    Action("allocate (chat)", UNIT, allocate_in_chat, None, ONLY_THE_UNIT, "order.allocate"),
    Action("use this channel for allocations", UNIT, use_channel, use_channel_direct, ONLY_THE_UNIT,
           "allocations.channel"),
    # Ending an order is the administrator's (the command line); Teams does not offer it, nor importing people.
    Action("end an order (Teams has no such command)", NOBODY, end, None),
    Action("end an order", NOBODY, None, end_direct, ONLY_AN_ADMINISTRATOR, "order.end"),
    Action("import people", NOBODY, import_people, None),
    # The dashboard's page asks the same operation; Teams does not offer the figures.
    Action("see the oversight figures", OVERSEERS, None, oversight_direct, NOT_AN_OVERSEER, "oversight.view"),
    Action("record someone's absence", SAMS_ABSENCE, record_absence, record_absence_direct,
           "You can record only your own absence", "absence.record"),
]  # fmt: skip


async def refusals(rig: Teams | Handlers, action: str | None = None) -> int:
    where = [models.AuditEntry.outcome == "refused"]
    if action is not None:
        where.append(models.AuditEntry.action == action)
    return await rig.count(models.AuditEntry, *where)


@pytest.fixture
async def two_orders(services: Services) -> None:
    ctx = services.context()
    for child in ("C1", "C2"):
        new = orders.NewOrder(child_local_id=child, child_name=f"Child {child}", order_type="supervision",
                              made=date(2026, 3, 3), social_worker_email="sam.worker@example.gov.uk")  # fmt: skip
        await orders.create_order(ctx, new, CLI)
    await orders.allocate_iro(ctx, ORDER, "ian.reviewer@example.gov.uk", CLI)


async def check(rig: Teams | Handlers, who: str, clock: FixedClock | None = None) -> list[str]:
    """Each action the rig offers, as `who`: what it did, what they were told, and what the audit log holds.

    A stranger's attempts in Teams are audited once an hour for each thing asked (bot/agent.py), so with `clock`
    each of theirs is made an hour after the one before.
    """
    through_teams = isinstance(rig, Teams)
    failures = []
    for action in ACTIONS:
        if clock is not None and who == "nobody" and through_teams:
            clock.advance(STRANGER_AUDITED_EVERY)
        allowed = who in action.allowed
        stranger_in_teams = who == "nobody" and through_teams
        audit_action = "directory.stranger" if stranger_in_teams else action.audit
        before_all = await refusals(rig)
        before = await refusals(rig, audit_action) if audit_action else 0
        if isinstance(rig, Teams):
            if action.teams is None:
                continue
            outcome: Outcome | None = await action.teams(rig, who)
        else:
            outcome = await action.handlers(rig, who) if action.handlers is not None else None
        if outcome is None:
            continue
        written = await refusals(rig) - before_all
        if outcome.took_effect != allowed:
            failures.append(f"{action.name}: {'done' if outcome.took_effect else 'not done'}, told {outcome.told!r}")
            continue
        if allowed:
            if written:
                failures.append(f"{action.name}: allowed, yet {written} refusal(s) audited")
            continue
        if stranger_in_teams:
            expected_sentence, expected_audit = STRANGER, True
        else:
            linked = who in action.linked and action.refusal_linked is not None
            expected_sentence = action.refusal_linked if linked else action.refusal
            expected_audit = action.audit is not None
        if expected_sentence and expected_sentence not in outcome.told:
            failures.append(f"{action.name}: refused without saying {expected_sentence!r}: {outcome.told!r}")
        if expected_audit:
            assert audit_action is not None
            if written != 1 or await refusals(rig, audit_action) != before + 1:
                failures.append(f"{action.name}: refused, but the audit log has no {audit_action} refusal")
        elif written:
            failures.append(f"{action.name}: {written} refusal(s) audited for an answer that is not a refusal")
    return failures


WHO = pytest.mark.parametrize("who", PERSONAS, ids=[f"{who}={role.split(':')[0]}" for who, role in PERSONAS.items()])


@WHO
async def test_each_role_through_teams_may_do_what_it_should_and_every_refusal_is_audited(
    teams: Teams, two_orders: None, who: str, clock: FixedClock
) -> None:
    failures = await check(teams, who, clock)
    assert failures == [], f"{who} ({PERSONAS[who]}):\n  " + "\n  ".join(failures)


@WHO
async def test_each_role_asking_the_handlers_directly_gets_the_same_answers(
    direct: Handlers, two_orders: None, who: str
) -> None:
    failures = await check(direct, who)
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
