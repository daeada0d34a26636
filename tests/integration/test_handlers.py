"""The domain operations against a real database, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text

from bot import cards
from handlers import orders, people, queries
from handlers.context import CLI, Actor, Context
from handlers.directory import PersonView, iro_loads
from handlers.errors import InvalidInput, NotAllowed, NotFound
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database, models
from tests.cards import texts

STAFF = """name,email,roles,team,manager_email,entra_id
Tess Manager,tess.manager@example.gov.uk,team_manager,North,,
Sam Worker,sam.worker@example.gov.uk,social_worker,North,tess.manager@example.gov.uk,
Ian Reviewer,ian.reviewer@example.gov.uk,iro,IRO service,,00000000-0000-0000-0000-000000000001
Ivy Reviewer,ivy.reviewer@example.gov.uk,iro;cp_chair,IRO service,,
Una Unit,una.unit@example.gov.uk,safeguarding_unit,Safeguarding Unit,,
"""
PROCEDURES = load_builtin()
LINK = "http://127.0.0.1:3978/orders/SO-2026-0001"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))


@pytest.fixture
async def ctx(database: Database, clock: FixedClock) -> Context:
    context = Context(database, PROCEDURES, WorkingCalendar(), clock, default_procedure="wirral")
    await people.import_people(context, STAFF, CLI)
    return context


def new_order(**changes: object) -> orders.NewOrder:
    values: dict[str, object] = {
        "child_local_id": "C1001",
        "child_name": "Jane Mary Smith",
        "order_type": "supervision",
        "made": date(2026, 3, 3),
        "child_date_of_birth": date(2019, 6, 1),
        "social_worker_email": "sam.worker@example.gov.uk",
        "court": "Liverpool Family Court",
    }
    values.update(changes)
    return orders.NewOrder(**values)  # type: ignore[arg-type]


async def audit_actions(database: Database) -> list[tuple[str, str | None, str]]:
    async with database.session() as session:
        rows = (await session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id))).all()
        return [(row.action, row.order_reference, row.outcome) for row in rows]


async def test_create_order_saves_it_with_its_timeline(ctx: Context) -> None:
    view = await orders.create_order(ctx, new_order(), CLI)
    assert view.reference == "SO-2026-0001"
    assert view.child_initials == "J.M.S."
    assert (view.commenced, view.last_day) == (date(2026, 3, 3), date(2027, 3, 2))
    assert view.social_worker == "Sam Worker" and view.iro is None
    nine_month = next(s for s in view.steps if s.key == "nine_month_review")
    # Wirral §5.4: commenced Tue 3 Mar 2026 + 9 months = Thu 3 Dec 2026, owned by the IRO.
    assert (nine_month.due, nine_month.owner, nine_month.state) == (date(2026, 12, 3), "iro", "open")
    waiting = next(s for s in view.steps if s.key == "initial_review")
    assert (waiting.due, waiting.waiting_on, waiting.state) == (None, "first_cin_meeting", "waiting")
    second = await orders.create_order(ctx, new_order(child_local_id="C1002", child_name="Tom Smith"), CLI)
    assert second.reference == "SO-2026-0002"
    assert ("order.create", "SO-2026-0001", "ok") in await audit_actions(ctx.database)


async def test_bad_orders_write_nothing(ctx: Context) -> None:
    bad = [
        new_order(last_day=date(2026, 3, 1)),
        new_order(procedure="atlantis"),
        new_order(social_worker_email="nobody@example.gov.uk"),
        new_order(order_type="interim", procedure="wirral", last_day=date(2029, 4, 1)),
        new_order(child_date_of_birth=date(2026, 4, 1)),
        new_order(procedure="bradford"),  # Bradford's guide is for interim orders only
    ]
    for order in bad:
        with pytest.raises((InvalidInput, NotFound)):
            await orders.create_order(ctx, order, CLI)
    async with ctx.database.session() as session:
        assert await session.scalar(select(models.Order.id)) is None
        assert await session.scalar(select(models.Milestone.id)) is None
        assert await session.scalar(select(models.Child.id)) is None


async def test_recording_events_moves_the_timeline_and_keeps_what_is_done(ctx: Context, clock: FixedClock) -> None:
    view = await orders.create_order(ctx, new_order(), CLI)
    ref = view.reference
    view = await orders.record_event(ctx, ref, "first_cin_meeting", date(2026, 3, 9), CLI)
    initial = next(s for s in view.steps if s.key == "initial_review")
    assert initial.state == "open" and initial.due is not None and initial.waiting_on is None
    clock.set(datetime(2026, 4, 20, 9, 0, tzinfo=UTC))
    view = await orders.record_event(ctx, ref, "initial_review", date(2026, 4, 15), CLI)
    done = next(s for s in view.steps if s.key == "initial_review")
    assert (done.state, done.done_on) == ("done", date(2026, 4, 15))
    with pytest.raises(InvalidInput, match="already recorded as done"):
        await orders.record_event(ctx, ref, "initial_review", date(2026, 4, 16), CLI)
    with pytest.raises(InvalidInput, match="in the future"):
        await orders.record_event(ctx, ref, "nine_month_review", date(2026, 5, 1), CLI)
    with pytest.raises(InvalidInput, match="has no step or event 'tea_party'"):
        await orders.record_event(ctx, ref, "tea_party", date(2026, 4, 1), CLI)
    with pytest.raises(NotFound):
        await orders.record_event(ctx, "SO-2026-0999", "initial_review", date(2026, 4, 1), CLI)


async def test_outcome_values_and_conditional_steps(ctx: Context, clock: FixedClock) -> None:
    ref = (await orders.create_order(ctx, new_order(), CLI)).reference
    clock.set(datetime(2026, 12, 14, 9, 0, tzinfo=UTC))
    with pytest.raises(InvalidInput, match="one of A, B"):
        await orders.record_event(ctx, ref, "outcome", date(2026, 12, 10), CLI, value="C")
    view = await orders.record_event(ctx, ref, "outcome", date(2026, 12, 10), CLI, value="b")
    outcome_steps = [s.key for s in view.steps if s.state == "open"]
    assert any("gateway" in key for key in outcome_steps)


async def test_allocation_and_reallocation(ctx: Context) -> None:
    ref = (await orders.create_order(ctx, new_order(), CLI)).reference
    unit = Actor("Una Unit", "una.unit@example.gov.uk")
    allocated = await orders.allocate_iro(ctx, ref, "ian reviewer", unit)
    view = allocated.order
    assert (view.iro, allocated.by, allocated.replaced) == ("Ian Reviewer", "Una Unit", None)
    allocate = next(s for s in view.steps if s.key == "allocate_iro")
    assert (allocate.state, allocate.done_on) == ("done", date(2026, 3, 10))
    with pytest.raises(InvalidInput, match="already the IRO"):
        await orders.allocate_iro(ctx, ref, "Ian Reviewer", unit)
    with pytest.raises(InvalidInput, match="could be"):
        await orders.allocate_iro(ctx, ref, "reviewer", unit)
    with pytest.raises(InvalidInput, match="is not an IRO"):
        await orders.allocate_iro(ctx, ref, "Sam Worker", unit)
    with pytest.raises(NotFound, match="The IROs are: Ian Reviewer, Ivy Reviewer"):
        await orders.allocate_iro(ctx, ref, "Nobody Atall", unit)
    allocated = await orders.allocate_iro(ctx, ref, "ivy.reviewer@example.gov.uk", unit)
    assert (allocated.order.iro, allocated.replaced) == ("Ivy Reviewer", "Ian Reviewer")
    with pytest.raises(NotAllowed, match="Only members of the Safeguarding Unit"):
        await orders.allocate_iro(ctx, ref, "Ian Reviewer", Actor("Sam Worker", "sam.worker@example.gov.uk"))
    async with ctx.database.session() as session:
        rows = (await session.scalars(select(models.Allocation).order_by(models.Allocation.id))).all()
        assert [row.active for row in rows] == [False, True]
        ian = await session.scalar(select(models.Person).where(models.Person.email == "ian.reviewer@example.gov.uk"))
        una = await session.scalar(select(models.Person).where(models.Person.email == "una.unit@example.gov.uk"))
        assert ian is not None and una is not None
        assert rows[1].replaced_iro_id == ian.id and rows[1].allocated_by_id == una.id
    assert ("order.allocate", ref, "ok") in await audit_actions(ctx.database)
    assert ("order.allocate", ref, "refused") in await audit_actions(ctx.database)


async def test_extension_moves_the_end_dated_steps_and_stops_at_three_years(ctx: Context) -> None:
    ref = (await orders.create_order(ctx, new_order(procedure="camden"), CLI)).reference
    view = await orders.extend_order(ctx, ref, date(2028, 3, 2), CLI)
    assert view.last_day == date(2028, 3, 2)
    lpm = next(s for s in view.steps if s.key == "legal_planning_meeting")
    # Camden §7: at least 1 month before expiry: 2 Mar 2028 - 1 month = Wed 2 Feb 2028.
    assert lpm.due == date(2028, 2, 2)
    with pytest.raises(InvalidInput, match="three years"):
        await orders.extend_order(ctx, ref, date(2029, 3, 3), CLI)
    view = await orders.extend_order(ctx, ref, date(2029, 3, 2), CLI)
    assert view.last_day == date(2029, 3, 2)


async def test_ending_an_order_waives_its_open_steps(ctx: Context) -> None:
    ref = (await orders.create_order(ctx, new_order(), CLI)).reference
    view = await orders.end_order(ctx, ref, "discharged", date(2026, 3, 9), CLI)
    assert view.status == "ended" and view.end_reason == "discharged"
    assert {s.state for s in view.steps} == {"waived"}
    with pytest.raises(InvalidInput, match="already ended"):
        await orders.end_order(ctx, ref, "expired", date(2026, 3, 9), CLI)
    with pytest.raises(InvalidInput, match="Only an interim order"):
        other = (await orders.create_order(ctx, new_order(child_local_id="C2", child_name="A B"), CLI)).reference
        await orders.end_order(ctx, other, "replaced", date(2026, 3, 9), CLI)


async def test_overdue_listing_and_tracker(ctx: Context, clock: FixedClock) -> None:
    clock.set(datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
    await orders.create_order(ctx, new_order(), CLI)
    assert await queries.order_summaries(ctx, overdue_only=True) == []
    clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    overdue = await queries.order_summaries(ctx, overdue_only=True)
    assert [s.reference for s in overdue] == ["SO-2026-0001"]
    assert overdue[0].overdue_count >= 1 and overdue[0].child_initials == "J.M.S."


async def test_people_reimport_updates_and_never_duplicates(ctx: Context) -> None:
    result = await people.import_people(ctx, STAFF.replace("North,tess", "South,tess"), CLI)
    assert (result.added, result.updated) == (0, 5)
    async with ctx.database.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM people")) == 5
        sam = await session.scalar(select(models.Person).where(models.Person.email == "sam.worker@example.gov.uk"))
        assert sam is not None and sam.team == "South" and sam.manager_id is not None
    with pytest.raises(InvalidInput, match="line 2: unknown role 'wizard'"):
        await people.import_people(ctx, "name,email,roles\nA,a@example.gov.uk,wizard\n", CLI)
    with pytest.raises(InvalidInput, match="manager boss@example.gov.uk"):
        await people.import_people(
            ctx, "name,email,roles,manager_email\nA,a@example.gov.uk,iro,boss@example.gov.uk\n", CLI
        )


async def test_the_social_worker_named_must_be_one(ctx: Context) -> None:
    for email in ("tess.manager@example.gov.uk", "Una.Unit@example.gov.uk"):
        with pytest.raises(InvalidInput, match="is not a social worker in the directory") as refused:
            await orders.create_order(ctx, new_order(social_worker_email=email), CLI)
        assert refused.value.field == "social_worker_email"
    tess = PersonView(1, "Tess Manager", "tess.manager@example.gov.uk", ("team_manager",), "North")
    with pytest.raises(InvalidInput, match="Tess Manager .* is not a social worker"):
        await orders.create_order(ctx, new_order(social_worker_email=tess.email), tess.actor, sender=tess)
    assert (await orders.create_order(ctx, new_order(), CLI)).social_worker == "Sam Worker"


async def test_an_iro_is_never_the_orders_social_worker_or_their_manager(ctx: Context) -> None:
    # Tess manages Sam and Sam's own manager Tess also reviews orders elsewhere; Sam is an IRO for other teams.
    await people.import_people(ctx, STAFF.replace("team_manager,North", "team_manager;iro,North")
                               .replace("social_worker,North", "social_worker;iro,North"), CLI)  # fmt: skip
    ref = (await orders.create_order(ctx, new_order(), CLI)).reference
    unit = Actor("Una Unit", "una.unit@example.gov.uk")
    for iro, whose in (("Sam Worker", "the order's social worker"), ("tess.manager@example.gov.uk",
                                                                     "the manager of Sam Worker")):  # fmt: skip
        with pytest.raises(InvalidInput, match=f"is {whose}, so cannot be the IRO for {ref}"):
            await orders.allocate_iro(ctx, ref, iro, unit)
    assert (await orders.allocate_iro(ctx, ref, "Ian Reviewer", unit)).order.iro == "Ian Reviewer"
    with pytest.raises(InvalidInput, match="cannot be the IRO"):
        await orders.allocate_iro(ctx, ref, "Tess Manager", unit)  # nor on reallocation
    # The unit's card offers only the independent IROs; an order with no social worker, every IRO.
    view = await orders.get_order(ctx, ref, CLI)
    loads = await iro_loads(ctx)
    assert {load.person.name for load in loads} == {"Ian Reviewer", "Ivy Reviewer", "Sam Worker", "Tess Manager"}
    offered = texts(cards.allocation_request(view, loads, link=LINK))
    assert "Ivy Reviewer" in offered and "Sam Worker (" not in offered and "Tess Manager (" not in offered
    again = texts(cards.allocated(view, "Una Unit", ctx.clock.now(), None, loads, link=LINK))
    assert "Reallocate to Ivy Reviewer" in again and "Reallocate to Tess" not in again
    assert "Reallocate to Sam" not in again
    unassigned = await orders.create_order(ctx, new_order(child_local_id="C2", social_worker_email=None), CLI)
    assert "Tess Manager (" in texts(cards.allocation_request(unassigned, loads, link=LINK))


async def test_an_event_before_the_order_was_made_is_refused(ctx: Context) -> None:
    ref = (await orders.create_order(ctx, new_order(), CLI)).reference
    for day in (date(2026, 3, 2), date(1, 1, 1)):
        with pytest.raises(InvalidInput, match=r"before the order was made \(03 March 2026\)"):
            await orders.record_event(ctx, ref, "first_cin_meeting", day, CLI)
    with pytest.raises(InvalidInput, match="in the future"):
        await orders.record_event(ctx, ref, "first_cin_meeting", date(9999, 12, 31), CLI)
    assert (await orders.record_event(ctx, ref, "first_cin_meeting", date(2026, 3, 3), CLI)).reference == ref


async def test_people_who_would_clash_with_the_directory_are_refused(ctx: Context) -> None:
    ian_entra = "00000000-0000-0000-0000-000000000001"
    header = "name,email,roles,team,manager_email,entra_id\n"
    with pytest.raises(InvalidInput, match=f"line 2: the Entra id {ian_entra} is ian.reviewer@example.gov.uk's"):
        await people.import_people(ctx, header + f"Ann New,ann.new@example.gov.uk,iro,,,{ian_entra}\n", CLI)
    # Sam's manager is Tess in the directory: Tess managed by Sam would close the circle.
    with pytest.raises(InvalidInput, match="line 2: tess.manager@example.gov.uk and sam.worker@example.gov.uk are "
                                           "given as each other's manager"):  # fmt: skip
        await people.import_people(
            ctx,
            header + "Tess Manager,tess.manager@example.gov.uk,team_manager,North,sam.worker@example.gov.uk,\n",
            CLI,
        )
    async with ctx.database.session() as session:
        assert await session.scalar(text("SELECT count(*) FROM people")) == 5
    # The same Entra id on the same person, and a manager moved so that no circle is left, are fine.
    moved = (header + f"Ian Reviewer,ian.reviewer@example.gov.uk,iro,IRO service,,{ian_entra}\n"
             "Sam Worker,sam.worker@example.gov.uk,social_worker,North,,\n"
             "Tess Manager,tess.manager@example.gov.uk,team_manager,North,sam.worker@example.gov.uk,\n")  # fmt: skip
    assert (await people.import_people(ctx, moved, CLI)).updated == 3
