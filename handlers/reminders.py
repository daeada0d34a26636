"""Answers to a reminder about a step: acknowledge it (a hold of some working days), or snooze it for some days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select

from handlers import permissions, records
from handlers.context import Actor, Context
from handlers.errors import InvalidInput, NotFound, brief
from handlers.orders import BY_OPERATION
from rules.initials import initials
from storage import models

SNOOZE_DAYS = (1, 2, 5)


@dataclass(frozen=True)
class Response:
    reference: str
    title: str
    kind: str
    until: date | None


def _open_step(acting: permissions.Acting, key: str, occurrence: int) -> models.Milestone:
    order = acting.order
    step = next((m for m in order.milestones if m.key == key and m.occurrence == occurrence), None)
    if step is None:
        raise NotFound(f"{order.reference} has no step {brief(key)!r} ({occurrence}): open the order with "
                       f"`order {order.reference}` to see its steps.")  # fmt: skip
    if step.state != "open":
        raise InvalidInput(f"{step.title} on {order.reference} is {step.state}: there is nothing to answer.")
    return step


async def acknowledge(ctx: Context, reference: str, key: str, occurrence: int, actor: Actor) -> Response:
    """Record that this person has seen the step: their notices about it pause for the procedure's working days
    (the settings' when it names none), then resume while the step is still open.

    An acknowledgement is not a step done: a child's review still has to happen, so it quiets a person for a
    while and never for good.
    """
    async with permissions.acting_on(ctx, actor, "step.acknowledge", reference) as acting:
        session, order = acting.session, acting.order
        step = _open_step(acting, key, occurrence)
        until = ctx.calendar.add_working_days(ctx.today(), ctx.acknowledgement_holds(acting.procedure))
        # The planner looks at the step again the working day the hold ends, to tell the person again if the
        # chain has nothing more for them (scheduler/outbox.py).
        step.notify_on = min(step.notify_on, ctx.calendar.on_or_after(until + timedelta(days=1)))
        person = await records.person_by_email(session, actor.email or "", "person")
        session.add(models.StepResponse(milestone_id=step.id, person_id=person.id, kind="acknowledged", until=until,
                                        at=ctx.clock.now()))  # fmt: skip
        records.audit(session, ctx, actor, "step.acknowledge", order.reference,
                      {"step": key, "occurrence": occurrence, "until": until.isoformat()})  # fmt: skip
        return Response(order.reference, step.title, "acknowledged", until)


async def snooze(ctx: Context, reference: str, key: str, occurrence: int, days: int, actor: Actor) -> Response:
    """Quiet this person's reminders for the step for 1, 2 or 5 working days, never past the order's last day."""
    if days not in SNOOZE_DAYS:
        raise InvalidInput(f"Snooze for {', '.join(map(str, SNOOZE_DAYS))} working days.", "days")
    async with permissions.acting_on(ctx, actor, "step.snooze", reference) as acting:
        session, order = acting.session, acting.order
        step = _open_step(acting, key, occurrence)
        until = min(ctx.calendar.add_working_days(ctx.today(), days), order.last_day)
        person = await records.person_by_email(session, actor.email or "", "person")
        session.add(models.StepResponse(milestone_id=step.id, person_id=person.id, kind="snoozed", until=until,
                                        at=ctx.clock.now()))  # fmt: skip
        records.audit(session, ctx, actor, "step.snooze", order.reference,
                      {"step": key, "occurrence": occurrence, "until": until.isoformat()})  # fmt: skip
        return Response(order.reference, step.title, "snoozed", until)


@dataclass(frozen=True)
class StepNow:
    """A step as it stands now, for a reminder opened again: done or not, by whom and when, and how the person
    looking last answered it."""

    reference: str
    initials: str
    title: str
    key: str
    occurrence: int
    due: date | None
    state: str  # open, waiting, done or waived
    done_on: date | None
    done_by: str | None
    # Done by an operation (allocating an IRO) rather than by being recorded: the reminder offers that instead.
    by_operation: str | None
    answered: str | None  # this person's latest answer: acknowledged or snoozed
    until: date | None


async def step_now(ctx: Context, reference: str, key: str, occurrence: int, actor: Actor) -> StepNow:
    """The step as it stands, for anyone who may answer its reminders; NotFound for a step the order lacks."""
    async with permissions.acting_on(ctx, actor, "step.acknowledge", reference) as acting:
        session, order = acting.session, acting.order
        step = next((m for m in order.milestones if m.key == key and m.occurrence == occurrence), None)
        if step is None:
            raise NotFound(f"{order.reference} has no step {brief(key)!r} ({occurrence}): open the order with "
                           f"`order {order.reference}` to see its steps.")  # fmt: skip
        done_by = None
        if step.done_by_id is not None:
            done_by = await session.scalar(select(models.Person.name).where(models.Person.id == step.done_by_id))
        answer = None
        if acting.person is not None:
            answer = await session.scalar(
                select(models.StepResponse)
                .where(models.StepResponse.milestone_id == step.id, models.StepResponse.person_id == acting.person.id)
                .order_by(models.StepResponse.id.desc())
            )
        rule = acting.procedure.milestone(key)
        completion = rule.completed_by if rule is not None else None
        operation = BY_OPERATION[completion][0] if completion in BY_OPERATION else None
        await records.load(session, order, "child")
        return StepNow(order.reference, initials(order.child.name), step.title, step.key, step.occurrence, step.due,
                       step.state, step.done_on, done_by, operation, answer.kind if answer else None,
                       answer.until if answer else None)  # fmt: skip
