"""Fixtures every layer shares: an empty, migrated database per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from storage import Database, upgrade
from tests.connector import RecordingConnector, recording_connector

POSTGRES_URL = os.environ.get("SOBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI") == "true"

T = TypeVar("T")


def run_apart(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on a loop of its own: fixtures may be set up while a test's loop is running."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work()).result()


class PostgresSchema:
    """One schema for the whole run, migrated once and emptied before each test; dropped at the end."""

    def __init__(self, url: str) -> None:
        self.name = f"sobot_test_{uuid.uuid4().hex[:12]}"
        server = make_url(url)
        self.url = server.update_query_dict({"search_path": self.name}).render_as_string(hide_password=False)
        self.dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        connection = await asyncpg.connect(self.dsn, timeout=5, server_settings={"search_path": self.name})
        try:
            # A test that left a transaction open would otherwise make this wait for ever.
            await connection.execute("SET lock_timeout = '10s'")
            async with connection.transaction():
                yield connection
        finally:
            await connection.close()

    async def create(self) -> None:
        async with self.transaction() as connection:
            await connection.execute(f"CREATE SCHEMA {self.name}")

    async def empty(self) -> None:
        async with self.transaction() as connection:
            tables = await connection.fetchval(
                "SELECT string_agg(quote_ident(tablename), ', ') FROM pg_tables"
                " WHERE schemaname = $1 AND tablename <> 'alembic_version'",
                self.name,
            )
            # The audit log refuses TRUNCATE too; its owner may lift that, and does so only here.
            await connection.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
            await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            await connection.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")

    async def drop(self) -> None:
        async with self.transaction() as connection:
            await connection.execute(f"DROP SCHEMA IF EXISTS {self.name} CASCADE")


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[PostgresSchema]:
    schema = PostgresSchema(POSTGRES_URL)
    try:
        run_apart(schema.create)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        where = make_url(POSTGRES_URL).render_as_string(hide_password=True)
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI (CI=true) but is not reachable at {where}: {error}")
        pytest.skip(f"PostgreSQL not reachable at {where} ({error}); set SOBOT_TEST_POSTGRES_URL")
    try:
        run_apart(lambda: upgrade(schema.url))
        yield schema
    finally:
        run_apart(schema.drop)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per run; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "sobot.db"
    run_apart(lambda: upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database: a SQLite file of this test's own, or the run's PostgreSQL schema."""
    if request.param == "sqlite":
        path = tmp_path / "sobot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    schema: PostgresSchema = request.getfixturevalue("postgres_schema")
    run_apart(schema.empty)
    return schema.url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """The records at `database_url`, migrated and empty."""
    db = Database.from_url(database_url)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def connector() -> AsyncIterator[RecordingConnector]:
    """Teams' connector service, recording what the bot sends (on loopback)."""
    async with recording_connector() as recording:
        yield recording
