"""Each person's calendar feed: the due dates of their own steps as iCalendar, behind a long random token.

Outlook (or any calendar) subscribes to the feed's address and reads it again now and then, with no one signed
in: the token in the address is the only key, so it is long (256 bits, from `secrets`), the records keep only its
SHA-256 fingerprint, and the person may renew it at any time, which revokes the one before. The feed names each
order by its reference and the child's initials, never the child's name: a calendar is shared, synced to phones
and shown on screens in a way the dashboard is not.

"Their steps" are those whose reminders go to them: each open step's owner, chosen as the planner chooses whom
to remind (rules.recipients.choose), so the calendar and the reminders never disagree.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import and_, select, update

from handlers import records
from handlers.context import Context
from handlers.directory import PersonView
from rules.initials import initials
from rules.recipients import choose
from storage import models

TOKEN_BYTES = 32
# What token_urlsafe(32) gives: anything else is not a token sobot made, and is refused without a look.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
# How often a subscribed calendar is asked to read the feed again (Outlook may read less often).
REFRESH = timedelta(hours=1)
PRODUCT = "-//sobot//Supervision order steps//EN"


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


async def made_at(ctx: Context, person: PersonView) -> datetime | None:
    """When this person's current calendar link was made; None when they have none."""
    async with ctx.database.read() as session:
        return await session.scalar(
            select(models.CalendarFeed.created_at)
            .where(models.CalendarFeed.person_id == person.id, models.CalendarFeed.revoked_at.is_(None))
            .order_by(models.CalendarFeed.id.desc())
        )


async def renew(ctx: Context, person: PersonView) -> str:
    """A new calendar token for this person (their only one: every link before it stops working), audited.

    The token is returned this once and never kept: only its fingerprint is written.
    """
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = ctx.clock.now()
    async with ctx.database.session() as session:
        revoked = (
            await session.scalars(
                update(models.CalendarFeed)
                .where(models.CalendarFeed.person_id == person.id, models.CalendarFeed.revoked_at.is_(None))
                .values(revoked_at=now)
                .returning(models.CalendarFeed.id)
            )
        ).all()
        session.add(models.CalendarFeed(person_id=person.id, token_hash=fingerprint(token), created_at=now))
        records.audit(session, ctx, person.actor, "calendar.renew", None, {"revoked": len(revoked)})
    return token


@dataclass(frozen=True)
class CalendarStep:
    """One step in a person's calendar: the order by reference and initials, and the step's dates."""

    reference: str
    initials: str
    key: str
    occurrence: int
    title: str
    due: date
    preferred_by: date | None
    source: str


async def steps_of(ctx: Context, person_id: int) -> list[CalendarStep]:
    """The open steps with due dates whose reminders go to this person, by due date."""
    async with ctx.database.read() as session:
        people = {p.id: p for p in (await session.scalars(select(models.Person))).all()}
        me = people.get(person_id)
        if me is None or not me.active or not me.roles:
            return []
        rows = await session.execute(
            select(models.Milestone.key, models.Milestone.occurrence, models.Milestone.title,
                   models.Milestone.owner_role, models.Milestone.due, models.Milestone.preferred_by,
                   models.Milestone.source, models.Order.reference, models.Child.name,
                   models.Order.social_worker_id, models.Allocation.iro_id)
            .join(models.Order, models.Milestone.order_id == models.Order.id)
            .join(models.Child, models.Order.child_id == models.Child.id)
            .outerjoin(models.Allocation, and_(models.Allocation.order_id == models.Order.id,
                                               models.Allocation.active.is_(True)))
            .where(models.Milestone.state == "open", models.Milestone.due.is_not(None),
                   models.Order.status == "open", models.Milestone.owner_role.in_(list(me.roles)))
        )  # fmt: skip
        holders = {role: [p for p in people.values() if role in p.roles] for role in me.roles}
        found = []
        for key, occurrence, title, owner, due, preferred, source, reference, child, sw_id, iro_id in rows:
            social_worker = people.get(sw_id) if sw_id else None
            manager = people.get(social_worker.manager_id) if social_worker and social_worker.manager_id else None
            iro = people.get(iro_id) if iro_id else None
            told = choose(owner, social_worker, manager, iro, holders.get(owner, []), None)
            if due is not None and any(r.person_id == person_id for r in told):
                found.append(CalendarStep(reference, initials(child), key, occurrence, title, due, preferred, source))
    return sorted(found, key=lambda s: (s.due, s.reference, s.key, s.occurrence))


async def feed(ctx: Context, token: str, link: Callable[[str], str]) -> bytes | None:
    """The iCalendar of the person whose live token this is; None for a token revoked, unknown or not sobot's.

    `link` gives an order's page, for each event's address.
    """
    if not TOKEN_SHAPE.fullmatch(token):
        return None
    async with ctx.database.read() as session:
        person_id = await session.scalar(
            select(models.CalendarFeed.person_id).where(
                models.CalendarFeed.token_hash == fingerprint(token), models.CalendarFeed.revoked_at.is_(None)
            )
        )
    if person_id is None:
        return None
    return calendar(await steps_of(ctx, person_id), ctx.clock.now(), ctx.today(), link)


def calendar(steps: list[CalendarStep], now: datetime, today: date, link: Callable[[str], str]) -> bytes:
    """The steps as an iCalendar: one all-day event on each due date, the same UID however often it is read."""
    made = Calendar()
    made.add("prodid", PRODUCT)
    made.add("version", "2.0")
    made.add("calscale", "GREGORIAN")
    made.add("method", "PUBLISH")
    made.add("x-wr-calname", "sobot: my steps")
    made.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    made.add("x-published-ttl", REFRESH)
    for step in steps:
        event = Event()
        event.add("uid", f"{step.reference}.{step.key}.{step.occurrence}@sobot")
        event.add("dtstamp", now)
        event.add("dtstart", step.due)
        event.add("dtend", step.due + timedelta(days=1))
        late = "Overdue: " if step.due < today else ""
        event.add("summary", f"{late}{step.reference} ({step.initials}): {step.title}")
        lines = [f"Due {_day(step.due)}."]
        if step.preferred_by is not None:
            lines.append(f"Preferably by {_day(step.preferred_by)}.")
        lines += [f"Source: {step.source}.", f"Open in sobot: {link(step.reference)}"]
        event.add("description", "\n".join(lines))
        event.add("url", link(step.reference))
        event.add("transp", "TRANSPARENT")  # a deadline, not a meeting: it does not make the person look busy
        made.add_component(event)
    return bytes(made.to_ical())


def _day(value: date) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"
