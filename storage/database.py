"""Connections to the records: one engine and session factory per database, and one clear "it is down"."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Executable, event, text
from sqlalchemy.engine import Dialect, ExceptionContext, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage.sqlite_cursor import one_hop

# How long a SQLite writer waits for another to finish before giving up with "database is locked".
SQLITE_BUSY_SECONDS = 30
# A pooled PostgreSQL connection unused for this long is tested before it is handed out. One in steady use is
# not: a server that went away would have failed its last statement, and the pool replaces every connection
# older than such a failure.
IDLE_PING_SECONDS = 5.0
# How long PostgreSQL may keep a caller waiting, by default: a server that went silent (its packets dropped, no
# refusal) is, after this, unreachable like one that refuses, rather than a wait as long as the outage.
CONNECT_TIMEOUT_SECONDS = 5.0
STATEMENT_TIMEOUT_SECONDS = 5.0
# Statements each connection keeps prepared (the drivers' default is 100 for asyncpg, 128 for SQLite): enough for the
# savepoints a batch's sessions name afresh (two each) beside everything else a connection runs.
PREPARED_STATEMENTS = 1000


class DatabaseUnavailable(Exception):
    """The database cannot be reached, or does not answer, or the connection to it was lost; nothing of the
    transaction was committed."""


@dataclass(frozen=True)
class Timeouts:
    """How long a PostgreSQL connection may take to open, and one statement to be answered (None: no limit)."""

    connect: float = CONNECT_TIMEOUT_SECONDS
    statement: float | None = STATEMENT_TIMEOUT_SECONDS


# The migrations' own: connecting is as quick as ever, but a migration of a large table may take its time.
UNHURRIED = Timeouts(statement=None)


def _sqlite_file(database_url: str) -> Path | None:
    """The file behind a SQLite URL; None for PostgreSQL or an in-memory SQLite."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def engine_for(database_url: str, timeouts: Timeouts = UNHURRIED) -> AsyncEngine:
    """The engine for a database URL, as the service and the migrations both use it.

    A PostgreSQL URL may end in `?search_path=SCHEMA` to keep the records in that schema (asyncpg reads its own
    URLs the same way). Any failure to connect, a connection lost mid-transaction, and (on PostgreSQL) a connection
    or a statement not answered within `timeouts` raise DatabaseUnavailable. A SQLite file cannot go silent: a
    writer there waits up to SQLITE_BUSY_SECONDS for another to finish.
    """
    url = make_url(database_url)
    connect_args: dict[str, Any] = {}
    path = _sqlite_file(database_url)
    if url.get_backend_name() == "sqlite":
        connect_args["timeout"] = SQLITE_BUSY_SECONDS
        connect_args["cached_statements"] = PREPARED_STATEMENTS  # as for PostgreSQL below
    else:
        # asyncpg's own timers: `timeout` covers the whole of connecting (TCP, TLS, sign-in), `command_timeout`
        # each statement (BEGIN and COMMIT included), so they hold when the server hears nothing and says nothing.
        connect_args["timeout"] = timeouts.connect
        connect_args["command_timeout"] = timeouts.statement
        # Room for every statement a connection runs often: a batch's savepoints are named one by one (sa_savepoint_1,
        # _2, …), and at the driver's default of 100 they pushed the poller's inserts out, to be prepared again.
        connect_args["prepared_statement_cache_size"] = PREPARED_STATEMENTS
        if "search_path" in url.query:
            search_path = url.normalized_query["search_path"][-1]
            url = url.difference_update_query(["search_path"])
            connect_args["server_settings"] = {"search_path": search_path}
    # Errors carry the statement but not its values (names, dates of birth), so logs hold no personal data.
    engine = create_async_engine(url, hide_parameters=True, connect_args=connect_args)
    where = url.render_as_string(hide_password=True)

    def connect(dialect: Dialect, _record: ConnectionPoolEntry, cargs: tuple[Any, ...], cparams: dict[str, Any]) -> Any:
        # Refused, unknown host, wrong password, no such database, a file that cannot be opened: to every caller
        # these mean the same thing, and the drivers raise a different type for each.
        try:
            if path is not None:
                # A fresh install has no var/ yet.
                path.parent.mkdir(parents=True, exist_ok=True)
            connection = dialect.connect(*cargs, **cparams)
        except TimeoutError as error:
            raise DatabaseUnavailable(f"cannot connect to {where}: no answer within {timeouts.connect:g} s") from error
        except Exception as error:
            raise DatabaseUnavailable(f"cannot connect to {where}: {error}") from error
        # On SQLite each statement in one hand-over to the driver's thread (storage.sqlite_cursor).
        return one_hop(connection) if url.get_backend_name() == "sqlite" else connection

    def lost(context: ExceptionContext) -> None:
        if isinstance(context.original_exception, TimeoutError):
            # No answer in time. The connection is in an unknown state (its statement may still be running), so it
            # is dropped rather than reused or rolled back over the same silence, and so is the rest of the pool.
            context.is_disconnect = True
            within = f" within {timeouts.statement:g} s" if timeouts.statement is not None else ""
            raise DatabaseUnavailable(f"{where} did not answer{within}")
        if context.is_disconnect:
            raise DatabaseUnavailable(f"lost the connection to {where}: {context.original_exception}")

    event.listen(engine.sync_engine, "do_connect", connect)
    event.listen(engine.sync_engine, "handle_error", lost)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        _ping_when_idle(engine, IDLE_PING_SECONDS)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle: float) -> None:
    """A server restart leaves dead connections in the pool: none is handed out.

    One the server closed is known without asking (the driver saw its socket close). One that sat idle is
    tested with a round trip first, for the deaths nobody hears of (a firewall dropping an idle connection).
    Testing every connection on every checkout (SQLAlchemy's pre-ping) would cost a round trip per
    transaction, a quarter of a busy turn's database time.
    """
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    def returned(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["returned"] = time.monotonic()

    def handed_out(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        closed = getattr(record.driver_connection, "is_closed", None)
        if closed is not None and closed():
            raise DisconnectionError("the server closed this pooled connection")
        returned_at = record.info.get("returned")
        if returned_at is None or time.monotonic() - returned_at < idle:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and hands out a fresh one (or reports the server down).
            raise DisconnectionError(f"a pooled connection no longer answers: {error}") from error

    event.listen(pool, "checkin", returned)
    event.listen(pool, "checkout", handed_out)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked, on every connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # Readers no longer wait for a writer (the service reads while the clock writes).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


@dataclass
class _Batch:
    """A batch's transaction, and the rows its parts leave to be inserted when it commits (by statement, in the
    order they came)."""

    connection: AsyncConnection
    rows: dict[Executable, list[Mapping[str, Any]]] = field(default_factory=dict)

    async def insert_rows(self) -> None:
        """Insert the rows left so far: one statement of many rows for each kind."""
        left, self.rows = self.rows, {}
        for statement, rows in left.items():
            await self.connection.execute(statement, list(rows))


# Where a session in a part of a batch finds its batch (see Database.session and insert_at_commit).
_BATCH_KEY = "sobot.batch"


def waits_for_commit(session: AsyncSession) -> bool:
    """Whether rows given to insert_at_commit with this session wait for its batch's commit."""
    return _BATCH_KEY in session.info


async def insert_at_commit(session: AsyncSession, statement: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` with `statement` (an INSERT of one row's named values) in the session's transaction.

    In a part of a batch (a session opened there with `own_savepoint=False`) they are inserted only when the batch
    commits, with the rows of the batch's other parts of the same statement: one statement of many rows for the
    batch, not one for each part. So the part that leaves them must not read them back in the same session, and a
    refusal of them shows only at the commit, where it fails the batch as a failed commit does. Any other session
    (or read) opened later in the batch inserts what was left before it begins, so it reads them. Elsewhere they
    are inserted at once.
    """
    if not rows:
        return
    batch: _Batch | None = session.info.get(_BATCH_KEY)
    if batch is None:
        await session.execute(statement, list(rows))
    else:
        batch.rows.setdefault(statement, []).extend(rows)


class Database:
    """The records' engine and sessions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        # The batch this task is in (see batch()), if any.
        self._batch: ContextVar[_Batch | None] = ContextVar(f"batch-{id(self)}", default=None)
        # Whether this task is inside a part() of its batch.
        self._in_part: ContextVar[bool] = ContextVar(f"part-{id(self)}", default=False)
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # PostgreSQL runs a lone statement in a transaction of its own: no BEGIN and COMMIT round trips around it.
        lone = engine.execution_options(isolation_level="AUTOCOMMIT") if engine.dialect.name == "postgresql" else engine
        self._reads = async_sessionmaker(lone, expire_on_commit=False)

    @classmethod
    def from_url(cls, database_url: str, timeouts: Timeouts | None = None) -> Database:
        """The service's records; `timeouts` are the settings' (the defaults unless given)."""
        return cls(engine_for(database_url, timeouts or Timeouts()))

    @asynccontextmanager
    async def session(self, *, own_savepoint: bool = True) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back on any error.

        A pool with no connection free within its wait is, to the caller, a database it cannot reach now.
        In a batch (see batch()) the transaction is a savepoint of the batch's: rolled back alone on an error, and
        committed only with the batch.

        `own_savepoint=False`, inside a part() of a batch, writes straight into the batch's transaction instead of
        a savepoint of its own: two statements fewer (SAVEPOINT and RELEASE), but an error out of this block undoes
        nothing; what it wrote is undone only with the batch. It is for a caller that writes nothing it would keep
        before raising an error its callers catch and carry on from (handlers.orders.create_order). Anywhere else
        it is an ordinary session. Such a session may also leave rows for the batch's commit (insert_at_commit).
        """
        batch = self._batch.get()
        if batch is not None and not own_savepoint and self._in_part.get():
            # Joined for rollback only, and never rolled back here: the caller rolls back the batch it spoilt.
            shared = AsyncSession(bind=batch.connection, expire_on_commit=False, join_transaction_mode="rollback_only",
                                  info={_BATCH_KEY: batch})  # fmt: skip
            try:
                yield shared
                await shared.flush()
            finally:
                await shared.close()
            return
        if batch is not None:
            async with await self._joined(batch) as session, session.begin():
                yield session
            return
        try:
            async with self._sessions() as session, session.begin():
                yield session
        except PoolTimeout as error:
            raise DatabaseUnavailable(f"no database connection came free in time: {error}") from error

    async def _joined(self, batch: _Batch) -> AsyncSession:
        # A session of its own (its own identity map, as outside a batch) whose transaction is a SAVEPOINT; it reads
        # what the batch's parts left for its commit, as they are inserted first.
        await batch.insert_rows()
        return AsyncSession(bind=batch.connection, expire_on_commit=False, join_transaction_mode="create_savepoint")

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """One transaction for everything this task writes and reads until the block ends: every session() and
        read() inside it joins it, each as a savepoint of its own, and it commits once when the block ends (or is
        rolled back whole, on an error out of the block). The rows its parts left for its commit
        (insert_at_commit) are inserted just before it.

        Whatever is held in it (the year's reference counter, on SQLite the database's write lock) is held until
        then: callers keep a batch short. On SQLite the batch opens with BEGIN IMMEDIATE: the driver would
        otherwise leave the transaction unopened until the first write, so that a SAVEPOINT before it would open
        (and its RELEASE commit) a transaction of its own; and a batch is a writer from its start, so it waits its
        turn for the write lock then, not halfway through.
        """
        if self._batch.get() is not None:
            raise RuntimeError("a batch is already open in this task")
        try:
            async with self.engine.connect() as connection, connection.begin():
                if self.engine.dialect.name == "sqlite":
                    await connection.exec_driver_sql("BEGIN IMMEDIATE")
                batch = _Batch(connection)
                token = self._batch.set(batch)
                try:
                    yield
                finally:
                    self._batch.reset(token)
                await batch.insert_rows()
        except PoolTimeout as error:
            raise DatabaseUnavailable(f"no database connection came free in time: {error}") from error

    @asynccontextmanager
    async def part(self) -> AsyncIterator[None]:
        """Inside a batch, one caller's part of it, written straight into the batch's transaction: no savepoint of
        its own (two statements fewer a part), and sessions opened in it with `own_savepoint=False` write there
        too. So an error out of the block undoes nothing by itself: it spoils the batch, which the caller rolls
        back whole and does again without the part that failed (mail.poller). Outside a batch, nothing."""
        if self._batch.get() is None:
            yield
            return
        token = self._in_part.set(True)
        try:
            yield
        finally:
            self._in_part.reset(token)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for one statement, or reads that need not agree with each other: no transaction around them.

        Each statement stands alone (on PostgreSQL it commits as it runs), so nothing that must be written
        together belongs here. A turn's lookups (who is asking, where the unit's channel is) are one statement each.
        In a batch they read its transaction (what it wrote so far), as a savepoint like session().
        """
        batch = self._batch.get()
        if batch is not None:
            async with await self._joined(batch) as session, session.begin():
                yield session
            return
        try:
            async with self._reads() as session:
                yield session
                await session.commit()
        except PoolTimeout as error:
            raise DatabaseUnavailable(f"no database connection came free in time: {error}") from error

    async def ping(self) -> bool:
        """Whether the database answers (for /readyz); DatabaseUnavailable when it cannot be reached."""
        async with self.engine.connect() as connection:
            answer: int | None = await connection.scalar(text("SELECT 1"))
        return answer == 1

    async def dispose(self) -> None:
        await self.engine.dispose()
