"""Connections to the records: one engine and session factory per database, and a clear "it is down"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


class DatabaseUnavailable(Exception):
    """The database cannot be reached; nothing was written."""


def _connection_failure(error: BaseException) -> bool:
    if isinstance(error, OSError | ConnectionError | TimeoutError):
        return True
    if isinstance(error, OperationalError | InterfaceError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    name = type(error).__name__
    return name in {"CannotConnectNowError", "ConnectionDoesNotExistError", "InvalidCatalogNameError",
                    "TooManyConnectionsError", "PostgresConnectionError"}  # fmt: skip


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


class Database:
    """The records' engine and sessions."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str, **engine_options: Any) -> Database:
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            engine_options.setdefault("connect_args", {"timeout": 30})
        else:
            engine_options.setdefault("pool_pre_ping", True)
        engine = create_async_engine(url, **engine_options)
        if path is not None:
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return cls(engine)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A transaction: committed when the block ends, rolled back on any error."""
        try:
            async with self._sessions() as session, session.begin():
                yield session
        except DatabaseUnavailable:
            raise
        except Exception as error:
            if _connection_failure(error):
                raise DatabaseUnavailable(str(error)) from error
            raise

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception as error:
            if _connection_failure(error):
                raise DatabaseUnavailable(str(error)) from error
            raise
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
