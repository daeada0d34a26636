"""Storage on SQLite and PostgreSQL: migrations, constraints, the append-only audit log, references."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from storage import Database, DatabaseUnavailable, models, upgrade
from storage.queries import count_due_steps

NOW = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)


async def add_order(database: Database, reference: str = "SO-2026-0001") -> int:
    async with database.session() as session:
        child = models.Child(local_id=f"C-{reference}", name="Jane Smith", date_of_birth=date(2019, 6, 1))
        order = models.Order(reference=reference, child=child, order_type="supervision", made=date(2026, 3, 3),
                             commenced=date(2026, 3, 3), last_day=date(2027, 3, 2), procedure_id="wirral",
                             status="open", created_at=NOW, updated_at=NOW)  # fmt: skip
        session.add(order)
        await session.flush()
        return order.id


async def test_migrations_are_idempotent(database_url: str, database: Database) -> None:
    await upgrade(database_url)
    async with database.session() as session:
        assert await session.scalar(text("SELECT version_num FROM alembic_version")) == "0005"


async def test_records_round_trip_with_relationships(database: Database) -> None:
    order_id = await add_order(database)
    async with database.session() as session:
        iro = models.Person(name="Ian Reviewer", email="ian@example.gov.uk", roles=["iro"], created_at=NOW,
                            updated_at=NOW)  # fmt: skip
        session.add(iro)
        await session.flush()
        session.add(models.Allocation(order_id=order_id, iro_id=iro.id, allocated_at=NOW, active=True))
        session.add(models.Event(order_id=order_id, kind="first_cin_meeting", occurred_on=date(2026, 3, 20),
                                 recorded_at=NOW))  # fmt: skip
        session.add(models.Milestone(order_id=order_id, key="nine_month_review", occurrence=1, title="Review",
                                     owner_role="iro", due=date(2026, 12, 3), state="open", source="x § 5.4",
                                     updated_at=NOW))  # fmt: skip
    async with database.session() as session:
        from sqlalchemy.orm import selectinload

        order = await session.scalar(
            select(models.Order).options(
                selectinload(models.Order.allocations).selectinload(models.Allocation.iro),
                selectinload(models.Order.events),
                selectinload(models.Order.milestones),
                selectinload(models.Order.child),
            )
        )
        assert order is not None
        assert order.allocations[0].iro.roles == ["iro"]
        assert order.events[0].occurred_on == date(2026, 3, 20)
        assert order.milestones[0].due == date(2026, 12, 3)
        assert order.child.date_of_birth == date(2019, 6, 1)
        # Instants come back aware, in UTC, whatever the backend stores.
        assert order.created_at == NOW and order.created_at.tzinfo is not None
        assert order.created_at.utcoffset() == timedelta(0)


async def test_an_aware_instant_in_another_zone_is_stored_as_utc(database: Database) -> None:
    summer = datetime(2026, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    async with database.session() as session:
        session.add(models.AuditEntry(at=summer, actor="cli", action="test", outcome="ok", details={}))
    async with database.session() as session:
        entry = await session.scalar(select(models.AuditEntry))
        assert entry is not None and entry.at == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


async def test_unique_constraints(database: Database) -> None:
    order_id = await add_order(database)
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            for _ in range(2):
                session.add(models.Milestone(order_id=order_id, key="review", occurrence=1, title="Review",
                                             owner_role="iro", state="open", source="s", updated_at=NOW))  # fmt: skip
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            for name in ("A", "B"):
                session.add(models.Person(name=name, email="same@example.gov.uk", roles=[], created_at=NOW,
                                          updated_at=NOW))  # fmt: skip


async def test_the_audit_log_refuses_change_and_removal(database: Database) -> None:
    async with database.session() as session:
        session.add(models.AuditEntry(at=NOW, actor="cli", action="order.create", order_reference="SO-2026-0001",
                                      outcome="ok", details={"made": "2026-03-03"}))  # fmt: skip
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.session() as session:
            await session.execute(update(models.AuditEntry).values(actor="someone else"))
    with pytest.raises(DBAPIError, match="append-only"):
        async with database.session() as session:
            await session.execute(delete(models.AuditEntry))
    async with database.session() as session:
        entries = (await session.scalars(select(models.AuditEntry))).all()
        assert [(e.actor, e.details) for e in entries] == [("cli", {"made": "2026-03-03"})]


async def test_order_numbers_count_up_per_year(database: Database) -> None:
    async with database.session() as session:
        numbers = [await models.next_order_number(session, 2026) for _ in range(3)]
        numbers.append(await models.next_order_number(session, 2027))
    assert numbers == [1, 2, 3, 1]


async def test_concurrent_callers_never_share_an_order_number(database: Database) -> None:
    async def take() -> int:
        async with database.session() as session:
            return await models.next_order_number(session, 2026)

    numbers = await asyncio.gather(*(take() for _ in range(20)))
    assert sorted(numbers) == list(range(1, 21))


async def test_due_steps_are_counted_for_open_orders_only(database: Database) -> None:
    order_id = await add_order(database)
    ended_id = await add_order(database, "SO-2026-0002")
    async with database.session() as session:
        for oid, key, due, state in [
            (order_id, "a", date(2026, 3, 5), "open"),
            (order_id, "b", date(2026, 3, 6), "open"),
            (order_id, "c", date(2026, 3, 9), "open"),  # not due yet
            (order_id, "d", date(2026, 3, 4), "done"),
            (ended_id, "a", date(2026, 3, 4), "open"),
        ]:
            session.add(models.Milestone(order_id=oid, key=key, occurrence=1, title=key, owner_role="iro", due=due,
                                         state=state, source="s", updated_at=NOW))  # fmt: skip
        ended = await session.get(models.Order, ended_id)
        assert ended is not None
        ended.status = "ended"
    assert await count_due_steps(database, date(2026, 3, 6)) == 2


async def test_an_unreachable_database_is_reported_as_unavailable() -> None:
    database = Database.from_url("postgresql+asyncpg://postgres@127.0.0.1:1/nothing")
    try:
        with pytest.raises(DatabaseUnavailable):
            await database.ping()
        with pytest.raises(DatabaseUnavailable):
            async with database.session() as session:
                await session.execute(text("SELECT 1"))
    finally:
        await database.dispose()
    with pytest.raises(DatabaseUnavailable):
        await upgrade("postgresql+asyncpg://postgres@127.0.0.1:1/nothing")
