"""Callers the directory does not know: their attempt is audited, and nothing else happens.

Who may do what to an order is handlers/permissions.py's table, which every operation checks itself.
"""

from __future__ import annotations

from handlers import records
from handlers.context import Actor, Context


async def refuse_stranger(ctx: Context, who: str, attempt: str) -> None:
    """Audit an attempt by someone not in the directory (they are told whom to ask; nothing else happens)."""
    async with ctx.database.session() as session:
        records.audit(session, ctx, Actor(who), "directory.stranger", None, {"attempt": attempt}, outcome="refused")
