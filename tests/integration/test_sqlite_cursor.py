"""SQLite through storage.sqlite_cursor: each statement one hand-over to the driver's thread, and what SQLAlchemy
reads of a cursor (rows, row counts, the last row id, errors) as the adapter's own cursor gives it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from storage import Database
from storage.sqlite_cursor import OneHopCursor


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'cursor.db'}")
    async with database.engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)")
    yield database
    await database.dispose()


@pytest.fixture
def hand_overs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each function aiosqlite runs on a connection's thread, in order."""
    seen: list[str] = []
    run = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await run(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return seen


async def test_a_statement_is_one_hand_over_to_the_drivers_thread(sqlite: Database, hand_overs: list[str]) -> None:
    async with sqlite.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))  # the connection checked out and begun before counting
        hand_overs.clear()
        rows = (await connection.execute(text("SELECT 2 AS two UNION SELECT 3 ORDER BY 1"))).all()
        assert hand_overs == ["_run"]
        await connection.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
        assert hand_overs == ["_run", "_run"]
        assert isinstance(connection.sync_connection.connection.dbapi_connection.cursor(), OneHopCursor)  # type: ignore[union-attr]
    assert [tuple(r) for r in rows] == [(2,), (3,)]


async def test_rows_counts_and_the_last_row_id_read_as_sqlalchemy_expects(sqlite: Database) -> None:
    async with sqlite.engine.begin() as connection:
        inserted = await connection.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
        assert inserted.lastrowid == 1
        many = await connection.execute(text("INSERT INTO t (name, n) VALUES (:name, :n)"),
                                        [{"name": "b", "n": 2}, {"name": "c", "n": 3}])  # fmt: skip
        assert many.rowcount == 2
        updated = await connection.execute(text("UPDATE t SET n = n + 10 WHERE n >= 2"))
        assert updated.rowcount == 2
        returned = await connection.execute(text("UPDATE t SET n = 0 WHERE name = 'a' RETURNING id, name"))
        assert [tuple(r) for r in returned] == [(1, "a")]
        result = await connection.execute(text("SELECT name, n FROM t ORDER BY id"))
        assert list(result.keys()) == ["name", "n"]
        assert result.fetchone() == ("a", 0)
        assert [tuple(r) for r in result.fetchmany(5)] == [("b", 12), ("c", 13)]
        assert result.fetchone() is None
        empty = await connection.execute(text("SELECT name FROM t WHERE n < 0"))
        assert empty.all() == [] and list(empty.keys()) == ["name"]


async def test_errors_are_sqlalchemys_and_leave_the_connection_usable(sqlite: Database) -> None:
    async with sqlite.engine.connect() as connection:
        await connection.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
        with pytest.raises(IntegrityError, match="UNIQUE"):
            await connection.execute(text("INSERT INTO t (name, n) VALUES ('a', 2)"))
        with pytest.raises(OperationalError, match="no such table"):
            await connection.execute(text("SELECT * FROM nowhere"))
        await connection.rollback()
        assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar() == 0
