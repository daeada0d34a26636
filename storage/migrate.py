"""Schema migrations, applied programmatically (`sobot db upgrade`, and on `sobot serve` start)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from storage.database import DatabaseUnavailable, _connection_failure, sqlite_path

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would read a % in a password as a placeholder.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def _upgrade(database_url: str) -> None:
    path = sqlite_path(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(database_url), "head")


async def upgrade(database_url: str) -> None:
    """Bring the schema up to date; Alembic runs its own event loop, so it runs in a worker thread."""
    try:
        await asyncio.to_thread(_upgrade, database_url)
    except Exception as error:
        if _connection_failure(error):
            raise DatabaseUnavailable(str(error)) from error
        raise
