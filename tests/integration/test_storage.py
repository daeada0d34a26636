"""Storage on SQLite and PostgreSQL: migrations, relationships, constraints, the append-only audit log, references."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import delete, event, insert, inspect, select, text, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, InvalidRequestError, StatementError
from sqlalchemy.orm import selectinload

import storage.database
from storage import Database, DatabaseUnavailable, models, upgrade
from storage.database import insert_at_commit, waits_for_commit
from storage.migrate import alembic_config
from storage.queries import count_due_steps

NOW = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"  # port 1 refuses at once


def person(name: str, email: str, *roles: str, **more: Any) -> models.Person:
    return models.Person(name=name, email=email, roles=list(roles), created_at=NOW, updated_at=NOW, **more)


def milestone(order_id: int, key: str, occurrence: int = 1, **more: Any) -> models.Milestone:
    fields: dict[str, Any] = {"title": key, "owner_role": "iro", "state": "open", "source": "s", "updated_at": NOW}
    return models.Milestone(order_id=order_id, key=key, occurrence=occurrence, **(fields | more))


async def add_order(database: Database, reference: str = "SO-2026-0001") -> int:
    async with database.session() as session:
        child = models.Child(local_id=f"C-{reference}", name="Jane Smith", date_of_birth=date(2019, 6, 1))
        order = models.Order(reference=reference, child=child, order_type="supervision", made=date(2026, 3, 3),
                             commenced=date(2026, 3, 3), last_day=date(2027, 3, 2), procedure_id="wirral",
                             status="open", created_at=NOW, updated_at=NOW)  # fmt: skip
        session.add(order)
        await session.flush()
        return order.id


async def tables(database: Database) -> set[str]:
    async with database.engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def test_the_schema_is_at_the_newest_migration_and_upgrading_again_changes_nothing(
    database_url: str, database: Database
) -> None:
    before = await tables(database)
    await upgrade(database_url)
    await upgrade(database_url)
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    async with database.session() as session:
        assert await session.scalar(text("SELECT version_num FROM alembic_version")) == head
    assert await tables(database) == before
    assert {"people", "children", "orders", "order_extensions", "allocations", "events", "milestones",
            "reference_counters", "audit_log"} <= before  # fmt: skip


async def test_the_migrations_make_what_the_models_describe(database: Database) -> None:
    def differences(connection: Connection) -> list[Any]:
        return compare_metadata(MigrationContext.configure(connection), models.Base.metadata)

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_every_record_round_trips_with_its_relationships(database: Database) -> None:
    order_id = await add_order(database)
    async with database.session() as session:
        manager = person("Tina Manager", "tina@example.gov.uk", "team_manager", team="North")
        worker = person("Sam Worker", "sam@example.gov.uk", "social_worker", team="North", manager=manager,
                        entra_id="5f1c0a5e-0000-4000-8000-000000000001")  # fmt: skip
        iro = person("Ian Reviewer", "ian@example.gov.uk", "iro")
        unit = person("Sue Unit", "sue@example.gov.uk", "safeguarding_unit")
        session.add_all([manager, worker, iro, unit])
        await session.flush()
        order = await session.get(models.Order, order_id)
        assert order is not None
        order.social_worker_id = worker.id
        session.add_all([
            models.OrderExtension(order_id=order_id, previous_last_day=date(2027, 3, 2),
                                  new_last_day=date(2028, 3, 2), decided_on=date(2027, 2, 1),
                                  recorded_by_id=worker.id, recorded_at=NOW),
            models.Allocation(order_id=order_id, iro_id=iro.id, allocated_by_id=unit.id, allocated_at=NOW,
                              active=True),
            models.Event(order_id=order_id, kind="outcome", occurred_on=date(2026, 12, 10), value="B",
                         recorded_by_id=iro.id, recorded_at=NOW, details="insufficient evidence"),
            milestone(order_id, "nine_month_review", due=date(2026, 12, 3), preferred_by=date(2026, 11, 26),
                      title="Nine-month review", source="Wirral § 5.4"),
            milestone(order_id, "minutes", state="waiting", waiting_on="nine_month_review"),
            models.AuditEntry(at=NOW, actor="sam@example.gov.uk", action="order.create",
                              order_reference="SO-2026-0001", outcome="ok", details={"made": "2026-03-03"}),
        ])  # fmt: skip

    async with database.session() as session:
        order = await session.scalar(
            select(models.Order).options(
                selectinload(models.Order.child),
                selectinload(models.Order.social_worker).selectinload(models.Person.manager),
                selectinload(models.Order.extensions),
                selectinload(models.Order.allocations).selectinload(models.Allocation.iro),
                selectinload(models.Order.allocations).selectinload(models.Allocation.allocated_by),
                selectinload(models.Order.events),
                selectinload(models.Order.milestones),
            )
        )
        assert order is not None
        assert (order.child.local_id, order.child.date_of_birth) == ("C-SO-2026-0001", date(2019, 6, 1))
        assert order.social_worker is not None and order.social_worker.manager is not None
        assert (order.social_worker.name, order.social_worker.manager.roles) == ("Sam Worker", ["team_manager"])
        assert [(e.previous_last_day, e.new_last_day) for e in order.extensions] == [
            (date(2027, 3, 2), date(2028, 3, 2))
        ]
        [allocation] = order.allocations
        assert allocation.active and allocation.iro.name == "Ian Reviewer"
        assert allocation.allocated_by is not None and allocation.allocated_by.roles == ["safeguarding_unit"]
        assert [(e.kind, e.value, e.details) for e in order.events] == [("outcome", "B", "insufficient evidence")]
        assert [(m.key, m.state, m.due, m.waiting_on) for m in order.milestones] == [
            ("nine_month_review", "open", date(2026, 12, 3), None),
            ("minutes", "waiting", None, "nine_month_review"),
        ]
        entry = await session.scalar(select(models.AuditEntry))
        assert entry is not None and entry.details == {"made": "2026-03-03"}
    async with database.session() as session:
        bare = await session.scalar(select(models.Order))
        assert bare is not None
        # Nothing loads by accident: an async lazy load would fail somewhere far from its cause.
        with pytest.raises(InvalidRequestError, match="lazy='raise'"):
            _ = bare.milestones


async def test_instants_come_back_aware_in_utc(database: Database) -> None:
    summer = datetime(2026, 7, 1, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    async with database.session() as session:
        session.add(models.AuditEntry(at=summer, actor="cli", action="test", outcome="ok", details={}))
    async with database.session() as session:
        entry = await session.scalar(select(models.AuditEntry))
        assert entry is not None
        assert entry.at == datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
        assert entry.at.tzinfo is not None and entry.at.utcoffset() == timedelta(0)
    with pytest.raises(StatementError, match="aware"):
        async with database.session() as session:
            session.add(models.AuditEntry(at=datetime(2026, 7, 1, 9, 0), actor="cli", action="test", outcome="ok",
                                          details={}))  # fmt: skip


async def test_emails_are_kept_in_lower_case_and_belong_to_one_person(database: Database) -> None:
    async with database.session() as session:
        session.add(person("Sam Worker", "Sam.Worker@Council.gov.uk"))
    async with database.session() as session:
        assert await session.scalar(select(models.Person.email)) == "sam.worker@council.gov.uk"
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            session.add(person("Samantha Worker", "sam.worker@council.GOV.UK"))


async def test_a_step_has_one_row_per_occurrence(database: Database) -> None:
    order_id = await add_order(database)
    async with database.session() as session:
        session.add_all([milestone(order_id, "review", 1), milestone(order_id, "review", 2)])
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            session.add(milestone(order_id, "review", 2))


async def test_an_order_has_one_active_iro_at_a_time(database: Database) -> None:
    order_id = await add_order(database)
    async with database.session() as session:
        first, second = person("Ian Reviewer", "ian@example.gov.uk", "iro"), person("Ivy", "ivy@example.gov.uk")
        session.add_all([first, second])
        await session.flush()
        session.add(models.Allocation(order_id=order_id, iro_id=first.id, allocated_at=NOW, active=True))
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            session.add(models.Allocation(order_id=order_id, iro_id=second.id, allocated_at=NOW, active=True))
    # A reallocation ends the first and starts the second in one transaction.
    async with database.session() as session:
        current = await session.scalar(select(models.Allocation))
        assert current is not None
        current.active = False
        session.add(models.Allocation(order_id=order_id, iro_id=second.id, allocated_at=NOW, active=True,
                                      replaced_iro_id=first.id))  # fmt: skip
    async with database.session() as session:
        rows = (await session.execute(select(models.Allocation.iro_id, models.Allocation.active))).all()
        assert sorted(rows) == sorted([(first.id, False), (second.id, True)])


async def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            session.add(models.Order(reference="SO-2026-0009", child_id=999, order_type="supervision",
                                     made=date(2026, 3, 3), commenced=date(2026, 3, 3), last_day=date(2027, 3, 2),
                                     procedure_id="wirral", status="open", created_at=NOW,
                                     updated_at=NOW))  # fmt: skip


async def test_the_audit_log_refuses_change_and_removal(database: Database) -> None:
    async with database.session() as session:
        session.add(models.AuditEntry(at=NOW, actor="cli", action="order.create", order_reference="SO-2026-0001",
                                      outcome="ok", details={"made": "2026-03-03"}))  # fmt: skip
    refusals = [update(models.AuditEntry).values(actor="someone else"), delete(models.AuditEntry)]
    if database.engine.dialect.name == "postgresql":
        refusals.append(text("TRUNCATE audit_log"))
    for statement in refusals:
        with pytest.raises(DBAPIError, match="append-only"):
            async with database.session() as session:
                await session.execute(statement)
    async with database.session() as session:
        entries = (await session.scalars(select(models.AuditEntry))).all()
        assert [(e.actor, e.details) for e in entries] == [("cli", {"made": "2026-03-03"})]


async def test_order_numbers_count_up_per_year(database: Database) -> None:
    async with database.session() as session:
        numbers = [await models.next_order_number(session, 2026) for _ in range(3)]
        numbers.append(await models.next_order_number(session, 2027))
    async with database.session() as session:
        numbers.append(await models.next_order_number(session, 2026))
    assert numbers == [1, 2, 3, 1, 4]


async def test_concurrent_callers_never_share_an_order_number(database: Database) -> None:
    async def take() -> int:
        async with database.session() as session:
            number = await models.next_order_number(session, 2026)
            await asyncio.sleep(0)  # let the others queue behind this transaction
            return number

    numbers = await asyncio.gather(*(take() for _ in range(20)))
    assert sorted(numbers) == list(range(1, 21))


async def test_a_number_taken_in_a_transaction_that_fails_is_given_again(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.session() as session:
            assert await models.next_order_number(session, 2026) == 1
            raise RuntimeError("the order was refused")
    async with database.session() as session:
        assert await models.next_order_number(session, 2026) == 1


async def test_due_steps_are_counted_for_open_orders_only(database: Database) -> None:
    order_id = await add_order(database)
    ended_id = await add_order(database, "SO-2026-0002")
    async with database.session() as session:
        session.add_all([
            milestone(order_id, "a", due=date(2026, 3, 5)),
            milestone(order_id, "b", due=date(2026, 3, 6)),
            milestone(order_id, "c", due=date(2026, 3, 9)),  # not due yet
            milestone(order_id, "d", due=date(2026, 3, 4), state="done"),
            milestone(ended_id, "a", due=date(2026, 3, 4)),
        ])  # fmt: skip
        ended = await session.get(models.Order, ended_id)
        assert ended is not None
        ended.status = "ended"
    assert await count_due_steps(database, date(2026, 3, 6)) == 2


async def test_an_unreachable_database_is_reported_as_unavailable() -> None:
    database = Database.from_url(UNREACHABLE)
    try:
        with pytest.raises(DatabaseUnavailable, match="127.0.0.1:1"):
            await database.ping()
        with pytest.raises(DatabaseUnavailable):
            async with database.session() as session:
                await session.execute(text("SELECT 1"))
    finally:
        await database.dispose()
    with pytest.raises(DatabaseUnavailable):
        await upgrade(UNREACHABLE)


async def test_a_sqlite_file_that_cannot_be_opened_is_reported_as_unavailable(tmp_path: Path) -> None:
    (tmp_path / "var").write_text("a file where the folder should be")
    database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path}/var/sobot.db")
    try:
        with pytest.raises(DatabaseUnavailable):
            await database.ping()
    finally:
        await database.dispose()


async def test_a_fresh_install_gets_its_folder_and_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/var/sobot.db"
    await upgrade(url)
    database = Database.from_url(url)
    try:
        assert await database.ping()
        assert "orders" in await tables(database)
    finally:
        await database.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_database_the_server_does_not_have_is_reported_as_unavailable(database_url: str) -> None:
    database = Database.from_url(make_url(database_url).set(database="sobot_no_such_database").render_as_string(False))
    try:
        with pytest.raises(DatabaseUnavailable, match="sobot_no_such_database"):
            await database.ping()
    finally:
        await database.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_connection_lost_mid_transaction_is_reported_and_the_next_one_works(database: Database) -> None:
    with pytest.raises(DatabaseUnavailable, match="lost the connection"):
        async with database.session() as session:
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
            async with database.session() as other:
                await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await session.execute(text("SELECT 1"))
    assert await database.ping()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_read_holds_no_transaction_and_a_session_holds_one(database: Database) -> None:
    # pg_current_xact_id() starts a transaction when there is none: alike twice only inside one transaction.
    xact = text("SELECT pg_current_xact_id()::text")
    async with database.read() as session:
        lone = [await session.scalar(xact), await session.scalar(xact)]
    async with database.session() as session:
        together = [await session.scalar(xact), await session.scalar(xact)]
    assert lone[0] != lone[1]
    assert together[0] == together[1]


async def test_a_write_in_a_read_stands(database: Database) -> None:
    async with database.read() as session:
        await session.execute(text("INSERT INTO children (local_id, name) VALUES ('C-READ', 'Read Child')"))
    async with database.session() as session:
        assert await session.scalar(text("SELECT name FROM children WHERE local_id = 'C-READ'")) == "Read Child"


async def test_a_batch_is_one_transaction_its_sessions_savepoints_undone_alone_and_its_parts_written_straight_in(
    database: Database, database_url: str
) -> None:
    """Sessions in a batch are savepoints of one transaction, which nobody else sees before it commits, and which
    is undone whole when the batch fails (on SQLite too, where the driver opens no transaction before a write). In a
    part(), a session opened with own_savepoint=False writes straight into the batch: no SAVEPOINT at all."""
    other = Database.from_url(database_url)
    add = text("INSERT INTO children (local_id, name) VALUES (:local_id, 'Batch Child')")
    ours = text("SELECT local_id FROM children WHERE name = 'Batch Child' ORDER BY local_id")
    statements: list[str] = []
    event.listen(database.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: statements.append(statement.split()[0]))  # fmt: skip

    async def seen_by_others() -> list[str]:
        async with other.read() as session:
            return list((await session.scalars(ours)).all())

    try:
        async with database.batch():
            async with database.session() as session:
                await session.execute(add, {"local_id": "C-1"})
            with pytest.raises(IntegrityError):
                async with database.session() as session:
                    await session.execute(add, {"local_id": "C-1"})  # a child ID is one child's
            statements.clear()
            async with database.part(), database.session(own_savepoint=False) as session:
                await session.execute(add, {"local_id": "C-2"})
            assert statements == ["INSERT"]
            async with database.read() as session:
                assert list((await session.scalars(ours)).all()) == ["C-1", "C-2"]  # the batch's own
            assert await seen_by_others() == []
        assert await seen_by_others() == ["C-1", "C-2"]

        with pytest.raises(LookupError):
            async with database.batch():
                async with database.part(), database.session(own_savepoint=False) as session:
                    await session.execute(add, {"local_id": "C-3"})
                raise LookupError("the batch fails after its part was written")
        assert await seen_by_others() == ["C-1", "C-2"]
    finally:
        await other.dispose()


async def test_rows_left_for_a_batchs_commit_go_in_one_statement_then_and_are_read_by_any_session_after_them(
    database: Database, database_url: str
) -> None:
    """In a part of a batch, insert_at_commit leaves its rows for the commit, where the rows of all its parts go in
    one statement; a session (or read) opened later in the batch finds them, inserted as it begins; a batch undone
    leaves none; outside a batch they are inserted at once."""
    other = Database.from_url(database_url)
    add = insert(models.Child.__table__)
    ours = text("SELECT local_id FROM children WHERE name = 'Later Child' ORDER BY local_id")
    inserts: list[int] = []
    event.listen(database.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, parameters, _ctx, many: inserts.append(len(parameters) if many else 1)
                 if statement.startswith("INSERT INTO children") else None)  # fmt: skip

    def child(local_id: str) -> dict[str, Any]:
        return {"local_id": local_id, "name": "Later Child", "date_of_birth": None}

    async def seen_by_others() -> list[str]:
        async with other.read() as session:
            return list((await session.scalars(ours)).all())

    try:
        async with database.batch():
            for local_id in ("C-1", "C-2"):
                async with database.part(), database.session(own_savepoint=False) as session:
                    assert waits_for_commit(session)
                    await insert_at_commit(session, add, [child(local_id)])
            assert inserts == []
        assert inserts == [2] and await seen_by_others() == ["C-1", "C-2"]

        inserts.clear()
        async with database.batch():
            async with database.part(), database.session(own_savepoint=False) as session:
                await insert_at_commit(session, add, [child("C-3")])
            async with database.read() as reading:
                assert list((await reading.scalars(ours)).all()) == ["C-1", "C-2", "C-3"]
            assert inserts == [1]
            async with database.part(), database.session(own_savepoint=False) as session:
                await insert_at_commit(session, add, [child("C-4")])
        assert inserts == [1, 1] and await seen_by_others() == ["C-1", "C-2", "C-3", "C-4"]

        with pytest.raises(LookupError):
            async with database.batch():
                async with database.part(), database.session(own_savepoint=False) as session:
                    await insert_at_commit(session, add, [child("C-5")])
                raise LookupError("the batch fails after its part left its row")
        assert await seen_by_others() == ["C-1", "C-2", "C-3", "C-4"]

        inserts.clear()
        async with database.session() as session:
            assert not waits_for_commit(session)
            await insert_at_commit(session, add, [child("C-6")])
            assert inserts == [1]
    finally:
        await other.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("idle", [0.0, 3600.0])
async def test_a_pooled_connection_is_tested_before_use_only_after_sitting_idle(
    database_url: str, idle: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.database, "IDLE_PING_SECONDS", idle)
    database = Database.from_url(database_url)
    pings: list[object] = []
    ping = database.engine.sync_engine.dialect.do_ping
    monkeypatch.setattr(database.engine.sync_engine.dialect, "do_ping", lambda c: pings.append(c) or ping(c))
    try:
        for _ in range(3):
            async with database.session() as session:
                assert await session.scalar(text("SELECT 1")) == 1
    finally:
        await database.dispose()
    # The first checkout is a new connection; the two after it reuse it, tested only when "idle" is no time at all.
    assert len(pings) == (2 if idle == 0 else 0)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_pooled_connection_the_server_closed_is_replaced_unseen(database_url: str) -> None:
    database = Database.from_url(database_url)
    returned: list[Any] = []
    pool = database.engine.sync_engine.pool
    event.listen(pool, "checkin", lambda _connection, record: returned.append(record.driver_connection))
    try:
        async with database.session() as session:
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
        [pooled] = returned
        gone = asyncio.Event()
        pooled.add_termination_listener(lambda _connection: gone.set())
        admin = Database.from_url(database_url)
        async with admin.session() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await admin.dispose()
        # The server's goodbye arrives when its backend has exited, however long a loaded machine takes.
        await asyncio.wait_for(gone.wait(), timeout=60)
        assert pooled.is_closed()
        async with database.session() as session:
            assert await session.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await database.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_records_live_in_the_schema_the_url_names(database_url: str, database: Database) -> None:
    schema = make_url(database_url).query["search_path"]
    async with database.session() as session:
        assert await session.scalar(text("SELECT current_schema()")) == schema
        assert await session.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f"{schema}.orders"})


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    server = make_url(database_url)
    schema = f"{server.query['search_path']}_fresh"
    fresh = server.update_query_dict({"search_path": schema}).render_as_string(False)
    admin = Database.from_url(server.difference_update_query(["search_path"]).render_as_string(False))
    replica = "import asyncio, sys, storage; asyncio.run(storage.upgrade(sys.argv[1]))"
    try:
        async with admin.session() as session:
            await session.execute(text(f"CREATE SCHEMA {schema}"))
        replicas = [await asyncio.create_subprocess_exec(sys.executable, "-c", replica, fresh) for _ in range(2)]
        assert [await r.wait() for r in replicas] == [0, 0]
        async with admin.session() as session:
            assert await session.scalar(text(f"SELECT count(*) FROM {schema}.alembic_version")) == 1
    finally:
        async with admin.session() as session:
            await session.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        await admin.dispose()


async def test_database_errors_carry_no_personal_data(database: Database) -> None:
    async with database.session() as session:
        session.add(models.Child(local_id="C-PRIV", name="Amelia Quinton-Smythe"))
    with pytest.raises(IntegrityError) as refused:
        async with database.session() as session:
            session.add(models.Child(local_id="C-PRIV", name="Amelia Quinton-Smythe", date_of_birth=date(2019, 6, 1)))
    assert "Amelia" not in str(refused.value) and "2019-06-01" not in str(refused.value)


async def test_a_pool_with_no_connection_free_is_a_database_unavailable(database_url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from storage import DatabaseUnavailable
    from storage.database import Database

    url = database_url.split("?")[0]
    busy = Database(create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2))
    try:
        async with busy.session() as holding:
            await holding.execute(text("SELECT 1"))
            with pytest.raises(DatabaseUnavailable, match="no database connection came free in time"):
                async with busy.session() as waiting:
                    await waiting.execute(text("SELECT 1"))
    finally:
        await busy.dispose()


async def test_upgrading_a_sqlite_file_that_holds_orders_keeps_them(tmp_path: Path) -> None:
    """The later migrations copy tables on SQLite (batch mode): an authority's records must survive them."""
    import asyncio

    from alembic import command
    from sqlalchemy import text

    from storage.database import Database
    from storage.migrate import alembic_config, upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'sobot.db'}"
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0005")
    old = Database.from_url(url)
    try:
        async with old.session() as session:
            for statement in (
                "INSERT INTO children (id, local_id, name) VALUES (1, 'C1', 'Ann Other')",
                "INSERT INTO orders (id, reference, child_id, order_type, made, commenced, last_day, procedure_id,"
                " status, created_at, updated_at) VALUES (1, 'SO-2026-0001', 1, 'supervision', '2026-03-03',"
                " '2026-03-03', '2027-03-02', 'wirral', 'open', '2026-03-03 10:00:00', '2026-03-03 10:00:00')",
                "INSERT INTO milestones (id, order_id, key, occurrence, title, owner_role, due, state, source,"
                " updated_at) VALUES (1, 1, 'case_summary', 1, 'Case summary', 'social_worker', '2026-03-17', 'open',"
                " 'wirral §3', '2026-03-03 10:00:00')",
                "INSERT INTO notifications (dedupe_key, order_id, milestone_id, kind, role, state, not_before,"
                " attempts, created_at) VALUES ('k', 1, 1, 'reminder', 'social_worker', 'queued',"
                " '2026-03-05 08:30:00', 0, '2026-03-03 10:00:00')",
            ):
                await session.execute(text(statement))
    finally:
        await old.dispose()
    await upgrade(url)
    new = Database.from_url(url)
    try:
        async with new.session() as session:
            order = (await session.execute(text("SELECT reference, form_id FROM orders"))).all()
            step = (await session.execute(text("SELECT key, notify_on FROM milestones"))).all()
            note = (await session.execute(text("SELECT dedupe_key, person_id, payload FROM notifications"))).all()
            version = await session.scalar(text("SELECT version_num FROM alembic_version"))
    finally:
        await new.dispose()
    assert order == [("SO-2026-0001", None)]
    assert step == [("case_summary", "1970-01-01")]
    assert note == [("k", None, "{}")]
    from alembic.script import ScriptDirectory

    assert version == ScriptDirectory.from_config(alembic_config(url)).get_current_head()
