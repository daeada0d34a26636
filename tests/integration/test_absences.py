"""Recording absences on SQLite and PostgreSQL: who may, what is refused and why, and the audit of each."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from handlers import absences, people
from handlers.context import CLI, Actor, Context
from handlers.errors import InvalidInput, NotAllowed, NotFound
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database, models

STAFF = """name,email,roles,team,manager_email
Tess Manager,tess@example.gov.uk,team_manager,North,
Megan Bowen,megan@example.gov.uk,iro,IROs,tess@example.gov.uk
Jane Smith,jane@example.gov.uk,iro,IROs,tess@example.gov.uk
Sam Worker,sam@example.gov.uk,social_worker,North,
Una Unit,una@example.gov.uk,safeguarding_unit,Safeguarding,
"""
MEGAN = Actor("Megan Bowen", "megan@example.gov.uk")
TESS = Actor("Tess Manager", "tess@example.gov.uk")
SAM = Actor("Sam Worker", "sam@example.gov.uk")
UNA = Actor("Una Unit", "una@example.gov.uk")


async def context(database: Database) -> Context:
    clock = FixedClock(datetime(2026, 8, 10, 9, 0, tzinfo=UTC))  # Mon 10 Aug 2026
    ctx = Context(database, load_builtin(), WorkingCalendar(), clock, "wirral")
    await people.import_people(ctx, STAFF, CLI)
    return ctx


async def audit(database: Database) -> list[tuple[str, str, str]]:
    async with database.session() as session:
        rows = (await session.scalars(select(models.AuditEntry).where(models.AuditEntry.action.like("absence.%"))
                                      .order_by(models.AuditEntry.id))).all()  # fmt: skip
        return [(row.actor, row.action, row.outcome) for row in rows]


async def test_a_person_records_their_absence_and_the_cover_and_it_is_audited(database: Database) -> None:
    ctx = await context(database)
    away = await absences.record_absence(ctx, MEGAN, "megan@example.gov.uk", date(2026, 8, 14), date(2026, 8, 28),
                                         "Jane Smith")  # fmt: skip
    assert away.words == "Megan Bowen is away Fri 14 Aug 2026 to Fri 28 Aug 2026; Jane Smith covers."
    assert [a.id for a in await absences.absences(ctx)] == [away.id]
    async with database.session() as session:
        stored = await session.get(models.Absence, away.id)
        assert stored is not None
        assert (stored.first_day, stored.last_day, stored.source, stored.recorded_by) == (
            date(2026, 8, 14),
            date(2026, 8, 28),
            "recorded",
            "megan@example.gov.uk",
        )
    # Her manager moves the last day; the unit cancels it: each is the audit's.
    changed = await absences.change_absence(ctx, TESS, away.id, date(2026, 8, 14), date(2026, 8, 21))
    assert changed.words.endswith("no cover is named, so their team manager is told.")
    await absences.cancel_absence(ctx, UNA, away.id)
    assert await absences.absences(ctx) == []
    assert await audit(database) == [
        ("megan@example.gov.uk", "absence.record", "ok"),
        ("tess@example.gov.uk", "absence.change", "ok"),
        ("una@example.gov.uk", "absence.cancel", "ok"),
    ]


async def test_someone_neither_the_person_their_manager_nor_the_unit_is_refused_and_audited(
    database: Database,
) -> None:
    ctx = await context(database)
    with pytest.raises(NotAllowed, match="only your own absence, or that of someone you manage"):
        await absences.record_absence(ctx, SAM, "Megan Bowen", date(2026, 8, 14), date(2026, 8, 28))
    mine = await absences.record_absence(ctx, MEGAN, "Megan Bowen", date(2026, 8, 14), date(2026, 8, 28))
    with pytest.raises(NotAllowed):
        await absences.cancel_absence(ctx, Actor("Jane Smith", "jane@example.gov.uk"), mine.id)
    assert await audit(database) == [
        ("sam@example.gov.uk", "absence.record", "refused"),
        ("megan@example.gov.uk", "absence.record", "ok"),
        ("jane@example.gov.uk", "absence.record", "refused"),
    ]
    assert [a.id for a in await absences.absences(ctx)] == [mine.id]  # the refusal changed nothing


@pytest.mark.parametrize(
    ("first", "last", "cover", "sentence"),
    [
        (date(2026, 8, 28), date(2026, 8, 14), None,
         "The last day away (Fri 14 Aug 2026) is before the first (Fri 28 Aug 2026): give the first day"),
        (date(2026, 8, 3), date(2026, 8, 7), None, "The last day away (Fri 7 Aug 2026) has passed already"),
        (date(2026, 8, 14), date(2026, 8, 28), "Megan Bowen", "Megan Bowen cannot cover their own absence"),
        (date(2026, 8, 14), date(2026, 8, 28), "Zed Nobody",
         "Cover: there is nobody called 'Zed Nobody' in the directory: give their full name or email"),
        (date(2026, 8, 14), date(2026, 8, 28), "Jane Smith",
         "Jane Smith is away themselves from Mon 24 Aug 2026 to Fri 4 Sep 2026: name someone else to cover."),
    ],
)  # fmt: skip
async def test_each_bad_absence_gets_one_sentence_and_nothing_is_written(
    database: Database, first: date, last: date, cover: str | None, sentence: str
) -> None:
    ctx = await context(database)
    await absences.record_absence(ctx, CLI, "jane@example.gov.uk", date(2026, 8, 24), date(2026, 9, 4))
    with pytest.raises((InvalidInput, NotFound)) as refused:
        await absences.record_absence(ctx, MEGAN, "Megan Bowen", first, last, cover)
    assert sentence in str(refused.value)
    assert [a.name for a in await absences.absences(ctx)] == ["Jane Smith"]


async def test_a_second_absence_over_the_same_days_is_refused_and_back_ends_the_one_under_way(
    database: Database,
) -> None:
    ctx = await context(database)
    first = await absences.record_absence(ctx, MEGAN, "Megan Bowen", date(2026, 8, 10), date(2026, 8, 28))
    with pytest.raises(InvalidInput, match="already recorded away from Mon 10 Aug 2026 to Fri 28 Aug 2026"):
        await absences.record_absence(ctx, TESS, "Megan Bowen", date(2026, 8, 20), date(2026, 9, 2))
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.set(datetime(2026, 8, 19, 9, 0, tzinfo=UTC))
    ended = await absences.back(ctx, MEGAN, "Megan Bowen")
    assert (ended.id, ended.last_day) == (first.id, date(2026, 8, 18))
    assert await absences.absences(ctx) == []
