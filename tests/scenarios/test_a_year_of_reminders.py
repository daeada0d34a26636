"""A year of one order under each procedure, replayed on a moved clock through the real planner, dispatcher,
Agents SDK client and Maildir: every reminder and escalation the procedure file asks for reaches the right
people, in working hours, once; nothing names the child beyond initials.

The team in this replay does every other step two working days late (so reminders and the first
escalation go out, then it is done) and the rest twelve working days late (so the whole chain runs, up to
the Head of Service). The clock visits each day at 07:00, 09:00 and 19:00 London time.
"""

from __future__ import annotations

import json
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from handlers import orders
from handlers.context import CLI, Actor
from handlers.errors import InvalidInput
from rules.timeline import escalation_days, reminder_days
from storage import Database, models
from tests.outbox_rig import STAFF, Rig, rig

LONDON = ZoneInfo("Europe/London")
MADE = date(2026, 3, 3)
CHILD = "Amelia Rose Thornbury"
BORN = date(2019, 6, 1)
UNIT = Actor("Una Unit", "una@example.gov.uk")
EVERYONE = (
    STAFF
    + """Carl Chair,carl@example.gov.uk,cp_chair,North,
Pat Practice,pat@example.gov.uk,practice_manager,North,
Fay Family,fay@example.gov.uk,family_support_worker,North,
Sid Senior,sid@example.gov.uk,senior_reviewing_officer,IROs,
"""
)
IN_TEAMS = ["sam@example.gov.uk", "tess@example.gov.uk", "ian@example.gov.uk", "nell@example.gov.uk",
            "pat@example.gov.uk", "fay@example.gov.uk", "carl@example.gov.uk"]  # fmt: skip
# What the documents' branch points decide in this replay: (event recorded with a step, value).
BRANCHES = {
    "wirral": {"nine_month_review": [("insufficient_evidence", None)], "outcome_after_further_review": []},
    "camden": {},
    "leicestershire": {},
    "sussex": {},
    "bradford": {},
}
VALUES = {"outcome": "B"}


@dataclass(frozen=True)
class Seen:
    key: str
    occurrence: int
    kind: str
    role: str
    on: date
    person: str


def days(start: date, end: date) -> Iterator[date]:
    while start <= end:
        yield start
        start += timedelta(days=1)


async def replay(r: Rig, procedure: str) -> list[tuple[models.Notification, str | None]]:
    kind = "interim_supervision" if procedure == "bradford" else "supervision"  # Bradford's is for ISOs
    # An interim order lasts what the court set: here, as a supervision order does, a year.
    months = 12 if kind == "interim_supervision" else None
    await orders.create_order(r.ctx, orders.NewOrder("C1", CHILD, kind, MADE, child_date_of_birth=BORN, months=months,
                                                     procedure=procedure, social_worker_email="sam@example.gov.uk"),
                              CLI)  # fmt: skip
    for email in IN_TEAMS:
        await r.in_teams(email)
    await r.unit_channel()
    before = len(r.connector.sent)
    await r.agent.ask_for_allocation(await orders.get_order(r.ctx, "SO-2026-0001", CLI))  # the unit's card
    r.announced |= {s.activity_id or "" for s in r.connector.sent[before:]}
    calendar = r.ctx.calendar
    rules = r.ctx.procedures[procedure]
    for day in days(MADE, MADE + timedelta(days=380)):
        for hour in (time(7, 0), time(9, 0), time(19, 0)):
            r.clock.set(datetime.combine(day, hour, tzinfo=LONDON))
            await r.tick(digest=True)
            if hour != time(9, 0) or not calendar.is_working_day(day):
                continue
            if day == calendar.add_working_days(MADE, 3):
                # As the unit does it in Teams: the card in its channel updates, the social worker and IRO are told.
                before = len(r.connector.sent)
                await r.agent.allocate(await r.person(UNIT.email or ""), "SO-2026-0001", "Ian Reviewer")
                r.announced |= {s.activity_id or "" for s in r.connector.sent[before:]}
            async with r.database.session() as session:
                steps = (await session.scalars(select(models.Milestone).where(models.Milestone.state == "open"))).all()
            for step in sorted(steps, key=lambda s: (s.key, s.occurrence)):
                late = 2 if zlib.crc32(f"{step.key}:{step.occurrence}".encode()) % 2 == 0 else 12
                if step.due is None or calendar.working_days_between(step.due, day) != late:
                    continue
                rule = rules.milestone(step.key)
                completion = rule.completed_by if rule else step.key
                try:
                    await orders.record_event(r.ctx, "SO-2026-0001", step.key, day, CLI, value=VALUES.get(completion))
                except InvalidInput:
                    continue  # a step recorded already by a shared completion event this morning
                for event, value in BRANCHES[procedure].get(step.key, []):
                    await orders.record_event(r.ctx, "SO-2026-0001", event, day, CLI, value=value)
    async with r.database.session() as session:
        result = await session.execute(
            select(models.Notification, models.Person.email)
            .outerjoin(models.Person, models.Notification.person_id == models.Person.id)
            .order_by(models.Notification.id)
        )
        return [(row, email) for row, email in result]


@pytest.mark.parametrize("procedure", ["wirral", "camden", "leicestershire", "sussex", "bradford"])
async def test_a_year_of_an_order(procedure: str, database: Database, database_url: str, tmp_path: Path) -> None:
    start = datetime.combine(MADE, time(7, 0), tzinfo=LONDON)
    async with rig(database, database_url, tmp_path / "mail", start, EVERYONE, procedure) as r:
        rows = await replay(r, procedure)
        sent = [(row, email) for row, email in rows if row.state == "sent"]
        assert sent, "a year of an order sends something"
        assert {row.state for row, _ in rows} <= {"sent", "cancelled", "superseded"}, Counter(r.state for r, _ in rows)

        # In working hours, on working days, only.
        for row, _ in sent:
            assert row.sent_at is not None
            local = row.sent_at.astimezone(LONDON)
            assert r.ctx.calendar.is_working_day(local.date()), row.dedupe_key
            assert time(8, 30) <= local.time() < time(17, 30), row.dedupe_key

        # Each notification reached its recipient once, and the channels carried exactly what the rows say.
        keys = Counter(row.dedupe_key for row, _ in sent)
        assert max(keys.values()) == 1
        by_channel = Counter(row.channel for row, _ in sent)
        delivered = r.delivered()
        assert Counter(d.channel for d in delivered) == by_channel

        # Never the child's name or date of birth, in any payload.
        everything = r.delivered(everything=True)
        assert len(everything) > len(delivered)  # the allocation card and notices are checked too
        for d in everything:
            payload = (json.dumps(d.body) if d.body else "") + d.text
            for secret in (CHILD, "Thornbury", "Amelia", BORN.isoformat(), "01/06/2019", "1 June 2019", "June 2019"):
                assert secret not in payload, (secret, d.text[:80])
        for mail in r.emails():
            assert "Thornbury" not in mail.as_string()

        # Every reminder and escalation each step's rule asks for, from the day it could be known until it
        # was done, went to the people of its role, on its day.
        seen = {Seen(*_parts(row.dedupe_key), email or "unit") for row, email in sent
                if row.kind in ("reminder", "escalation")}  # fmt: skip
        async with r.database.session() as session:
            order = await session.scalar(select(models.Order))
            steps = (await session.scalars(select(models.Milestone))).all()
        assert order is not None
        holders = _holders(EVERYONE)
        checked = 0
        for step in steps:
            rule = r.ctx.procedures[procedure].milestone(step.key)
            if rule is None or step.due is None or rule.due.anchor not in ("made", "commenced", "last_day"):
                continue  # event-anchored steps start when their event is recorded: covered by the properties
            if rule.repeat is not None or any(c.kind in ("recorded", "not_recorded", "value") for c in rule.when):
                continue
            until = step.done_on or date.max
            if step.key == orders.UNIT_TOLD:
                # Done by sobot's own card to the unit, posted before the day's first tick: never reminded of.
                assert step.done_on == order.made and not [x for x in seen if x.key == step.key], step
                continue
            for day in reminder_days(rule, step.due, order.made, r.ctx.calendar):
                if day <= until and day <= r.clock.now().date():
                    expected = {Seen(step.key, step.occurrence, "reminder", step.owner_role, day, who)
                                for who in holders(step.owner_role)}  # fmt: skip
                    assert expected <= seen, (step.key, day)
                    checked += 1
            for escalation in escalation_days(rule, step.due, r.ctx.calendar):
                if escalation.on < until:
                    expected = {Seen(step.key, step.occurrence, "escalation", escalation.to, escalation.on, who)
                                for who in holders(escalation.to)}  # fmt: skip
                    assert expected <= seen, (step.key, escalation)
                    checked += 1
                elif escalation.on > until:
                    assert not [s for s in seen if s.key == step.key and s.kind == "escalation" and s.on > until]
        assert checked >= 5
        # Nothing about a step after it was done.
        done = {(s.key, s.occurrence): s.done_on for s in steps if s.done_on}
        for item in seen:
            done_on = done.get((item.key, item.occurrence))
            assert done_on is None or item.on <= done_on, item

        if procedure == "wirral":
            # The insufficient-evidence path: two weeks for the social worker, then straight to the Head of
            # Service (by email: not in Teams), then a further review by the end of month 10.
            work = [s for s in seen if s.key == "insufficient_evidence_work"]
            assert {s.person for s in work if s.kind == "reminder"} == {"sam@example.gov.uk"}
            assert {s.person for s in work if s.kind == "escalation"} <= {"hope@example.gov.uk"}
            assert any(s.key == "further_review" for s in seen)
            if any(s.kind == "escalation" for s in work):
                assert "hope@example.gov.uk" in [m["To"] for m in r.emails()]

        if procedure == "camden":
            # "Tell Legal within 7 days of the decision": the team manager is reminded within those 7 days
            # (and before, while the step was projected from the decision's own due date), never after.
            decided = done[("further_order_decision", 1)]
            told = [s for s in seen if s.key == "notify_legal_of_decision" and s.kind == "reminder"]
            assert told and {s.person for s in told} == {"tess@example.gov.uk"}
            assert any(decided <= s.on <= decided + timedelta(days=7) for s in told), (decided, told)
            assert all(s.on <= decided + timedelta(days=7) for s in told), (decided, told)


def _parts(key: str) -> tuple[str, int, str, str, date]:
    _reference, step, occurrence, kind, role, on, _who = key.rsplit(":", 6)
    return step, int(occurrence), kind, role, date.fromisoformat(on)


def _holders(staff: str) -> Callable[[str], set[str]]:
    lines = [line.split(",") for line in staff.strip().splitlines()[1:]]

    def holders(role: str) -> set[str]:
        if role == "safeguarding_unit":
            return {"unit"}
        if role == "social_worker":
            return {"sam@example.gov.uk"}
        if role == "team_manager":
            return {"tess@example.gov.uk"}
        return {email for _name, email, roles, *_ in lines if role in roles.split(";")}

    return holders
