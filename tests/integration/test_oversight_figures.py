"""The oversight figures against a real database, on SQLite and on PostgreSQL: a fixture of orders and steps whose
every figure is worked out by hand below, seen by each kind of viewer the permission table names."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from handlers import orders, oversight, people
from handlers.context import CLI, Actor, Context
from handlers.errors import InvalidInput, NotAllowed
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database, models
from tests.oversight_orders import STAFF, TODAY, add_orders

PROCEDURES = load_builtin()


def actor(handle: str) -> Actor:
    return Actor(handle, f"{handle}@example.gov.uk")


@pytest.fixture
async def ctx(database: Database) -> Context:
    context = Context(database, PROCEDURES, WorkingCalendar(), FixedClock(TODAY), default_procedure="wirral")
    await people.import_people(context, STAFF, CLI)
    await add_orders(context)
    return context


def table(rows: tuple[oversight.OnTime, ...]) -> dict[str, tuple[int, int, float | None]]:
    return {r.name: (r.due, r.on_time, None if r.percent is None else round(r.percent, 1)) for r in rows}


def times(figures: oversight.Figures) -> dict[str, tuple[int, int, float | None, int | None]]:
    return {a.name: (a.allocated, a.unallocated, a.median, a.p90) for a in figures.allocation}


def waits(figures: oversight.Figures) -> list[int]:
    return [w.steps for w in figures.waited]


def ending(figures: oversight.Figures) -> list[tuple[str, str, date, bool]]:
    return [(e.reference, e.team, e.last_day, e.decided) for e in figures.ending]


async def test_a_head_of_service_sees_every_order_s_figures(ctx: Context) -> None:
    figures = await oversight.figures(ctx, actor("hana"))
    assert (figures.since, figures.until, figures.scope) == (date(2025, 12, 4), date(2027, 3, 3), "every order")
    assert figures.teams == ("North", "South")
    # North: A 4 due (1 on time), C 3 (0), E 1 (1); South: B 2 (1), D 2 (2), F 2 (1).
    assert table(figures.on_time_by_team) == {"North": (8, 2, 25.0), "South": (6, 4, 66.7)}
    assert table(figures.on_time_by_procedure) == {
        "bradford": (1, 1, 100.0), "camden": (4, 2, 50.0), "sussex": (2, 2, 100.0), "wirral": (7, 1, 14.3),
    }  # fmt: skip
    assert table((figures.on_time_overall,)) == {"All steps": (14, 6, 42.9)}
    # Made in the 12 months: A 3, B 10, E 1, F 3; D, G and H not yet allocated. All: [1, 3, 3, 10]: the median is
    # 3, and the 90th percentile by nearest rank the 4th (ceil(0.9 × 4)) of them, 10.
    assert times(figures) == {
        "bradford": (1, 0, 1, 1), "camden": (2, 2, 6.5, 10), "sussex": (0, 1, None, None), "wirral": (1, 0, 3, 3),
        "All procedures": (4, 3, 3, 10),
    }  # fmt: skip
    # Overdue: A 5 and 3 working days (1–5), C 10 (6–10) and 11 (11–20), B 45 (over 20); F's order has ended.
    assert [w.bucket.label for w in figures.waited] == [
        "1–5 working days", "6–10 working days", "11–20 working days", "over 20 working days",
    ]  # fmt: skip
    assert waits(figures) == [2, 1, 1, 1]
    assert ending(figures) == [
        ("SO-2025-0001", "North", date(2026, 12, 31), True),
        ("SO-2026-0004", "North", date(2027, 1, 15), False),
        ("SO-2026-0003", "South", date(2027, 2, 28), False),
        ("SO-2026-0002", "South", date(2027, 3, 1), False),
        ("SO-2026-0005", "North", date(2027, 3, 3), True),
    ]
    # C and G decided; B and D not (D's event is not Sussex's decision); E's Bradford names none.
    counts = (figures.ending_total, figures.ending_decided, figures.ending_undecided, figures.ending_no_decision)
    assert counts == (5, 2, 2, 1)
    decisions = {e.reference: e.decision for e in figures.ending}
    assert decisions["SO-2026-0004"] is None  # Bradford names no decision
    assert decisions["SO-2025-0001"] == PROCEDURES["wirral"].event_keys()["outcome"].title
    assert {e.child_initials for e in figures.ending} == {"C.N.S."}  # initials only, never the name


@pytest.mark.parametrize("handle", ["una", "sean", "lee"])
async def test_the_unit_service_managers_and_legal_see_every_order_too(ctx: Context, handle: str) -> None:
    figures = await oversight.figures(ctx, actor(handle))
    assert figures.scope == "every order" and table((figures.on_time_overall,)) == {"All steps": (14, 6, 42.9)}


async def test_a_team_manager_sees_their_own_team_s_figures_only(ctx: Context) -> None:
    figures = await oversight.figures(ctx, actor("tess"))
    assert (figures.scope, figures.team, figures.teams) == ("the North team's orders", "North", ("North",))
    assert table(figures.on_time_by_team) == {"North": (8, 2, 25.0)}
    assert table(figures.on_time_by_procedure) == {"bradford": (1, 1, 100.0), "wirral": (7, 1, 14.3)}
    # A 3, E 1; G not yet allocated: [1, 3] has median 2 and 90th percentile the 2nd, 3.
    assert times(figures) == {"bradford": (1, 0, 1, 1), "camden": (0, 1, None, None), "wirral": (1, 0, 3, 3),
                              "All procedures": (2, 1, 2, 3)}  # fmt: skip
    assert waits(figures) == [2, 1, 1, 0]
    assert [e.reference for e in figures.ending] == ["SO-2025-0001", "SO-2026-0004", "SO-2026-0005"]
    assert figures == await oversight.figures(ctx, actor("tess"), team="North")


async def test_narrowed_to_a_procedure_and_a_team(ctx: Context) -> None:
    camden = await oversight.figures(ctx, actor("hana"), procedure="camden")
    assert table(camden.on_time_by_team) == {"South": (4, 2, 50.0)}
    assert table(camden.on_time_by_procedure) == {"camden": (4, 2, 50.0)}
    assert waits(camden) == [0, 0, 0, 1]
    assert [e.reference for e in camden.ending] == ["SO-2026-0002", "SO-2026-0005"]
    south_camden = await oversight.figures(ctx, actor("hana"), team="South", procedure="camden")
    # B 10 and F 3; H not yet allocated.
    assert times(south_camden) == {"camden": (2, 1, 6.5, 10), "All procedures": (2, 1, 6.5, 10)}
    assert [e.reference for e in south_camden.ending] == ["SO-2026-0002"]


async def test_the_orders_ending_are_listed_soonest_first_up_to_a_bound_and_counted_whole(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oversight, "ENDING_SHOWN", 2)
    figures = await oversight.figures(ctx, actor("hana"))
    assert [e.reference for e in figures.ending] == ["SO-2025-0001", "SO-2026-0004"]
    assert (figures.ending_total, figures.ending_decided, figures.ending_undecided) == (5, 2, 2)


async def test_those_the_table_does_not_allow_are_refused_with_a_sentence_and_audited(ctx: Context) -> None:
    with pytest.raises(NotAllowed, match="for team managers, service managers, Heads of Service"):
        await oversight.figures(ctx, actor("sam"))
    with pytest.raises(NotAllowed, match="for team managers"):  # refused before what was asked is looked at
        await oversight.figures(ctx, actor("sam"), procedure="atlantis")
    with pytest.raises(NotAllowed, match="for team managers"):
        await oversight.figures(ctx, actor("ian"))
    with pytest.raises(NotAllowed, match="for team managers"):
        await oversight.figures(ctx, Actor("someone", "stranger@example.org"))
    with pytest.raises(NotAllowed, match=r"your own team \(North\) only, not of South"):
        await oversight.figures(ctx, actor("tess"), team="South")
    with pytest.raises(NotAllowed, match="gives you no team"):
        await oversight.figures(ctx, actor("nat"))
    assert [await oversight.may_view(ctx, actor(h)) for h in ("sam", "ian", "nat", "tess", "hana", "una", "lee")] == [
        False, False, False, True, True, True, True,
    ]  # fmt: skip
    async with ctx.database.session() as session:
        refused = (await session.scalars(select(models.AuditEntry).where(models.AuditEntry.outcome == "refused"))).all()
    assert [(r.actor, r.action) for r in refused] == [
        ("sam@example.gov.uk", "oversight.view"), ("sam@example.gov.uk", "oversight.view"),
        ("ian@example.gov.uk", "oversight.view"),
        ("stranger@example.org", "oversight.view"), ("tess@example.gov.uk", "oversight.view"),
        ("nat@example.gov.uk", "oversight.view"),
    ]  # fmt: skip


async def test_an_unknown_team_or_procedure_is_a_sentence_naming_the_choices(ctx: Context) -> None:
    with pytest.raises(InvalidInput, match="no procedure 'atlantis': choose one of bradford, camden"):
        await oversight.figures(ctx, actor("hana"), procedure="atlantis")
    with pytest.raises(InvalidInput, match="team called 'East': choose one of North, South"):
        await oversight.figures(ctx, actor("hana"), team="East")


async def test_figures_follow_the_operations_that_make_them(database: Database) -> None:
    clock = FixedClock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    ctx = Context(database, PROCEDURES, WorkingCalendar(), clock, default_procedure="wirral")
    await people.import_people(ctx, STAFF, CLI)
    new = orders.NewOrder("C1", "Jane Mary Smith", "supervision", date(2026, 3, 3), procedure="wirral",
                          social_worker_email="sam@example.gov.uk")  # fmt: skip
    reference = (await orders.create_order(ctx, new, CLI)).reference
    before = await oversight.figures(ctx, actor("tess"))
    assert times(before)["All procedures"] == (0, 1, None, None)
    await orders.allocate_iro(ctx, reference, "Ian Reviewer", actor("una"))  # Tue 10 March: 5 working days on
    clock.set(datetime(2026, 12, 14, 9, 0, tzinfo=UTC))
    figures = await oversight.figures(ctx, actor("tess"))
    assert times(figures)["wirral"] == (1, 0, 5, 5)
    assert [(e.reference, e.decided) for e in figures.ending] == [(reference, False)]  # last day 2 March 2027
    await orders.record_event(ctx, reference, "outcome", date(2026, 12, 10), CLI, value="A")
    assert [(e.reference, e.decided) for e in (await oversight.figures(ctx, actor("tess"))).ending] == [
        (reference, True)
    ]
