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


async def refuse_sign_in(ctx: Context, through: str, reason: str, entra_id: str | None = None) -> None:
    """Audit a refused sign-in to the dashboard: how it came (`through`), why, and whose account it was.

    The account is named only by the Entra object id, and only when Entra vouched for it (the token's signature
    held): that identifies the attempt. Nothing else a token says (a name, a sign-in name) is kept, and nothing
    from a token that failed its signature, which anyone could have written.
    """
    who = Actor(f"entra:{entra_id}" if entra_id else "unknown")
    async with ctx.database.session() as session:
        records.audit(session, ctx, who, "dashboard.sign_in", None, {"through": through, "reason": reason},
                      outcome="refused")  # fmt: skip
