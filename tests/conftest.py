"""Fixtures every layer shares: a fresh, migrated database per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from storage import Database, upgrade

POSTGRES_URL = os.environ.get("SOBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI") == "true"


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(_dsn(url), timeout=5)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def run_apart(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion on its own loop: session fixtures may be built inside a running one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, work()).result()


class PostgresTemplate:
    """A migrated database made once per run; each test gets a copy of it, dropped afterwards."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.run = uuid.uuid4().hex[:8]
        self.template = f"sobot_template_{self.run}"
        self.made: list[str] = []

    def url_for(self, database: str) -> str:
        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    def start(self) -> None:
        run_apart(lambda: _admin(self.url, f'CREATE DATABASE "{self.template}"'))
        self.made.append(self.template)
        run_apart(lambda: upgrade(self.url_for(self.template)))

    async def copy(self) -> str:
        name = f"sobot_test_{self.run}_{uuid.uuid4().hex[:8]}"
        await _admin(self.url, f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name

    async def drop(self, name: str) -> None:
        await _admin(self.url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def finish(self) -> None:
        for name in self.made:
            run_apart(lambda name=name: self.drop(name))  # type: ignore[misc]


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    template = PostgresTemplate(POSTGRES_URL)
    try:
        template.start()
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        reason = f"PostgreSQL is not reachable at {_dsn(POSTGRES_URL)} ({error}); set SOBOT_TEST_POSTGRES_URL"
        if IN_CI:
            pytest.fail(f"{reason}. CI requires PostgreSQL for the storage and scheduler tests.")
        pytest.skip(reason)
    yield template
    template.finish()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "sobot.db"
    run_apart(lambda: upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated database's URL: a SQLite file, or a PostgreSQL database copied from the template."""
    if request.param == "sqlite":
        path = tmp_path / "sobot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template: PostgresTemplate = request.getfixturevalue("postgres_template")
    name = await template.copy()
    try:
        yield template.url_for(name)
    finally:
        await template.drop(name)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database.from_url(database_url)
    try:
        yield db
    finally:
        await db.dispose()
