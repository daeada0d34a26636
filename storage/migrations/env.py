"""Alembic's entry point: runs the migrations through the service's own async engine for the URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.database import engine_for
from storage.models import Base

# Any fixed number: every sobot process asks for the same lock.
MIGRATION_LOCK = 5_071_927


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Replicas that start together take turns; the second finds the schema current and does nothing.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate(database_url: str) -> None:
    engine = engine_for(database_url)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                # A batch migration copies a table and drops the old one; with foreign keys on, SQLite would
                # refuse the drop (or cascade it). The pragma only takes effect outside a transaction.
                await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await connection.commit()
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


asyncio.run(_migrate(context.config.attributes["database_url"]))
