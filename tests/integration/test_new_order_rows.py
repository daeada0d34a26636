"""A new order is written with bulk statements: its rows are those the ORM keeps, its view the one read back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from handlers import conversations, orders, people, records
from handlers.context import CLI, Actor, Context
from handlers.directory import identify
from handlers.receipts import Receipt
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from storage import Database, models, statements

STAFF = """name,email,roles,team,manager_email,entra_id
Sam Worker,sam.worker@example.gov.uk,social_worker,North,,entra-sam
"""
SAM = Actor("Sam Worker", "sam.worker@example.gov.uk")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))


@pytest.fixture
async def ctx(database: Database, clock: FixedClock) -> Context:
    context = Context(database, load_builtin(), WorkingCalendar(), clock, default_procedure="wirral")
    await people.import_people(context, STAFF, CLI)
    return context


def columns(row: object, table: Any) -> dict[str, Any]:
    return {column.key: getattr(row, column.key) for column in table.columns}


@pytest.mark.parametrize(
    ("procedure", "order_type", "made"),
    [
        ("wirral", "supervision", date(2026, 3, 3)),
        ("camden", "interim_supervision", date(2026, 2, 1)),
        ("sussex", "supervision", date(2025, 5, 31)),
        ("leicestershire", "supervision", date(2026, 1, 5)),
        ("bradford", "interim_supervision", date(2026, 1, 5)),
    ],
)
async def test_a_new_orders_rows_are_what_materialise_keeps(
    ctx: Context, database: Database, procedure: str, order_type: str, made: date
) -> None:
    # The court sets an interim order's end; a supervision order lasts its year.
    months = 6 if order_type == "interim_supervision" else None
    new = orders.NewOrder(child_local_id=" C1 ", child_name=" Jane Mary Smith ", order_type=order_type, made=made,
                          months=months, procedure=procedure, social_worker_email="Sam.Worker@example.gov.uk",
                          court=" Court ", notes=" a note ")  # fmt: skip
    view = await orders.create_order(ctx, new, SAM, Receipt("<one@example.gov.uk>", "sam.worker@example.gov.uk"))

    assert view == await orders.get_order(ctx, view.reference, CLI)
    assert view.steps and view.social_worker == "Sam Worker" and view.child_initials == "J.M.S."
    async with database.session() as session:
        order = await records.order(session, view.reference)
        stored = [columns(row, records.MILESTONES) for row in order.milestones]
        assert [(row["key"], row["occurrence"]) for row in stored] == [
            (step.key, step.occurrence)
            for step in records.first_timeline(ctx, ctx.procedures[procedure], records.facts(order))
        ]
        assert (order.court, order.notes, order.status, order.child.local_id) == ("Court", "a note", "open", "C1")
        # The ORM's own bookkeeping finds nothing to change, and nothing to add.
        await records.materialise(ctx, session, order)
        assert not session.new and not any(session.is_modified(row) for row in order.milestones)
        assert [columns(row, records.MILESTONES) for row in order.milestones] == stored
        audit = await session.scalar(select(models.AuditEntry).where(models.AuditEntry.action == "order.create"))
        receipt = await session.scalar(select(models.ProcessedMail))
    assert audit is not None and (audit.actor, audit.order_reference, audit.at) == (SAM.label, view.reference,
                                                                                     ctx.clock.now())  # fmt: skip
    assert audit.details == {"procedure": procedure, "order_type": order_type, "made": made.isoformat(),
                             "last_day": view.last_day.isoformat()}  # fmt: skip
    assert receipt is not None and receipt.order_reference == view.reference


async def test_a_known_child_keeps_its_recorded_name_and_gains_a_birthday(ctx: Context, database: Database) -> None:
    first = await orders.create_order(ctx, orders.NewOrder("C1", "Jane Smith", "supervision", date(2026, 3, 3)), CLI)
    again = orders.NewOrder("C1", "JANE SMITH", "supervision", date(2026, 3, 4), child_date_of_birth=date(2019, 6, 1))
    second = await orders.create_order(ctx, again, CLI)

    assert (first.reference, second.reference) == ("SO-2026-0001", "SO-2026-0002")
    assert second.child_name == "Jane Smith" and second == await orders.get_order(ctx, second.reference, CLI)
    async with database.session() as session:
        children = (await session.scalars(select(models.Child))).all()
    assert [(c.local_id, c.name, c.date_of_birth) for c in children] == [("C1", "Jane Smith", date(2019, 6, 1))]


async def test_an_unchanged_conversation_is_not_read_again_until_its_entry_expires(
    ctx: Context, database: Database, clock: FixedClock
) -> None:
    sam = await identify(ctx, "entra-sam", None)
    recent = conversations.RecentReferences(ttl=timedelta(minutes=5))
    reference = {"conversation": {"id": "a:sam"}, "serviceUrl": "https://smba.example/"}

    async def remember(url: str = "https://smba.example/") -> None:
        await conversations.remember(ctx, conversation_id="a:sam", kind="personal", service_url=url,
                                     reference=reference, person=sam, recent=recent)  # fmt: skip

    async def stale() -> bool:
        async with database.session() as session:
            row = await session.scalar(select(models.ConversationReference))
            assert row is not None
            return row.stale

    await remember()
    await conversations.mark_stale(ctx, "a:sam")  # as another process would: this one's entry stands
    await remember()
    assert await stale()
    clock.advance(timedelta(minutes=5))
    await remember()
    assert not await stale()

    await conversations.mark_stale(ctx, "a:sam", recent)  # this process: its entry is forgotten at once
    await remember()
    assert not await stale()

    await remember("https://smba.elsewhere.example/")  # a changed reference is always written
    async with database.session() as session:
        assert await session.scalar(select(models.ConversationReference.service_url)) == (
            "https://smba.elsewhere.example/"
        )


async def test_an_emailed_orders_receipts_request_and_audit_line_are_written_in_its_last_statement(
    ctx: Context, database: Database
) -> None:
    """An order from the unit's mailbox: its receipt, its message's, the allocation request and the audit line. On
    PostgreSQL they are one statement (each row a CTE), after one more: the child, the year's number and (the child
    being new) the order with its steps. In a batch of the mail poll, they are inserted as the batch commits."""
    first = orders.NewOrder(child_local_id="C1", child_name="Jane Smith", order_type="supervision",
                            made=date(2026, 3, 3), social_worker_email="sam.worker@example.gov.uk")  # fmt: skip
    await orders.create_order(ctx, first, SAM)  # the year's first: its number row is made
    statements: list[str] = []
    event.listen(database.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: statements.append(statement.split()[0]))  # fmt: skip
    new = orders.NewOrder(child_local_id="C2", child_name="Amy Brown", order_type="supervision", made=date(2026, 3, 3),
                          social_worker_email="sam.worker@example.gov.uk")  # fmt: skip
    message = "<order@example.gov.uk>"
    view = await orders.create_order(ctx, new, SAM, Receipt(message, SAM.email, 1), ask_unit_at="unit@example.gov.uk",
                                     filed=Receipt(message, SAM.email))  # fmt: skip

    written = [s for s in statements if s not in ("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT")]
    postgresql = database.engine.dialect.name == "postgresql"
    # The social worker looked up; the child, the year's number, the order, its steps; then the rest.
    assert written == ["SELECT"] + (
        ["WITH", "WITH"] if postgresql else ["INSERT", "UPDATE", "INSERT", "INSERT", "INSERT", "INSERT", "INSERT"]
    )
    async with database.session() as session:
        receipts = (await session.execute(select(models.ProcessedMail.part, models.ProcessedMail.order_reference)
                                          .where(models.ProcessedMail.message_id == message)
                                          .order_by(models.ProcessedMail.part))).all()  # fmt: skip
        asked = await session.scalar(select(models.Notification.address)
                                     .where(models.Notification.kind == "allocation"))  # fmt: skip
        audit = await session.scalar(select(models.AuditEntry.order_reference)
                                     .where(models.AuditEntry.action == "order.create")
                                     .order_by(models.AuditEntry.id.desc()).limit(1))  # fmt: skip
    assert [tuple(r) for r in receipts] == [(0, None), (1, view.reference)]
    assert asked == "unit@example.gov.uk" and audit == view.reference


async def test_in_a_mail_batch_an_order_for_a_new_child_is_written_in_one_statement_on_postgresql_three_on_sqlite(
    ctx: Context, database: Database
) -> None:
    """In a part of a batch, an order for a child never seen: the child, the year's number and the order (with its
    steps on PostgreSQL) before the commit; its steps (on SQLite), receipts, audit line and allocation request as the
    batch commits, each kind one statement for the batch. A known child's order is written after its child."""
    await orders.create_order(ctx, orders.NewOrder("C1", "Jane Smith", "supervision", date(2026, 3, 3)), CLI)
    statements: list[str] = []
    event.listen(database.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: statements.append(" ".join(statement.split()[:3])))  # fmt: skip
    made: list[str] = []
    async with database.batch():
        for number, (child_id, name) in enumerate([("C2", "Amy Brown"), ("C3", "Ben Brown"), ("C1", "Jane Smith")]):
            message = f"<order-{number}@example.gov.uk>"
            async with database.part():
                view = await orders.create_order(
                    ctx, orders.NewOrder(child_id, name, "supervision", date(2026, 3, 4)), SAM,
                    Receipt(message, SAM.email, 1), ask_unit_at="unit@example.gov.uk",
                    filed=Receipt(message, SAM.email),
                )  # fmt: skip
            made.append(view.reference)
        before_commit = list(statements)
    postgresql = database.engine.dialect.name == "postgresql"
    child_order = ["WITH new_child AS"] if postgresql else ["INSERT INTO children", "UPDATE reference_counters SET",
                                                            "INSERT INTO orders"]  # fmt: skip
    known = (["WITH new_child AS", "SELECT children.id, children.name,", "WITH new_order AS"] if postgresql
             else ["INSERT INTO children", "UPDATE reference_counters SET", "SELECT children.id, children.name,",
                   "INSERT INTO orders"])  # fmt: skip
    assert [s for s in before_commit if not s.startswith("BEGIN")] == child_order * 2 + known
    at_commit = statements[len(before_commit) :]
    assert at_commit == ([] if postgresql else ["INSERT INTO milestones"]) + [
        "INSERT INTO audit_log", "INSERT INTO notifications", "INSERT INTO processed_mail"]  # fmt: skip
    assert made == ["SO-2026-0002", "SO-2026-0003", "SO-2026-0004"]
    for reference in made:
        assert await orders.get_order(ctx, reference, CLI) == await orders.get_order(ctx, reference, CLI)
    async with database.session() as session:
        stored = (await session.execute(select(models.Order.reference, models.Child.local_id).join(models.Child)
                                        .order_by(models.Order.id))).all()  # fmt: skip
        steps = await session.scalar(select(func.count()).select_from(models.Milestone))
        asked = (await session.scalars(select(models.Notification.dedupe_key).order_by(models.Notification.id))).all()
    assert [tuple(row) for row in stored] == [("SO-2026-0001", "C1"), ("SO-2026-0002", "C2"), ("SO-2026-0003", "C3"),
                                              ("SO-2026-0004", "C1")]  # fmt: skip
    assert steps == 4 * len((await orders.get_order(ctx, "SO-2026-0001", CLI)).steps)
    assert asked == [f"allocation:{reference}" for reference in made]


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_reference_written_by_postgresql_is_the_one_python_writes_past_the_ten_thousandth(
    ctx: Context, database: Database
) -> None:
    """The order written with a new child takes its reference from PostgreSQL's own formatting of the number:
    the same as statements.reference gives, four digits at least and more past 9999."""
    await orders.create_order(ctx, orders.NewOrder("C0", "Jane Smith", "supervision", date(2026, 3, 3)), CLI)
    for last, child_id in ((8, "C1"), (9998, "C2"), (99_999, "C3")):
        async with database.session() as session:
            await session.execute(update(models.ReferenceCounter).values(last=last))
        view = await orders.create_order(ctx, orders.NewOrder(child_id, "Amy Brown", "supervision",
                                                              date(2026, 3, 3)), CLI)  # fmt: skip
        assert view.reference == statements.reference(2026, last + 1) == (await orders.get_order(
            ctx, view.reference, CLI)).reference  # fmt: skip
    assert [statements.reference(2026, n) for n in (9, 9999, 100_000)] == ["SO-2026-0009", "SO-2026-9999",
                                                                          "SO-2026-100000"]  # fmt: skip


async def test_a_refused_child_in_a_mail_batch_leaves_its_number_for_the_next_order(
    ctx: Context, database: Database
) -> None:
    """In the mail poller's batch an order is written in the batch's own transaction: refused for its child's name
    after the year's number was taken with the child, it gives the number back, so the next order has it."""

    def order(child_id: str, name: str) -> orders.NewOrder:
        return orders.NewOrder(child_local_id=child_id, child_name=name, order_type="supervision",
                               made=date(2026, 3, 3), social_worker_email="sam.worker@example.gov.uk")  # fmt: skip

    first = await orders.create_order(ctx, order("C1", "Jane Smith"), SAM)
    async with database.batch():
        with pytest.raises(orders.InvalidInput, match="already recorded with another name"):
            async with database.part():
                await orders.create_order(ctx, order("C1", "Joan Smythe"), SAM)
        async with database.part():
            second = await orders.create_order(ctx, order("C2", "Amy Brown"), SAM)
    assert (first.reference, second.reference) == ("SO-2026-0001", "SO-2026-0002")
