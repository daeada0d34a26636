"""The domain operations on orders: create, record events, allocate, extend, end; each audited."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from handlers import permissions, receipts, records, steps
from handlers.context import SYSTEM, Actor, Context
from handlers.directory import PersonView, independent
from handlers.errors import InvalidInput, NotAllowed, RequestError, brief
from handlers.order_form import NewOrder as NewOrder  # the operations' own type; callers name it orders.NewOrder
from handlers.order_form import first_problem, order_problems
from handlers.receipts import Receipt
from handlers.terms import TYPE_NAMES, OrderTerms, extension, order_terms
from handlers.views import OrderView, order_view, ordered, planned_step_view
from rules.initials import initials
from rules.procedures import Procedure
from rules.timeline import Milestone, OrderFacts
from storage import models, statements

# The folder a handled message goes to; the mail channel names it, the receipt remembers it.
PROCESSED = "Processed"

# Events that an operation records as it does its work, never recorded by hand: the operation (its audit action)
# and how to do it, for the sentence that says so.
ALLOCATED = "iro_allocated"
BY_OPERATION = {
    ALLOCATED: ("order.allocate", "allocating an IRO (the Safeguarding Unit: allocate {reference} to NAME)"),
}

END_REASONS = {
    "discharged": "discharged",
    "expired": "expired",
    "replaced": "replaced_by_full_order",
    "replaced_by_full_order": "replaced_by_full_order",
}


class AlreadySaved(Exception):
    """This form was saved already, by another press a moment ago: its order, unchanged."""

    def __init__(self, view: OrderView) -> None:
        super().__init__(view.reference)
        self.view = view


class AlreadyRecorded(RequestError):
    """The order is open already (same child ID, type and day made), by whichever channel it came: its reference."""

    def __init__(self, view: OrderView) -> None:
        super().__init__(
            f"Already recorded as {view.reference}: the {TYPE_NAMES[view.order_type]} for child ID "
            f"{view.child_local_id} made on {view.made:%d %B %Y} is open under that reference, so nothing new was "
            "saved."
        )
        self.view = view


class _Open(Exception):
    def __init__(self, reference: str, form_id: str | None) -> None:
        super().__init__(reference)
        self.reference = reference
        self.form_id = form_id


async def order_for_form(ctx: Context, form_id: str) -> OrderView | None:
    """The order saved from this Teams form, if one was."""
    # Whoever holds the form's id was given the form: it is theirs to see again, whatever the table says.
    async with ctx.database.session() as session:
        reference = await session.scalar(select(models.Order.reference).where(models.Order.form_id == form_id))
        return await order_view(ctx, session, await records.order(session, reference)) if reference else None


async def create_order(
    ctx: Context,
    new: NewOrder,
    actor: Actor,
    receipt: Receipt | None = None,
    sender: PersonView | None = None,
    ask_unit_at: str | None = None,
    filed: Receipt | None = None,
) -> OrderView:
    """Save a new order and its timeline; InvalidInput (nothing written) when the terms cannot stand.

    An open order of the same child ID, type and day made is not saved again: AlreadyRecorded gives it (or
    AlreadySaved, when it came from this same form).

    `sender` is the directory's record of who is saving it, already read: when they are the order's social
    worker (as they usually are), they are not looked up again. With `ask_unit_at` (the unit's mailbox), the
    email asking the unit to allocate an IRO is queued in the outbox with the order, so neither is saved
    without the other. `filed` is the message's own receipt when this order is the last thing the message asks:
    it commits with the order, so the message needs no transaction of its own.
    """
    if not new.child_local_id.strip():
        raise InvalidInput("Give the child's local ID (the council's case number).", "child_local_id")
    if not new.child_name.strip():
        raise InvalidInput("Give the child's name.", "child_name")
    refusal = first_problem(order_problems(new, ctx.today()))
    if refusal is not None:
        raise refusal
    terms = order_terms(new.order_type, new.made, new.commenced, new.months, new.last_day)
    procedure = records.procedure(ctx, new.procedure or ctx.default_procedure)
    if terms.order_type not in procedure.order_types:
        raise InvalidInput(
            f"The {procedure.id} procedure is for {' and '.join(TYPE_NAMES[t] + 's' for t in procedure.order_types)}, "
            f"not a {TYPE_NAMES[terms.order_type]}: choose another procedure.",
            "procedure",
        )
    facts = OrderFacts(terms.order_type, terms.made, terms.commenced, terms.last_day)
    # Worked out before the transaction: the timeline needs only the terms, and writers queue behind the lock.
    timeline = records.first_timeline(ctx, procedure, facts)
    try:
        return await _save(ctx, new, actor, receipt, terms, procedure, timeline, sender, ask_unit_at, filed)
    except _Open as found:
        try:
            view = await get_order(ctx, found.reference, actor)
        except NotAllowed:
            # Its details are for the people linked to it; the one asking learns only that it exists.
            raise InvalidInput(
                f"Already recorded as {found.reference}: an open order for this child ID, type and date made exists, "
                "so nothing new was saved. You are not linked to it: ask the Safeguarding Unit.",
                "child_local_id",
            ) from None
        raise (AlreadySaved(view) if new.form_id and found.form_id == new.form_id else AlreadyRecorded(view)) from None
    except IntegrityError:
        # Two presses of one form at once: the first saved it, this one finds it (any other clash is raised).
        already = await order_for_form(ctx, new.form_id) if new.form_id else None
        if already is None:
            raise
        raise AlreadySaved(already) from None


async def _save(ctx: Context, new: NewOrder, actor: Actor, receipt: Receipt | None, terms: OrderTerms,
                procedure: Procedure, timeline: list[Milestone], sender: PersonView | None,
                ask_unit_at: str | None, filed: Receipt | None) -> OrderView:  # fmt: skip
    # In the mail poller's batch the order is written straight into the batch's transaction, not a savepoint of its
    # own (two statements fewer), so a refusal raised here must leave nothing written: each comes before the first
    # write but two, a known child of another name or birthday and an open order like this one, each of which first
    # gives back the number it took (the child is known already then, so nothing else was written). Any other error
    # spoils the batch, which the poller rolls back and does again without it.
    async with ctx.database.session(own_savepoint=False) as session:
        social_worker = None
        if sender is not None and (new.social_worker_email or "").strip().lower() == sender.email:
            if not sender.has("social_worker"):
                raise _not_a_social_worker(sender.name, sender.email)
            social_worker = records.Named(sender.id, sender.name)
        elif new.social_worker_email:
            found = await records.named_by_email(session, new.social_worker_email, "social worker")
            if "social_worker" not in found.roles:
                raise _not_a_social_worker(found.name, new.social_worker_email.strip().lower())
            social_worker = records.Named(found.id, found.name)
        elif new.social_worker_name:
            social_worker = await records.social_worker_named(session, new.social_worker_name)
        now = ctx.clock.now()
        terms_saved: dict[str, Any] = {
            "order_type": terms.order_type, "made": terms.made, "commenced": terms.commenced,
            "last_day": terms.last_day, "court": new.court.strip(), "other_orders": new.other_orders.strip(),
            "conditions": new.conditions.strip(), "procedure_id": procedure.id, "status": "open", "ended_on": None,
            "end_reason": None, "social_worker_id": social_worker.id if social_worker else None,
            "notes": new.notes.strip(), "created_at": now, "updated_at": now, "form_id": new.form_id,
        }  # fmt: skip
        steps = records.new_steps(timeline, now)
        # A child never seen before has no open order: where the database allows, the order is written with the
        # child and its number, in the same statement.
        child, reference, order_id = await records.child_and_reference(
            session, new.child_local_id.strip(), new.child_name.strip(), new.child_date_of_birth, ctx.today().year,
            terms_saved, steps,
        )  # fmt: skip
        saved = {"reference": reference, "child_id": child.id, **terms_saved}
        if order_id is None:
            # Written unless an open order like it exists, looked for once the year's number is taken: that lock
            # queues a twin saved at the same moment behind this one, so it finds this order rather than another.
            order_id = await statements.add_order_unless_open(session, saved, steps)
        if order_id is None:
            already = (
                await session.execute(records.OPEN_ORDER_LIKE, {"local_id": new.child_local_id.strip(),
                                                               "order_type": terms.order_type, "made": terms.made})
            ).one()  # fmt: skip
            await records.give_back_reference(session, ctx.today().year)
            raise _Open(already.reference, already.form_id)
        if child.lacks_birthday and new.child_date_of_birth:
            await records.fill_birthday(session, child.id, new.child_date_of_birth)
        audit = records.audit_values(
            ctx, actor, "order.create", reference,
            {"procedure": procedure.id, "order_type": terms.order_type, "made": terms.made.isoformat(),
             "last_day": terms.last_day.isoformat()},
        )  # fmt: skip
        written: list[receipts.Written] = []
        if receipt is not None:
            written.append((receipt, "order", PROCESSED, reference))
        if filed is not None:
            written.append((filed, "order", PROCESSED, None))
        if ask_unit_at:
            await receipts.audit_and_ask(session, ctx, audit, order_id, reference, ask_unit_at, written)
        else:
            await session.execute(records.NEW_AUDIT_ENTRY, audit)
            await receipts.add_all(session, ctx, written)
    # The order as just written, without reading it back.
    today = ctx.today()
    return OrderView(
        reference=reference, child_local_id=new.child_local_id.strip(), child_name=child.name,
        child_initials=initials(child.name), order_type=terms.order_type, made=terms.made, commenced=terms.commenced,
        last_day=terms.last_day, procedure_id=procedure.id, status="open", ended_on=None, end_reason=None,
        court=saved["court"], other_orders=saved["other_orders"], conditions=saved["conditions"],
        social_worker=social_worker.name if social_worker else None, iro=None,
        steps=ordered(planned_step_view(step, today) for step in timeline),
        social_worker_id=social_worker.id if social_worker else None, iro_id=None, procedure_title=procedure.title,
    )  # fmt: skip


def _not_a_social_worker(name: str, email: str) -> InvalidInput:
    return InvalidInput(
        f"Social worker: {name} ({email}) is not a social worker in the directory: give the email of the order's "
        "social worker.",
        "social_worker_email",
    )


async def record_event(
    ctx: Context,
    reference: str,
    key: str,
    on: date,
    actor: Actor,
    value: str | None = None,
    details: str | None = None,
) -> OrderView:
    """Record that something the procedure knows happened on `on`; a step's own key marks it done.

    A step is recorded by a role that owns it, or by one the permission table lets record any step; a step done
    by what an operation records (an IRO's allocation) only by that operation.
    """
    async with permissions.acting_on(ctx, actor, "event.record", reference) as acting:
        return await _record(ctx, acting, reference, key, on, actor, value, details)


@dataclass(frozen=True)
class Recorded:
    """What a person's words were taken to name, and the order once it was recorded."""

    order: OrderView
    key: str
    title: str
    value: str | None


async def record_said(ctx: Context, reference: str, words: str, on: date, actor: Actor) -> Recorded:
    """Record the step or event a person's words name ("initial review", "outcome B"), as `record_event` does."""
    async with permissions.acting_on(ctx, actor, "event.record", reference) as acting:
        key, value = steps.step_and_value(acting.procedure, words)
        view = await _record(ctx, acting, reference, key, on, actor, value, None)
        return Recorded(view, key, steps.title(acting.procedure, key), value)


async def _record(ctx: Context, acting: permissions.Acting, reference: str, key: str, on: date, actor: Actor,
                  value: str | None, details: str | None) -> OrderView:  # fmt: skip
    session, order, procedure = acting.session, acting.order, acting.procedure
    known = procedure.event_keys()
    key = key.strip().lower()
    step = procedure.milestone(key)
    if key not in known and step is not None:
        key = step.completed_by  # a step done by another event, e.g. allocate_iro by iro_allocated
    if key not in known:
        raise InvalidInput(f"The {procedure.title} has no step or event {brief(key)!r}. It knows: "
                           f"{steps.names(procedure)}.", "key")  # fmt: skip
    _may_record(acting, key)
    definition = known[key]
    if definition.values:
        match = next((v for v in definition.values if value and v.lower() == value.strip().lower()), None)
        if match is None:
            raise InvalidInput(f"Say which {definition.title.lower()}: one of {', '.join(definition.values)}.", "value")
        value = match
    elif value:
        raise InvalidInput(f"{definition.title} takes no value; record it with just its date.", "value")
    records.check_event_date(ctx, on, order.made)
    rule = procedure.milestone(key) or next((r for r in procedure.milestones if r.completed_by == key), None)
    if rule is not None and rule.repeat is None:
        done = [r for r in order.milestones if r.key == rule.key and r.state == "done"]
        if done:
            raise InvalidInput(
                f"{rule.title} is already recorded as done on {done[0].done_on:%d %B %Y} for {reference}.", "key"
            )
    order.events.append(
        models.Event(kind=key, occurred_on=on, value=value, recorded_by=acting.person, recorded_at=ctx.clock.now(),
                     details=details)
    )  # fmt: skip
    await session.flush()
    await records.materialise(ctx, session, order)
    records.audit(session, ctx, actor, "event.record", reference,
                  {"key": key, "on": on.isoformat(), **({"value": value} if value else {})})  # fmt: skip
    return await order_view(ctx, session, order)


def _may_record(acting: permissions.Acting, key: str) -> None:
    """Refuse recording the event `key` when it is an operation's, or completes a step the person may not record."""
    reference = acting.order.reference
    rules = [r for r in acting.procedure.milestones if r.completed_by == key]
    title = rules[0].title if rules else acting.procedure.event_keys()[key].title
    if key in BY_OPERATION:
        operation, how = BY_OPERATION[key]
        raise permissions.Refused("event.record", reference, f"{title} is done by {how.format(reference=reference)}; "
                                  "it cannot be recorded by hand.", operation)  # fmt: skip
    owners = {role for r in rules for role in (r.owner, r.owner_first, r.owner_last) if role}
    if owners and not permissions.may_record_step(owners, acting.standing):
        whose = " or ".join(sorted(permissions.ROLE_WORDS[role] for role in owners))
        raise permissions.Refused(
            "event.record", reference,
            f"{title} is {whose}'s step on {reference}: ask {permissions.recorders(owners)} to record it.",
            "owner of the step",
        )  # fmt: skip


# The step of a procedure (wirral.toml) that is the unit being told of the order: done when sobot itself tells it.
UNIT_TOLD = "inform_safeguarding_unit"


async def unit_told(ctx: Context, reference: str) -> None:
    """Sobot has told the Safeguarding Unit of this order (its card in the unit's channel, or the email asking for an
    IRO): the procedure's step of telling the unit, where it has one, is done today. Told twice, it stays done once."""
    async with ctx.database.read() as session:
        procedure_id = await session.scalar(
            select(models.Order.procedure_id).where(models.Order.reference == reference)
        )
    if procedure_id is None or records.procedure(ctx, procedure_id).milestone(UNIT_TOLD) is None:
        return
    with suppress(InvalidInput):  # already recorded as done (by a person, or by the other channel's telling)
        await record_event(ctx, reference, UNIT_TOLD, ctx.today(), SYSTEM, details="sobot told the unit")


async def extend_order(
    ctx: Context, reference: str, new_last_day: date, actor: Actor, decided_on: date | None = None
) -> OrderView:
    """Record the court's extension; refused past three years beginning with the day made."""
    async with permissions.acting_on(ctx, actor, "order.extend", reference) as acting:
        session, order, person = acting.session, acting.order, acting.person
        if order.status != "open":
            raise InvalidInput(f"{reference} has ended; an ended order cannot be extended.", "reference")
        extension(order.made, order.last_day, new_last_day)
        order.extensions.append(
            models.OrderExtension(
                previous_last_day=order.last_day, new_last_day=new_last_day,
                decided_on=decided_on or ctx.today(), recorded_by=person, recorded_at=ctx.clock.now(),
            )
        )  # fmt: skip
        previous = order.last_day
        order.last_day = new_last_day
        order.updated_at = ctx.clock.now()
        await session.flush()
        await records.materialise(ctx, session, order)
        records.audit(session, ctx, actor, "order.extend", reference,
                      {"from": previous.isoformat(), "to": new_last_day.isoformat()})  # fmt: skip
        return await order_view(ctx, session, order)


async def end_order(ctx: Context, reference: str, reason: str, on: date, actor: Actor) -> OrderView:
    """End an order (discharged, expired, or an interim order replaced by a full one); open steps are waived."""
    why = END_REASONS.get(reason.strip().lower().replace(" ", "_"))
    if why is None:
        raise InvalidInput("Say why the order ended: discharged, expired or replaced (by a full order).", "reason")
    async with permissions.acting_on(ctx, actor, "order.end", reference) as acting:
        session, order = acting.session, acting.order
        if order.status != "open":
            raise InvalidInput(f"{reference} already ended on {order.ended_on:%d %B %Y}.", "reference")
        if why == "replaced_by_full_order" and order.order_type != "interim_supervision":
            raise InvalidInput("Only an interim order is replaced by a full order.", "reason")
        if on < order.made:
            raise InvalidInput(f"An order cannot end before it was made ({order.made:%d %B %Y}).", "on")
        order.status = "ended"
        order.ended_on = on
        order.end_reason = why
        order.updated_at = ctx.clock.now()
        await session.flush()
        await records.materialise(ctx, session, order)
        records.audit(session, ctx, actor, "order.end", reference, {"reason": why, "on": on.isoformat()})
        return await order_view(ctx, session, order)


async def get_order(ctx: Context, reference: str, actor: Actor) -> OrderView:
    """The order and its steps, for someone the permission table lets see it."""
    async with permissions.acting_on(ctx, actor, "order.view", reference) as acting:
        return await order_view(ctx, acting.session, acting.order)


@dataclass(frozen=True)
class Allocated:
    order: OrderView
    by: str
    at: datetime
    replaced: str | None


async def allocation_now(ctx: Context, reference: str, actor: Actor) -> tuple[OrderView, Allocated | None]:
    """The order and, once it has an IRO, who allocated them and when: for a card showing the allocation as it
    stands, to someone who may see the order."""
    async with permissions.acting_on(ctx, actor, "order.view", reference) as acting:
        session, order = acting.session, acting.order
        view = await order_view(ctx, session, order)
        current = next((a for a in order.allocations if a.active), None)
        if current is None:
            return view, None
        await records.load(session, current, "allocated_by")
        replaced = None
        if current.replaced_iro_id is not None:
            replaced = await session.scalar(
                select(models.Person.name).where(models.Person.id == current.replaced_iro_id)
            )
        by = current.allocated_by.name if current.allocated_by else "sobot's administrator"
        return view, Allocated(view, by, current.allocated_at, replaced)


async def allocate_iro(
    ctx: Context, reference: str, iro: str, actor: Actor, receipt: Receipt | None = None
) -> Allocated:
    """Allocate (or reallocate) the order's IRO, by name or email; only the Safeguarding Unit may."""
    async with permissions.acting_on(ctx, actor, "order.allocate", reference) as acting:
        session, order = acting.session, acting.order
        if order.status != "open":
            raise InvalidInput(f"{reference} has ended; there is no IRO to allocate.", "reference")
        person = await records.iro(session, iro)
        worker = order.social_worker
        if worker is not None and not independent(person.id, worker.id, worker.manager_id):
            whose = "the order's social worker" if person.id == worker.id else f"the manager of {worker.name}"
            raise InvalidInput(
                f"{person.name} is {whose}, so cannot be the IRO for {reference}: an IRO is independent of the "
                "order's social worker and their manager. Choose another IRO.",
                "iro",
            )
        current = next((a for a in order.allocations if a.active), None)
        if current is not None and current.iro_id == person.id:
            raise InvalidInput(f"{person.name} is already the IRO for {reference}.", "iro")
        if current is not None:
            current.active = False
        by = acting.person
        now = ctx.clock.now()
        order.allocations.append(
            models.Allocation(
                iro=person, allocated_by=by, allocated_at=now, active=True,
                replaced_iro_id=current.iro_id if current else None,
            )
        )  # fmt: skip
        procedure = acting.procedure
        if ALLOCATED in procedure.event_keys():
            order.events.append(models.Event(kind=ALLOCATED, occurred_on=ctx.today(), recorded_by=by,
                                             recorded_at=now, details=f"allocated {person.email}"))  # fmt: skip
        order.updated_at = now
        await session.flush()
        await records.materialise(ctx, session, order)
        details = {"iro": person.email}
        if current is not None:
            details["replaced"] = current.iro.email
        records.audit(session, ctx, actor, "order.allocate", reference, details)
        if receipt is not None:
            receipts.add(session, ctx, receipt, "allocation", PROCESSED, order.reference)
        view = await order_view(ctx, session, order)
        return Allocated(view, by.name if by else actor.label, now, current.iro.name if current else None)
