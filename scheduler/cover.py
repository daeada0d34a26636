"""Cover for absence in the outbox: what would go to someone away goes to whoever covers, the unit hears of an IRO
away on a review they chair, and the person back gets one summary of what happened meanwhile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from handlers.directory import independent
from rules.calendar import WorkingCalendar
from rules.cover import Away, away_on, covering, long_day, short_day
from rules.initials import initials
from rules.notices import Notice
from rules.recipients import Recipient
from storage import Database, models
from storage.outbox import Planned, newly_queued, note, queue

# The payload key of a notice sent to someone covering: whose it was, and until when they are away.
COVERING = "covering"
# How long after an absence a summary is still worth sending, should sobot have been down on the day back.
SUMMARY_WITHIN = timedelta(days=30)


@dataclass
class Cover:
    """The absences under way or to come, read once per batch of the planner, and whom each sends notices to."""

    today: date
    away: Sequence[Away]
    people: Mapping[int, models.Person]

    @classmethod
    async def read(cls, session: AsyncSession, today: date, people: Mapping[int, models.Person]) -> Cover:
        found = await session.scalars(
            select(models.Absence).where(models.Absence.cancelled_at.is_(None), models.Absence.last_day >= today)
        )

        def there(person_id: int | None) -> int | None:  # a cover who has left the directory covers nothing
            person = people.get(person_id) if person_id is not None else None
            return person.id if person is not None and person.active else None

        away = [Away(a.id, a.person_id, a.first_day, a.last_day, there(a.cover_id)) for a in found]
        return cls(today, away, people)

    @cached_property
    def managers(self) -> dict[int, int | None]:
        """Each active person's manager, for the notices of someone away with no cover named: read once a batch,
        not once a notice."""
        return {p.id: p.manager_id for p in self.people.values() if p.active}

    def redirect(self, recipient: Recipient) -> tuple[Recipient, dict[str, Any]]:
        """Whom a notice for `recipient` goes to today, and what its row then says of whom it is for."""
        if recipient.person_id is None or not self.away:
            return recipient, {}
        found = covering(recipient.person_id, self.today, self.away, self.managers)
        if found is None:
            return recipient, {}
        holder, absence = self.people[found[0]], found[1]
        absent = self.people[recipient.person_id]
        facts = {"absence": absence.absence_id, "person_id": absent.id, "name": absent.name,
                 "until": absence.last_day.isoformat(), "named": absence.cover_id is not None}  # fmt: skip
        return Recipient(holder.name, holder.email, holder.id), {COVERING: facts}

    def iro_away(self, notice: Notice, step: models.Milestone, iro_id: int | None,
                 social_worker: models.Person | None) -> Planned | None:  # fmt: skip
        """At a reminder of a step the IRO owns, a note to the unit when the IRO is away on its due date, naming
        the IROs it could go to instead (its card's buttons reallocate in one press)."""
        if notice.kind != "reminder" or step.owner_role != "iro" or iro_id is None or step.due is None:
            return None
        absence = away_on(self.away, iro_id, step.due)
        iro = self.people.get(iro_id)
        if absence is None or iro is None:
            return None
        cover = self.people.get(absence.cover_id) if absence.cover_id is not None else None
        covers = f"{cover.name} covers" if cover is not None else "no cover is named"
        which = f" (occurrence {step.occurrence})" if step.occurrence > 1 else ""
        text = (f"{notice.reference}: its IRO, {iro.name}, is away on {long_day(step.due)}, the day “{step.title}”"
                f"{which} is due (away {short_day(absence.first_day)} to {long_day(absence.last_day)}; {covers}). "
                f"If someone else should chair it, reallocate: type “allocate {notice.reference} to NAME”, or use "
                "the order's page.")  # fmt: skip
        key = f"iro-away:{notice.reference}:{step.key}:{step.occurrence}:{absence.absence_id}"
        choices = [[p.name, p.email] for p in self.free_iros(step.due, iro_id, social_worker)]
        return note(key, step.order_id, None, text, iro_id=iro_id, absence=absence.absence_id, step=step.key,
                    due=step.due.isoformat(), reallocate=True, choices=choices)  # fmt: skip

    def free_iros(self, due: date, iro_id: int, social_worker: models.Person | None) -> list[models.Person]:
        """The IROs who could chair a step due on `due` instead of the IRO away: in the directory, not away that
        day, and independent of the order's social worker and their manager (as allocating checks again)."""
        worker, manager = (social_worker.id, social_worker.manager_id) if social_worker else (None, None)
        found = [p for p in self.people.values()
                 if p.active and "iro" in p.roles and p.id != iro_id and away_on(self.away, p.id, due) is None
                 and independent(p.id, worker, manager)]  # fmt: skip
        return sorted(found, key=lambda p: p.name)


async def to_whoever_is_there(session: AsyncSession, planned: Sequence[Planned], today: date) -> list[Planned]:
    """Rows planned for people (a digest), each for someone away today sent instead to whoever covers them."""
    if not any(p.person_id is not None for p in planned):
        return list(planned)
    people = {p.id: p for p in (await session.scalars(select(models.Person))).all()}
    cover = await Cover.read(session, today, people)
    found = []
    for row in planned:
        person = people.get(row.person_id) if row.person_id is not None else None
        if person is not None:
            to, facts = cover.redirect(Recipient(person.name, person.email, person.id))
            if facts:
                row = replace(row, person_id=to.person_id, payload={**row.payload, **facts})
        found.append(row)
    return found


async def redirections(session: AsyncSession, rows: Sequence[models.Notification], today: date) -> dict[int, Planned]:
    """For queued rows (by id) whose person is away today, the row to queue instead for whoever covers them."""
    anyone = await session.scalar(
        select(models.Absence.id).where(models.Absence.cancelled_at.is_(None), models.Absence.first_day <= today,
                                        models.Absence.last_day >= today).limit(1)
    )  # fmt: skip
    if anyone is None:  # the usual day: nobody away, nothing more to read
        return {}
    people = {p.id: p for p in (await session.scalars(select(models.Person))).all()}
    cover = await Cover.read(session, today, people)
    moved = {}
    for row in rows:
        person = people.get(row.person_id) if row.person_id is not None else None
        if person is None:
            continue
        to, facts = cover.redirect(Recipient(person.name, person.email, person.id))
        if facts and to.person_id is not None:
            moved[row.id] = Planned(f"{row.dedupe_key}:to:p{to.person_id}", row.order_id, row.milestone_id, row.kind,
                                    row.role, to.person_id, None, {**row.payload, **facts})  # fmt: skip
    return moved


async def audit_cover(session: AsyncSession, planned: Sequence[Planned], queued: Sequence[int], now: datetime) -> None:
    """An audit line for each notice newly queued for someone covering, and each note of an IRO away."""
    mine = [p for p in planned if COVERING in p.payload or p.dedupe_key.startswith("note:iro-away:")]
    for p, reference in await newly_queued(session, mine, queued):
        if COVERING in p.payload:
            action = "notify.covered"
            details = {**p.payload[COVERING], "cover_id": p.person_id, "kind": p.kind, "role": p.role,
                       "notice": p.dedupe_key}  # fmt: skip
        else:
            action = "notify.iro_away"
            details = {k: v for k, v in p.payload.items() if k != "text"}
        session.add(models.AuditEntry(at=now, actor="system", action=action, outcome="ok", details=details,
                                      order_reference=reference))  # fmt: skip


def back_on(calendar: WorkingCalendar, absence: models.Absence) -> date:
    """The absent person's first working day back."""
    return calendar.on_or_after(absence.last_day + timedelta(days=1))


def summary_key(absence_id: int) -> str:
    return f"back:{absence_id}"


async def plan_returns(database: Database, calendar: WorkingCalendar, today: date, not_before: datetime,
                       now: datetime) -> int:  # fmt: skip
    """On each absent person's first working day back, one note of what was sent for them meanwhile; the number
    queued. The note's key is the absence's, so a later tick (or another replica) never queues it twice."""
    queued = 0
    async with database.session() as session:
        ended = (
            await session.scalars(
                select(models.Absence).where(models.Absence.cancelled_at.is_(None),
                                             models.Absence.last_day < today,
                                             models.Absence.last_day >= today - SUMMARY_WITHIN)
            )
        ).all()  # fmt: skip
        due = [a for a in ended if back_on(calendar, a) <= today]
        if not due:
            return 0
        sent = set(
            await session.scalars(
                select(models.Notification.dedupe_key).where(
                    models.Notification.dedupe_key.in_([f"note:{summary_key(a.id)}" for a in due])
                )
            )
        )
        for absence in due:
            if f"note:{summary_key(absence.id)}" in sent:
                continue
            text = await _summary(session, absence)
            planned = note(summary_key(absence.id), None, absence.person_id, text, absence=absence.id)
            queued += len(await queue(session, [planned], not_before, now))
            session.add(models.AuditEntry(at=now, actor="system", action="absence.summary", order_reference=None,
                                          outcome="ok", details={"absence": absence.id,
                                                                 "person_id": absence.person_id}))  # fmt: skip
    return queued


async def _summary(session: AsyncSession, absence: models.Absence) -> str:
    """What the person back is told: each notice that went to someone else for them, and where its step is now."""
    start = datetime.combine(absence.first_day - timedelta(days=1), time(0), tzinfo=UTC)
    end = datetime.combine(absence.last_day + timedelta(days=2), time(0), tzinfo=UTC)
    rows = (
        await session.execute(
            select(models.Notification, models.Person.name, models.Order.reference, models.Child.name,
                   models.Milestone)
            .join(models.Person, models.Notification.person_id == models.Person.id)
            .outerjoin(models.Order, models.Notification.order_id == models.Order.id)
            .outerjoin(models.Child, models.Order.child_id == models.Child.id)
            .outerjoin(models.Milestone, models.Notification.milestone_id == models.Milestone.id)
            .where(models.Notification.created_at >= start, models.Notification.created_at < end,
                   models.Notification.kind.in_(("reminder", "escalation")))
            .order_by(models.Notification.id)
        )
    ).all()  # fmt: skip
    lines = []
    for notification, cover, reference, child, step in rows:
        facts = notification.payload.get(COVERING)
        if not isinstance(facts, dict) or facts.get("absence") != absence.id:
            continue
        if notification.state in ("cancelled", "superseded"):
            continue
        label = f"{reference} ({initials(child)})" if reference and child else str(reference or "an order")
        what = step.title if step is not None else "a step"
        if step is not None and step.state == "done" and step.done_on is not None:
            now = f"done {short_day(step.done_on)}"
        elif step is not None and step.due is not None:
            now = f"still open, due {long_day(step.due)}"
        else:
            now = "no longer open"
        lines.append(f"- {label}: {what}: {with_kind(notification.kind)} went to {cover}; {now}.")
    head = (f"Welcome back. While you were away ({short_day(absence.first_day)} to {long_day(absence.last_day)}), "
            f"{len(lines) or 'no'} notice{'' if len(lines) == 1 else 's'} went to others for you")  # fmt: skip
    text = head + (":\n" + "\n".join(lines) if lines else ".")
    done = await _done_meanwhile(session, absence)
    if done:
        text += "\nSteps done meanwhile on your orders:\n" + "\n".join(done)
    return text


async def _done_meanwhile(session: AsyncSession, absence: models.Absence) -> list[str]:
    """The steps recorded done while the person was away, on the orders they are the social worker or IRO of."""
    theirs = select(models.Allocation.order_id).where(models.Allocation.iro_id == absence.person_id,
                                                      models.Allocation.active.is_(True))  # fmt: skip
    done_by = aliased(models.Person)
    rows = (
        await session.execute(
            select(models.Milestone, models.Order.reference, models.Child.name, done_by.name)
            .join(models.Order, models.Milestone.order_id == models.Order.id)
            .join(models.Child, models.Order.child_id == models.Child.id)
            .outerjoin(done_by, models.Milestone.done_by_id == done_by.id)
            .where(models.Milestone.state == "done", models.Milestone.done_on >= absence.first_day,
                   models.Milestone.done_on <= absence.last_day,
                   (models.Order.social_worker_id == absence.person_id) | models.Order.id.in_(theirs))
            .order_by(models.Milestone.done_on, models.Milestone.id)
        )
    ).all()  # fmt: skip
    lines = []
    for step, reference, child, by in rows:
        on = f" {short_day(step.done_on)}" if step.done_on is not None else ""
        lines.append(f"- {reference} ({initials(child)}): {step.title}: done{on}"
                     + (f" (recorded by {by})" if by else "") + ".")  # fmt: skip
    return lines


def with_kind(kind: str) -> str:
    return "an escalation" if kind == "escalation" else "a reminder"
