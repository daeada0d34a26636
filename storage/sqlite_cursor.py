"""A SQLite statement in one hand-over to the driver's thread, not three or four.

aiosqlite runs every call on its connection's own thread, and SQLAlchemy's adapter makes a call of each step of a
statement: open a cursor, execute, fetch the rows, close the cursor. Each is a hand-over to that thread and back
to the event loop, and on a busy machine the hand-overs, not SQLite, were most of a statement's time (the mail
poll made about sixty a message for its nine statements). This cursor does the four steps in one call on that
thread and keeps the rows, the description, the row count and the last row id it read there.

It is the adapter's cursor in all else, and the adapter's connection is used as it is (commits, rollbacks and
errors go through it as before). It reaches into aiosqlite for the two things it has no public call for: running a
function on the connection's thread (`Connection._execute`) and that thread's sqlite3 connection (`_conn`); both
versions are pinned in pyproject.toml, and every storage test runs through this cursor.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor
from sqlalchemy.util.concurrency import await_

_Ran = tuple[Any, list[Any], int, int | None]  # description, rows, row count, last row id


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Ran:
    """On the connection's thread: the statement, its rows and what the cursor says of it, the cursor closed."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """The adapter's cursor, each statement run, fetched and closed in one call on the driver's thread."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")
    server_side = False

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # Not the adapter's __init__: that opens a driver cursor, a hand-over of its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]  # None before any insert, as sqlite3's own

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass  # every row is fetched at once

    async def _in_thread(self, operation: str, parameters: Any, many: bool) -> _Ran:
        driver: Any = self._connection  # aiosqlite.Connection
        async with self._adapt_connection._execute_mutex:
            ran: _Ran = await driver._execute(_run, driver._conn, operation, parameters, many)
        return ran

    def _ran(self, operation: str, parameters: Any, many: bool) -> None:
        try:
            ran = await_(self._in_thread(operation, parameters, many))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        self._description, rows, self._rowcount, self._lastrowid = ran
        self._rows = collections.deque(rows)

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._ran(operation, parameters, False)

    def executemany(self, operation: Any, seq_of_parameters: Sequence[Any]) -> None:
        self._ran(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        pass  # the driver's cursor closed with its statement

    def close(self) -> None:
        self._rows.clear()

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """The adapter's connection, handing out OneHopCursor."""

    __slots__ = ()
    _cursor_cls = OneHopCursor


def one_hop(adapted: object) -> OneHopConnection:
    """The connection SQLAlchemy's adapter made, handing out cursors of one hand-over each."""
    if not isinstance(adapted, AsyncAdapt_aiosqlite_connection):
        raise TypeError(f"not a connection of SQLAlchemy's aiosqlite adapter: {type(adapted).__name__}")
    return OneHopConnection(adapted.dbapi, adapted._connection)
