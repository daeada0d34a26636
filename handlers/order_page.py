"""One order whole, for its page: its facts, steps with their procedure's sections, events, the notifications
about it, its audit trail, and what the person looking may do to it. Looking is itself audited.

The child's full name only to people linked to the order (its social worker, their manager, its IRO); initials to
everyone else the permission table lets see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from handlers import absences, permissions, records
from handlers.context import Actor, Context
from handlers.directory import independent, listed_people
from handlers.kept import Kept
from handlers.orders import BY_OPERATION
from handlers.views import OrderView, order_view
from rules.dates import latest_last_day
from rules.initials import initials
from rules.procedures import Procedure
from storage import models
from storage.order_history import AuditRow, NotificationRow, audit_trail, notifications_about
from storage.people import Listed

VIEWED = "order.view"


@dataclass(frozen=True)
class StepLine:
    key: str
    occurrence: int
    title: str
    owner: str  # in words: "the social worker"
    due: date | None
    preferred_by: date | None
    waiting_on: str | None  # what it waits for, in words
    state: str  # done, open, overdue, waiting, or what else the timeline says (waived, not needed)
    done_on: date | None
    section: str  # "Wirral procedure §4.1(d)"
    recurring: bool  # one of a chain (reviews every so often)
    may_record: bool


@dataclass(frozen=True)
class EventLine:
    kind: str
    title: str
    on: date
    value: str | None


@dataclass(frozen=True)
class Recordable:
    """An event the person may record by hand on this order (its values, when it takes one)."""

    key: str
    title: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class OrderPage:
    order: OrderView  # child_name is initials unless `full_name`
    full_name: bool
    procedure_title: str
    steps: tuple[StepLine, ...]
    events: tuple[EventLine, ...]
    notifications: Sequence[NotificationRow]
    audit: Sequence[AuditRow]
    today: date
    limit: date  # the last day no extension may pass: three years beginning with the day made
    may_record_event: bool
    recordable: tuple[Recordable, ...]
    may_allocate: bool
    iros: tuple[tuple[int, str], ...]  # whom the unit may allocate: active IROs independent of the social worker,
    # by name
    may_extend: bool
    may_end: bool
    # The unit may say whether a step brought in by an import, past its date, was done (handlers/confirm.py).
    may_confirm: bool = False
    iro_away: str | None = None  # its IRO will be away when a step they own is due


def section(procedure: Procedure, source: str) -> str:
    """Where in the council's document a step comes from: "Wirral procedure §4.1(d)" (pure)."""
    name = f"{procedure.id.replace('_', ' ').title()} procedure"
    if not source:
        return name
    return f"{name} {source}" if source.startswith("§") else f"{name}: {source}"


def _state(row: models.Milestone, today: date) -> str:
    if row.state == "open" and row.due is not None and row.due < today:
        return "overdue"
    return row.state


def _owners(procedure: Procedure, key: str) -> set[str]:
    rule = procedure.milestone(key)
    if rule is None:
        return set()
    return {role for role in (rule.owner, rule.owner_first, rule.owner_last) if role}


def _step_lines(procedure: Procedure, rows: Sequence[models.Milestone], today: date,
                standing: permissions.Standing) -> tuple[StepLine, ...]:  # fmt: skip
    known = procedure.event_keys()
    lines = []
    for row in rows:
        rule = procedure.milestone(row.key)
        by_hand = rule is None or rule.completed_by not in BY_OPERATION
        waiting = known[row.waiting_on].title if row.waiting_on and row.waiting_on in known else row.waiting_on
        lines.append(StepLine(
            row.key, row.occurrence, row.title, permissions.ROLE_WORDS.get(row.owner_role, row.owner_role), row.due,
            row.preferred_by, waiting, _state(row, today), row.done_on,
            section(procedure, rule.source) if rule else row.source,
            bool(rule and rule.repeat), by_hand and row.state == "open" and row.due is not None
            and permissions.may_record_step(_owners(procedure, row.key), standing),
        ))  # fmt: skip
    return tuple(sorted(lines, key=lambda s: (s.due is None, s.due or date.max, s.key, s.occurrence)))


def _recordable(procedure: Procedure, standing: permissions.Standing) -> tuple[Recordable, ...]:
    if not permissions.allows("event.record", standing):
        return ()
    return tuple(Recordable(key, event.title, event.values) for key, event in sorted(procedure.events.items())
                 if key not in BY_OPERATION)  # fmt: skip


async def order_page(ctx: Context, reference: str, actor: Actor,
                     kept: Kept[str, list[Listed]] | None = None) -> OrderPage:  # fmt: skip
    """The order's whole page for someone the permission table lets see it (NotAllowed, audited, for anyone else);
    the look is audited, saying whether the child's full name was shown. `kept` keeps the directory's list."""
    today = ctx.today()
    async with permissions.acting_on(ctx, actor, "order.view", reference) as acting:
        session, order, procedure, standing = acting.session, acting.order, acting.procedure, acting.standing
        view = await order_view(ctx, session, order)
        await records.load(session, order, "events")
        full = bool(standing.linked_as)
        steps = _step_lines(procedure, list(order.milestones), today, standing)
        known = procedure.event_keys()
        events = tuple(EventLine(e.kind, known[e.kind].title if e.kind in known else e.kind, e.occurred_on, e.value)
                       for e in sorted(order.events, key=lambda e: (e.occurred_on, e.id)))  # fmt: skip
        may_allocate = view.status == "open" and permissions.allows("order.allocate", standing)
        worker_id = order.social_worker_id
        manager_id = order.social_worker.manager_id if order.social_worker else None
        theirs = [(m.title, m.due) for m in order.milestones
                  if m.owner_role == "iro" and m.state == "open" and m.due is not None and m.due >= today]  # fmt: skip
        iro_away = await absences.iro_away_note(session, view.iro_id, theirs)
        records.audit(session, ctx, actor, VIEWED, view.reference, {"full_name": full})
    iros: tuple[tuple[int, str], ...] = ()
    if may_allocate:
        iros = tuple((p.id, p.name) for p in await listed_people(ctx, kept) if "iro" in p.roles
                     and independent(p.id, worker_id, manager_id) and p.id != view.iro_id)  # fmt: skip
    shown = view if full else replace(view, child_name=initials(view.child_name))
    return OrderPage(
        order=shown, full_name=full, procedure_title=procedure.title, steps=steps, events=events,
        notifications=await notifications_about(ctx.database, view.reference),
        audit=await audit_trail(ctx.database, view.reference), today=today, limit=latest_last_day(view.made),
        may_record_event=permissions.allows("event.record", standing) and view.status == "open",
        recordable=_recordable(procedure, standing) if view.status == "open" else (),
        may_allocate=may_allocate, iros=iros,
        may_extend=view.status == "open" and permissions.allows("order.extend", standing),
        may_end=view.status == "open" and permissions.allows("order.end", standing),
        may_confirm=view.status == "open" and permissions.allows("step.confirm", standing)
        and any(step.state == records.TO_CONFIRM for step in steps), iro_away=iro_away,
    )  # fmt: skip
