"""The statements whose SQL differs between SQLite and PostgreSQL, each behind one call, so no caller asks which."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models

POSTGRESQL = "postgresql"


def dialect(session: AsyncSession) -> str:
    """The name of the database the session talks to: "postgresql" or "sqlite"."""
    return session.get_bind().dialect.name


def table(model: type[models.Base]) -> Table:
    """The Core table behind a model, for statements that need no ORM objects."""
    return cast(Table, model.__table__)


def insert(session: AsyncSession, target: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that can say what to do on a conflict (ON CONFLICT …), in the session's dialect."""
    return postgresql.insert(target) if dialect(session) == POSTGRESQL else sqlite.insert(target)


_CHILDREN = table(models.Child)
# Built once: each call only binds its values, so SQLAlchemy finds the compiled form in its cache at once.
_NEW_CHILD = {
    name: module.insert(_CHILDREN).on_conflict_do_nothing(index_elements=["local_id"]).returning(_CHILDREN.c.id)
    for name, module in ((POSTGRESQL, postgresql), ("sqlite", sqlite))
}


async def add_child_if_new(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Write a child seen for the first time, in the statement that finds them new: their id, or None when the
    local ID is known already (that row is left as it is)."""
    created: int | None = await session.scalar(_NEW_CHILD[dialect(session)], values)
    return created


_CONVERSATIONS = table(models.ConversationReference)


async def keep_conversation(session: AsyncSession, conversation_id: str, values: dict[str, Any]) -> None:
    """Store this conversation's reference with `values`, made or replaced in one statement (an upsert), so two
    first turns at once both land."""
    statement = insert(session, _CONVERSATIONS).values(conversation_id=conversation_id, **values)
    await session.execute(statement.on_conflict_do_update(index_elements=["conversation_id"], set_=values))
