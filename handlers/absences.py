"""Absences: a person, their manager or the unit records who is away, from when to when, and who covers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from handlers import records
from handlers.context import SYSTEM, Actor, Context
from handlers.errors import Ambiguous, InvalidInput, NotAllowed, NotFound, brief
from handlers.permissions import NEEDS, Refused, absence_standing, allows, audit_refusal, refusal
from rules.cover import AutomaticReplies, Away, covering, days_away, for_whom, long_day
from rules.names import cleaned, meant
from storage import models

RECORDED = "recorded"
AUTOMATIC_REPLIES = "automatic_replies"
ACTION = "absence.record"


@dataclass(frozen=True)
class AbsenceView:
    """An absence as people are shown it."""

    id: int
    name: str
    email: str
    first_day: date
    last_day: date
    cover_name: str | None
    cover_email: str | None
    source: str
    recorded_by: str
    person_id: int
    cancelled: bool = False

    @property
    def words(self) -> str:
        """ "Megan Bowen is away Fri 14 Aug 2026 to Fri 28 Aug 2026; Jane Smith covers."."""
        covers = f"{self.cover_name} covers" if self.cover_name else "no cover is named, so their team manager is told"
        where = " (from their Outlook automatic replies)" if self.source == AUTOMATIC_REPLIES else ""
        return f"{self.name} is away {long_day(self.first_day)} to {long_day(self.last_day)}{where}; {covers}."


def view(absence: models.Absence) -> AbsenceView:
    cover = absence.cover
    return AbsenceView(absence.id, absence.person.name, absence.person.email, absence.first_day, absence.last_day,
                       cover.name if cover else None, cover.email if cover else None, absence.source,
                       absence.recorded_by, absence.person_id, absence.cancelled_at is not None)  # fmt: skip


async def someone(session: AsyncSession, typed: str, what: str) -> models.Person:
    """The active person a typed name or email means; refused, in a sentence naming `what`, when none or several."""
    people = (await session.scalars(select(models.Person).where(models.Person.active.is_(True)))).all()
    matches = [people[i] for i in meant(typed, [(i, p.name, p.email) for i, p in enumerate(people)])]
    shown = brief(cleaned(typed) or typed.strip())
    if not matches:
        raise NotFound(f"{what}: there is nobody called {shown!r} in the directory: give their full name or email, "
                       "or ask an administrator to add them (sobot people import).")  # fmt: skip
    if len(matches) > 1:
        both = " or ".join(f"{p.name} ({p.email})" for p in matches)
        raise Ambiguous(f"{what}: {shown!r} could be {both}: give the full name or email.", what.lower(),
                        tuple((p.name, p.email) for p in matches))  # fmt: skip
    return matches[0]


# An absence is shown with whose it is and who covers.
_LOADED = (selectinload(models.Absence.person), selectinload(models.Absence.cover))


async def _overlapping(
    session: AsyncSession, person_id: int, first: date, last: date, other_than: int | None = None
) -> models.Absence | None:
    """This person's absence (not cancelled) that shares a day with first…last, other than `other_than`."""
    found = await session.scalars(
        select(models.Absence).where(models.Absence.person_id == person_id, models.Absence.cancelled_at.is_(None),
                                     models.Absence.first_day <= last, models.Absence.last_day >= first)
        .order_by(models.Absence.first_day)
    )  # fmt: skip
    return next((a for a in found if a.id != other_than), None)


def _check_days(ctx: Context, first: date, last: date, ending: bool = False) -> None:
    if last < first and not (ending and last == first - timedelta(days=1)):
        raise InvalidInput(f"The last day away ({long_day(last)}) is before the first ({long_day(first)}): give "
                           "the first day, then the last.", "last_day")  # fmt: skip
    if last < ctx.today() and not ending:
        raise InvalidInput(f"The last day away ({long_day(last)}) has passed already: give an absence that is still "
                           "to come or under way.", "last_day")  # fmt: skip


async def _check_cover(session: AsyncSession, absent: models.Person, cover: models.Person | None, first: date,
                       last: date) -> None:  # fmt: skip
    if cover is None:
        return
    if cover.id == absent.id:
        raise InvalidInput(f"{absent.name} cannot cover their own absence: name someone else, or name no cover and "
                           "their team manager is told.", "cover")  # fmt: skip
    theirs = await _overlapping(session, cover.id, first, last)
    if theirs is not None:
        raise InvalidInput(f"{cover.name} is away themselves from {long_day(theirs.first_day)} to "
                           f"{long_day(theirs.last_day)}: name someone else to cover.", "cover")  # fmt: skip


async def _permitted(ctx: Context, session: AsyncSession, actor: Actor, absent: models.Person) -> Refused | None:
    person = await records.actor_person(session, actor)
    if allows(ACTION, absence_standing(person, absent, actor.administrator)):
        return None
    return Refused(ACTION, None, refusal(ACTION, None), NEEDS[ACTION])


async def _refuse(ctx: Context, actor: Actor, refused: Refused) -> NotAllowed:
    await audit_refusal(ctx, actor, refused)
    return NotAllowed(refused.sentence)


async def record_absence(ctx: Context, actor: Actor, who: str, first: date, last: date, cover: str | None = None,
                         source: str = RECORDED) -> AbsenceView:  # fmt: skip
    """Record that `who` (a name or email) is away from `first` to `last`, covered by `cover` (none: their manager)."""
    _check_days(ctx, first, last)
    async with ctx.database.session() as session:
        absent = await someone(session, who, "Who is away")
        refused = await _permitted(ctx, session, actor, absent)
        if refused is None:
            covering = await someone(session, cover, "Cover") if cover else None
            await _check_cover(session, absent, covering, first, last)
            already = await _overlapping(session, absent.id, first, last)
            if already is not None:
                raise InvalidInput(f"{absent.name} is already recorded away from {long_day(already.first_day)} to "
                                   f"{long_day(already.last_day)}: change or cancel that absence instead.",
                                   "first_day")  # fmt: skip
            now = ctx.clock.now()
            absence = models.Absence(person_id=absent.id, first_day=first, last_day=last,
                                     cover_id=covering.id if covering else None, recorded_by=actor.label,
                                     source=source, recorded_at=now, updated_at=now)  # fmt: skip
            session.add(absence)
            await session.flush()
            records.audit(session, ctx, actor, "absence.record", None, _details(absence, absent, covering))
            absence.person, absence.cover = absent, covering
            return view(absence)
    raise await _refuse(ctx, actor, refused)


async def change_absence(ctx: Context, actor: Actor, absence_id: int, first: date, last: date,
                         cover: str | None = None, *, ending: bool = False) -> AbsenceView:  # fmt: skip
    """Change an absence's days and cover (none: their team manager is told); `ending` it yesterday is allowed."""
    _check_days(ctx, first, last, ending)
    async with ctx.database.session() as session:
        absence = await _absence(session, absence_id)
        refused = await _permitted(ctx, session, actor, absence.person)
        if refused is None:
            covering = await someone(session, cover, "Cover") if cover else None
            await _check_cover(session, absence.person, covering, first, last)
            already = await _overlapping(session, absence.person_id, first, last, other_than=absence.id)
            if already is not None:
                raise InvalidInput(f"{absence.person.name} is already recorded away from "
                                   f"{long_day(already.first_day)} to {long_day(already.last_day)}: change or "
                                   "cancel that absence instead.", "first_day")  # fmt: skip
            before = {"first_day": absence.first_day.isoformat(), "last_day": absence.last_day.isoformat(),
                      "cover_id": absence.cover_id}  # fmt: skip
            absence.first_day, absence.last_day = first, last
            absence.cover_id, absence.cover = (covering.id if covering else None), covering
            absence.updated_at = ctx.clock.now()
            records.audit(session, ctx, actor, "absence.change", None,
                          {**_details(absence, absence.person, covering), "before": before})  # fmt: skip
            return view(absence)
    raise await _refuse(ctx, actor, refused)


async def cancel_absence(ctx: Context, actor: Actor, absence_id: int) -> AbsenceView:
    """Cancel an absence: from now, what is sent goes to the person again. It stays on record, as cancelled."""
    async with ctx.database.session() as session:
        absence = await _absence(session, absence_id)
        refused = await _permitted(ctx, session, actor, absence.person)
        if refused is None:
            absence.cancelled_at = absence.updated_at = ctx.clock.now()
            records.audit(session, ctx, actor, "absence.cancel", None,
                          _details(absence, absence.person, absence.cover))  # fmt: skip
            return view(absence)
    raise await _refuse(ctx, actor, refused)


async def back(ctx: Context, actor: Actor, who: str) -> AbsenceView:
    """`who` is back today: their absence under way ends yesterday (one not begun yet is cancelled)."""
    today = ctx.today()
    async with ctx.database.session() as session:
        absent = await someone(session, who, "Who is back")
        current = await _overlapping(session, absent.id, today, today)
        if current is None:
            raise NotFound(f"{absent.name} is not recorded away today: nothing to end.")
        absence_id, first_day = current.id, current.first_day
        cover = await session.get(models.Person, current.cover_id) if current.cover_id else None
        cover_email = cover.email if cover else None
    if first_day >= today:
        return await cancel_absence(ctx, actor, absence_id)
    return await change_absence(ctx, actor, absence_id, first_day, today - timedelta(days=1), cover_email, ending=True)


async def absences(ctx: Context, who: str | None = None) -> list[AbsenceView]:
    """The absences under way or to come (of `who`, when given), soonest first: anyone may see who covers whom."""
    async with ctx.database.read() as session:
        statement = (
            select(models.Absence)
            .where(models.Absence.cancelled_at.is_(None), models.Absence.last_day >= ctx.today())
            .options(*_LOADED)
            .order_by(models.Absence.first_day, models.Absence.id)
        )
        if who:
            statement = statement.where(models.Absence.person_id == (await someone(session, who, "Who")).id)
        return [view(a) for a in (await session.scalars(statement)).all()]


async def _absence(session: AsyncSession, absence_id: int) -> models.Absence:
    found = await session.scalar(select(models.Absence).where(models.Absence.id == absence_id).options(*_LOADED))
    if found is None or found.cancelled_at is not None:
        raise NotFound(f"There is no absence {absence_id} on record (or it was cancelled): list them to see which.")
    return found


def _details(absence: models.Absence, absent: models.Person, cover: models.Person | None) -> dict[str, object]:
    return {"absence": absence.id, "person": absent.email, "first_day": absence.first_day.isoformat(),
            "last_day": absence.last_day.isoformat(), "cover": cover.email if cover else None,
            "source": absence.source}  # fmt: skip


@dataclass(frozen=True)
class Choices:
    """What the dashboard's absence form offers this person: whom they may record away, and who may cover."""

    away: tuple[tuple[int, str], ...]  # (id, name): themselves, those they manage, or everyone for the unit
    cover: tuple[tuple[int, str], ...]  # everyone active in the directory


async def choices(ctx: Context, actor: Actor) -> Choices:
    """The people this actor may record an absence for (the permission table's own check, person by person)."""
    async with ctx.database.read() as session:
        people = (await session.scalars(select(models.Person).where(models.Person.active.is_(True))
                                        .order_by(models.Person.name, models.Person.id))).all()  # fmt: skip
        person = await records.actor_person(session, actor)
    mine = tuple((p.id, p.name) for p in people if allows(ACTION, absence_standing(person, p, actor.administrator)))
    return Choices(mine, tuple((p.id, p.name) for p in people))


async def graph_users(ctx: Context) -> list[tuple[int, str]]:
    """Each active person, by id, as Microsoft Graph knows them: their Entra object id, else their email."""
    async with ctx.database.read() as session:
        rows = await session.execute(select(models.Person.id, models.Person.entra_id, models.Person.email)
                                     .where(models.Person.active.is_(True)).order_by(models.Person.id))  # fmt: skip
        return [(person_id, entra_id or email) for person_id, entra_id, email in rows]


# Who an absence read from Outlook was recorded by, as the page and the audit say it.
FROM_OUTLOOK = "Outlook automatic replies"


@dataclass(frozen=True)
class Synced:
    """What reading automatic replies changed: absences recorded, changed (their days), and ended."""

    recorded: int = 0
    changed: int = 0
    ended: int = 0


async def from_automatic_replies(ctx: Context, readings: Mapping[int, AutomaticReplies]) -> Synced:
    """Take each person's Outlook automatic replies (by person id) as their absence where nobody recorded one.

    An absence someone recorded always wins: replies over the same days change nothing. One read from the replies
    follows them: its days move as they do, and it ends (or, not begun, is cancelled) when they are turned off. A
    person missing from `readings` (their replies could not be read) is left as they were.
    """
    today = ctx.today()
    zone = ZoneInfo(ctx.zone)
    next_working_day = ctx.calendar.on_or_after(today + timedelta(days=1))
    recorded = changed = ended = 0
    async with ctx.database.session() as session:
        found = (
            await session.scalars(
                select(models.Absence).where(models.Absence.person_id.in_(list(readings)),
                                             models.Absence.cancelled_at.is_(None),
                                             models.Absence.last_day >= today)
                .options(*_LOADED)
            )
        ).all() if readings else []  # fmt: skip
        now = ctx.clock.now()
        for person_id, replies in readings.items():
            days = days_away(replies, today, next_working_day, zone)
            theirs = [a for a in found if a.person_id == person_id and a.source == AUTOMATIC_REPLIES]
            if days is None:
                for absence in theirs:
                    if absence.first_day >= today:
                        absence.cancelled_at = now
                        action = "absence.cancel"
                    else:
                        absence.last_day = today - timedelta(days=1)
                        action = "absence.change"
                    absence.updated_at = now
                    records.audit(session, ctx, SYSTEM, action, None, _details(absence, absence.person, None))
                    ended += 1
                continue
            first, last = days
            if any(a.source != AUTOMATIC_REPLIES and a.first_day <= last and a.last_day >= first for a in found
                   if a.person_id == person_id):  # fmt: skip
                continue  # somebody recorded it: their days and their cover stand
            if theirs:
                absence = theirs[0]
                # Under way already: it began when it began, whatever the replies now say of their start.
                first = min(first, absence.first_day) if absence.first_day <= today else first
                if (absence.first_day, absence.last_day) != (first, last):
                    absence.first_day, absence.last_day, absence.updated_at = first, last, now
                    records.audit(session, ctx, SYSTEM, "absence.change", None,
                                  _details(absence, absence.person, absence.cover))  # fmt: skip
                    changed += 1
                continue
            person = await session.get(models.Person, person_id)
            if person is None or not person.active:
                continue
            absence = models.Absence(person_id=person_id, first_day=first, last_day=last, cover_id=None,
                                     recorded_by=FROM_OUTLOOK, source=AUTOMATIC_REPLIES, recorded_at=now,
                                     updated_at=now)  # fmt: skip
            session.add(absence)
            await session.flush()
            records.audit(session, ctx, SYSTEM, "absence.record", None, _details(absence, person, None))
            recorded += 1
    return Synced(recorded, changed, ended)


async def iro_away_note(session: AsyncSession, iro_id: int | None, steps: Sequence[tuple[str, date]]) -> str | None:
    """For an order's page: the sentence saying its IRO will be away on the day a step they own is due (the
    soonest such), or None. `steps` are the open steps the IRO owns, (title, due), still to come."""
    if iro_id is None or not steps:
        return None
    found = (
        await session.scalars(
            select(models.Absence).where(models.Absence.person_id == iro_id, models.Absence.cancelled_at.is_(None),
                                         models.Absence.last_day >= min(due for _, due in steps))
            .options(*_LOADED).order_by(models.Absence.first_day)
        )
    ).all()  # fmt: skip
    for title, due in sorted(steps, key=lambda step: step[1]):
        absence = next((a for a in found if a.first_day <= due <= a.last_day), None)
        if absence is not None:
            covers = f"{absence.cover.name} covers" if absence.cover else "no cover is named"
            return (f"{absence.person.name}, the IRO, is away {long_day(absence.first_day)} to "
                    f"{long_day(absence.last_day)} ({covers}), when “{title}” is due {long_day(due)}.")  # fmt: skip
    return None


@dataclass(frozen=True)
class Covered:
    """Someone away today, and who is sent what would go to them."""

    person_id: int
    name: str
    last_day: date
    holder_id: int
    holder: str

    @property
    def for_whom(self) -> str:
        return for_whom(self.name, self.last_day)


async def covered_today(ctx: Context, person_id: int) -> Covered | None:
    """Whether this person is away today and, if so, who covers them (their team manager when nobody is named)."""
    today = ctx.today()
    async with ctx.database.read() as session:
        found = (
            await session.scalars(
                select(models.Absence).where(
                    models.Absence.cancelled_at.is_(None),
                    models.Absence.last_day >= today,
                    models.Absence.first_day <= today,
                )
            )
        ).all()
        if not any(a.person_id == person_id for a in found):
            return None
        people = {p.id: p for p in (await session.scalars(select(models.Person))).all()}
    there = {p.id for p in people.values() if p.active}
    away = [Away(a.id, a.person_id, a.first_day, a.last_day, a.cover_id if a.cover_id in there else None)
            for a in found]  # fmt: skip
    managers = {p.id: p.manager_id for p in people.values() if p.active}
    chosen = covering(person_id, today, away, managers)
    if chosen is None:
        return None
    holder, absence = chosen
    return Covered(person_id, people[person_id].name, absence.last_day, holder, people[holder].name)


async def audit_covered(ctx: Context, covered: Covered, reference: str | None, kind: str) -> None:
    """The audit line of something sent to whoever covers a person away (beyond the outbox's own notices)."""
    async with ctx.database.session() as session:
        records.audit(session, ctx, SYSTEM, "notify.covered", reference,
                      {"person_id": covered.person_id, "name": covered.name, "until": covered.last_day.isoformat(),
                       "cover_id": covered.holder_id, "kind": kind})  # fmt: skip
