"""Schema migrations, applied from code (`sobot db upgrade`, and on every start): no alembic.ini needed."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"

# Alembic keeps the running migration in module globals: one at a time per process.
_one_at_a_time = threading.Lock()


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # Handed over as an attribute, not an option: ConfigParser would read a % in a password as a placeholder.
    config.attributes["database_url"] = database_url
    return config


async def upgrade(database_url: str) -> None:
    """Bring the schema up to date; a no-op when it is. DatabaseUnavailable when the database cannot be reached.

    Alembic runs the async engine on an event loop of its own, so it runs in a worker thread: this works from
    inside a running loop.
    """
    await asyncio.to_thread(_upgrade, database_url)


def _upgrade(database_url: str) -> None:
    with _one_at_a_time:
        command.upgrade(alembic_config(database_url), "head")
