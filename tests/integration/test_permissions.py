"""Every operation checks who may do it itself, with no channel's help, on SQLite and on PostgreSQL: each refuses
someone the table does not allow, audits it and changes nothing; a role outside the order's team is told but may
not act; a step is recorded by its owner, and an allocation only by allocating."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from handlers import orders, people, reminders
from handlers.context import CLI, SYSTEM, Actor, Context
from handlers.errors import NotAllowed, NotFound
from handlers.recipients import recipients
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database, models

STAFF = """name,email,roles,team,manager_email
Tess Manager,tess@example.gov.uk,team_manager,North,
Nina North,nina@example.gov.uk,social_worker,North,tess@example.gov.uk
Wendy West,wendy@example.gov.uk,social_worker,West,
Stan South,stan@example.gov.uk,social_worker,South,
Fay Family,fay@example.gov.uk,family_support_worker,North,
Pat Practice,pat@example.gov.uk,practice_manager,North,
Cora Chair,cora@example.gov.uk,cp_chair,North,
Ian Reviewer,ian@example.gov.uk,iro,IROs,
Una Unit,una@example.gov.uk,safeguarding_unit,Safeguarding,
Hope Head,hope@example.gov.uk,head_of_service,Children's Services,
Lee Legal,lee@example.gov.uk,legal,Legal,
"""
TODAY = date(2026, 3, 10)
NOT_LINKED = "You are not linked to"


def person(name: str) -> Actor:
    return Actor(name.title(), f"{name}@example.gov.uk")


NINA, WENDY, STAN, FAY, PAT, CORA = (person(n) for n in ("nina", "wendy", "stan", "fay", "pat", "cora"))
IAN, UNA, HOPE, LEE, TESS = (person(n) for n in ("ian", "una", "hope", "lee", "tess"))
EVE = person("eve")  # at the council, not in the directory
NAMELESS = Actor("a channel that says nobody")  # no address and not an administrator


@pytest.fixture
async def ctx(database: Database) -> Context:
    context = Context(database, load_builtin(), WorkingCalendar(), FixedClock(datetime(2026, 3, 10, 10, tzinfo=UTC)),
                      "wirral")  # fmt: skip
    await people.import_people(context, STAFF, CLI)
    return context


async def new(ctx: Context, social_worker: str, procedure: str = "wirral") -> str:
    made = orders.NewOrder(f"C-{social_worker}-{procedure}", f"Child {social_worker.title()}", "supervision",
                           date(2026, 3, 3), procedure=procedure,
                           social_worker_email=f"{social_worker}@example.gov.uk")  # fmt: skip
    return (await orders.create_order(ctx, made, CLI)).reference


async def refusals(ctx: Context) -> list[tuple[str, str, str | None]]:
    async with ctx.database.session() as session:
        rows = await session.execute(
            select(models.AuditEntry.actor, models.AuditEntry.action, models.AuditEntry.order_reference)
            .where(models.AuditEntry.outcome == "refused")
            .order_by(models.AuditEntry.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def state(ctx: Context) -> tuple[Any, ...]:
    """Everything an operation on an order could change, to show a refused one changed nothing."""
    async with ctx.database.session() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(model))
            for model in (models.Event, models.Allocation, models.OrderExtension, models.StepResponse)
        ]
        orders_now = (await session.execute(select(models.Order.last_day, models.Order.status))).all()
        steps = (await session.execute(select(models.Milestone.key, models.Milestone.state))).all()
    return tuple(counts), sorted(map(tuple, orders_now)), sorted(map(tuple, steps))


Operation = Callable[[Context, str, Actor], Awaitable[object]]

# Each operation on an order that a person may ask for, by the audit action its refusal writes.
OPERATIONS: dict[str, Operation] = {
    "order.view": lambda ctx, ref, who: orders.get_order(ctx, ref, who),
    "event.record": lambda ctx, ref, who: orders.record_event(ctx, ref, "case_summary", TODAY, who),
    "event.record (words)": lambda ctx, ref, who: orders.record_said(ctx, ref, "case summary", TODAY, who),
    "step.acknowledge": lambda ctx, ref, who: reminders.acknowledge(ctx, ref, "case_summary", 1, who),
    "step.snooze": lambda ctx, ref, who: reminders.snooze(ctx, ref, "case_summary", 1, 2, who),
    "order.extend": lambda ctx, ref, who: orders.extend_order(ctx, ref, date(2028, 3, 2), who),
    "order.end": lambda ctx, ref, who: orders.end_order(ctx, ref, "discharged", TODAY, who),
    "order.allocate": lambda ctx, ref, who: orders.allocate_iro(ctx, ref, "Ian Reviewer", who),
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("who", [WENDY, EVE, NAMELESS], ids=["another-teams-worker", "stranger", "nameless"])
async def test_each_operation_refuses_someone_not_linked_and_changes_nothing(
    ctx: Context, operation: str, who: Actor
) -> None:
    reference = await new(ctx, "nina")
    before = await state(ctx)
    with pytest.raises(NotAllowed) as refused:
        await OPERATIONS[operation](ctx, reference, who)
    assert await state(ctx) == before
    action = operation.split()[0]
    assert await refusals(ctx) == [(who.label, action, reference)]
    if action not in ("order.end", "order.allocate"):
        assert str(refused.value).startswith(f"{NOT_LINKED} {reference}: only its social worker")


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("actor", [CLI, SYSTEM], ids=["cli", "system"])
async def test_the_command_line_and_sobots_jobs_are_administrators(ctx: Context, operation: str, actor: Actor) -> None:
    reference = await new(ctx, "nina")
    if operation in ("step.acknowledge", "step.snooze"):
        # Permitted, but a reminder is answered by a person, and a channel acting for the council is nobody's.
        with pytest.raises(NotFound, match="There is no person with the email"):
            await OPERATIONS[operation](ctx, reference, actor)
    else:
        await OPERATIONS[operation](ctx, reference, actor)
    assert await refusals(ctx) == []


async def test_a_role_outside_the_orders_team_is_told_of_its_steps_but_may_not_act_on_it(ctx: Context) -> None:
    west, south, north = [await new(ctx, who, "sussex") for who in ("wendy", "stan", "nina")]
    # West and South have no family support worker or practice manager: North's are told of their steps ...
    assert [r.email for r in await recipients(ctx, west, "family_support_worker")] == ["fay@example.gov.uk"]
    assert [r.email for r in await recipients(ctx, south, "practice_manager")] == ["pat@example.gov.uk"]
    # ... but may not see, record on or extend them.
    for reference in (west, south):
        for actor, step in ((FAY, "family_support_plan_agreed"), (PAT, "pm_family_review")):
            before = await state(ctx)
            for attempt in (
                orders.get_order(ctx, reference, actor),
                orders.record_event(ctx, reference, step, TODAY, actor),
                orders.extend_order(ctx, reference, date(2028, 3, 2), actor),
            ):
                with pytest.raises(NotAllowed, match=f"{NOT_LINKED} {reference}"):
                    await attempt
            assert await state(ctx) == before
    assert len(await refusals(ctx)) == 12
    # Being told, they may answer what they are sent: acknowledging quiets only their own reminders.
    await reminders.acknowledge(ctx, west, "family_support_plan_agreed", 1, FAY)
    await reminders.snooze(ctx, south, "family_support_plan_agreed", 1, 2, FAY)
    # Once West has a family support worker of its own, North's is no longer told, and may not answer either.
    await people.import_people(ctx, "name,email,roles,team\nWill West,will@example.gov.uk,family_support_worker,West\n",
                               CLI)  # fmt: skip
    assert [r.email for r in await recipients(ctx, west, "family_support_worker")] == ["will@example.gov.uk"]
    with pytest.raises(NotAllowed, match=f"{NOT_LINKED} {west}"):
        await reminders.snooze(ctx, west, "family_support_plan_agreed", 1, 2, FAY)
    # In their own team they may, each on the step it owns.
    assert (await orders.get_order(ctx, north, FAY)).reference == north
    done = await orders.record_event(ctx, north, "family_support_plan_agreed", TODAY, FAY)
    assert next(s for s in done.steps if s.key == "family_support_plan_agreed").state == "done"
    await orders.record_event(ctx, north, "pm_family_review", TODAY, PAT)
    # The oversight roles see every order, whoever's team it is.
    for actor in (UNA, HOPE, LEE):
        assert (await orders.get_order(ctx, west, actor)).reference == west


async def test_a_cp_chair_acts_on_their_own_teams_orders_only(ctx: Context) -> None:
    south, north = await new(ctx, "stan", "leicestershire"), await new(ctx, "nina", "leicestershire")
    assert [r.email for r in await recipients(ctx, south, "cp_chair")] == ["cora@example.gov.uk"]
    with pytest.raises(NotAllowed, match=f"{NOT_LINKED} {south}"):
        await orders.get_order(ctx, south, CORA)
    with pytest.raises(NotAllowed, match=f"{NOT_LINKED} {south}"):
        await orders.extend_order(ctx, south, date(2028, 3, 2), CORA)
    assert (await orders.get_order(ctx, north, CORA)).reference == north
    # A procedure that gives the role no step gives it no orders, even in its team.
    with pytest.raises(NotAllowed, match=NOT_LINKED):
        await orders.get_order(ctx, await new(ctx, "nina"), CORA)


async def test_the_unit_s_allocation_step_is_done_only_by_allocating(ctx: Context) -> None:
    reference = await new(ctx, "nina")
    for actor in (NINA, TESS, UNA, CLI):
        for attempt in (
            orders.record_said(ctx, reference, "allocate iro", TODAY, actor),
            orders.record_event(ctx, reference, "allocate_iro", TODAY, actor),
            orders.record_event(ctx, reference, "iro_allocated", TODAY, actor),
        ):
            with pytest.raises(NotAllowed, match=f"is done by allocating an IRO .*allocate {reference} to NAME"):
                await attempt
    view = await orders.get_order(ctx, reference, NINA)
    # Still open, so the unit's reminders and escalations about it go on.
    assert next(s for s in view.steps if s.key == "allocate_iro").state == "open"
    assert {action for _, action, _ in await refusals(ctx)} == {"event.record"}
    allocated = await orders.allocate_iro(ctx, reference, "Ian Reviewer", UNA)
    assert next(s for s in allocated.order.steps if s.key == "allocate_iro").state == "done"


async def test_a_step_is_recorded_by_its_owner_or_by_those_who_may_record_any(ctx: Context) -> None:
    reference = await new(ctx, "nina")
    await orders.allocate_iro(ctx, reference, "Ian Reviewer", UNA)
    # The IRO records the IRO's steps, not the social worker's; Legal and the Head of Service neither.
    await orders.record_event(ctx, reference, "initial_review", TODAY, IAN)
    for actor in (IAN, LEE, HOPE):
        with pytest.raises(NotAllowed, match=f"is the social worker's step on {reference}: ask the social worker"):
            await orders.record_event(ctx, reference, "case_summary", TODAY, actor)
    # The Head of Service records the outcome they own; the social worker, their manager and the unit any step.
    await orders.record_event(ctx, reference, "first_cin_meeting", TODAY, NINA)
    await orders.record_event(ctx, reference, "case_summary", TODAY, TESS)
    await orders.record_event(ctx, reference, "case_summary_plan", TODAY, UNA)
    with pytest.raises(NotAllowed, match="the Head of Service's step"):
        await orders.record_event(ctx, reference, "outcome", TODAY, IAN, value="A")
    await orders.record_event(ctx, reference, "outcome", TODAY, HOPE, value="A")
    async with ctx.database.session() as session:
        recorded = (await session.execute(select(models.Event.kind, models.Person.email).join(models.Event.recorded_by)
                                          .order_by(models.Event.id))).all()  # fmt: skip
    assert [tuple(r) for r in recorded] == [
        ("iro_allocated", "una@example.gov.uk"), ("initial_review", "ian@example.gov.uk"),
        ("first_cin_meeting", "nina@example.gov.uk"), ("case_summary", "tess@example.gov.uk"),
        ("case_summary_plan", "una@example.gov.uk"), ("outcome", "hope@example.gov.uk"),
    ]  # fmt: skip
    assert len(await refusals(ctx)) == 4
