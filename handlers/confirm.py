"""The steps imported past their date that wait for the Safeguarding Unit to say done (with a date) or outstanding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from handlers import permissions, records, steps
from handlers.context import Actor, Context
from handlers.errors import InvalidInput, NotAllowed
from rules.initials import initials
from storage import models

ACTION = "step.confirm"


@dataclass(frozen=True)
class ToConfirm:
    """One line of the unit's checklist: a step of an imported order nobody has said was done."""

    reference: str
    council_reference: str | None
    child_initials: str
    key: str
    occurrence: int
    title: str
    due: date | None


async def checklist(ctx: Context, actor: Actor) -> list[ToConfirm]:
    """Every step waiting to be confirmed, the oldest first; for those who may confirm them."""
    async with ctx.database.read() as session:
        person = await records.actor_person(session, actor)
    if not actor.administrator and (person is None or not person.active
                                    or not permissions.may_everywhere(person.roles, ACTION)):  # fmt: skip
        refused = permissions.Refused(ACTION, None, permissions.refusal(ACTION, None), permissions.NEEDS[ACTION])
        await permissions.audit_refusal(ctx, actor, refused)
        raise NotAllowed(refused.sentence)
    async with ctx.database.read() as session:
        found = await session.execute(
            select(models.Order.reference, models.Order.council_reference, models.Child.name, models.Milestone.key,
                   models.Milestone.occurrence, models.Milestone.title, models.Milestone.due)
            .join(models.Order, models.Order.id == models.Milestone.order_id)
            .join(models.Child, models.Child.id == models.Order.child_id)
            .where(models.Milestone.state == records.TO_CONFIRM, models.Order.status == "open")
            .order_by(models.Milestone.due, models.Order.reference, models.Milestone.key)
        )  # fmt: skip
        return [ToConfirm(r, c, initials(name), k, o, t, d) for r, c, name, k, o, t, d in found]


async def confirm_step(
    ctx: Context, reference: str, words: str, actor: Actor, done_on: date | None, occurrence: int | None = None
) -> ToConfirm:
    """The unit says an imported step was done on `done_on` (recorded as its event), or, with no date, that it is
    outstanding (reminded and escalated from now as any open step). The step is named by its key or its words."""
    async with permissions.acting_on(ctx, actor, ACTION, reference) as acting:
        session, order, procedure = acting.session, acting.order, acting.procedure
        key, _ = steps.step_and_value(procedure, words)
        waiting = sorted(
            (m for m in order.milestones if m.key == key and m.state == records.TO_CONFIRM),
            key=lambda m: m.occurrence,
        )
        if occurrence is not None:
            waiting = [m for m in waiting if m.occurrence == occurrence]
        if not waiting:
            title = steps.title(procedure, key)
            raise InvalidInput(f"{title} has nothing to confirm on {order.reference}: only steps brought in by an "
                               "import, past their date with nothing recorded, are confirmed.", "key")  # fmt: skip
        row = waiting[0]
        now = ctx.clock.now()
        if done_on is None:
            row.state = "open"
            row.updated_at = now
            details: dict[str, object] = {"key": key, "occurrence": row.occurrence, "outstanding": True}
        else:
            records.check_event_date(ctx, done_on, order.made)
            rule = procedure.milestone(key)
            completion = rule.completed_by if rule else key
            definition = procedure.event_keys().get(completion)
            if definition is not None and definition.values:
                raise InvalidInput(f"{row.title} is recorded with its outcome: record it with sobot event "
                                   f"{order.reference} {completion} DATE --value VALUE.", "key")  # fmt: skip
            order.events.append(models.Event(kind=completion, occurred_on=done_on, recorded_by=acting.person,
                                             recorded_at=now, details="confirmed done after import"))  # fmt: skip
            row.state = "open"  # the timeline now says done, from the event
            await session.flush()
            await records.materialise(ctx, session, order)
            details = {"key": key, "occurrence": row.occurrence, "done_on": done_on.isoformat()}
        await session.flush()
        records.audit(session, ctx, actor, ACTION, order.reference, details)
        await records.load(session, order, "child")
        return ToConfirm(order.reference, order.council_reference, initials(order.child.name), key, row.occurrence,
                         row.title, row.due)  # fmt: skip
