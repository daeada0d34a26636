"""Claims on the unit's mailbox messages: which poller holds each one now, and when one that failed is tried next.

A claim is one row per message key with a lease. Taking it is one statement (an upsert that takes an existing row
only when its lease has run out), so of two pollers that read the same message at once exactly one gets it, on
SQLite and on PostgreSQL alike; the other leaves the message alone until the lease ends.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models
from storage.statements import insert, table

_CLAIMS = table(models.MailClaim)
# The longest error kept with a claim: enough to say what went wrong, never a whole message.
ERROR_CHARS = 500


async def take(
    session: AsyncSession, keys: Collection[str], claimant: str, now: datetime, lease_until: datetime
) -> dict[str, int]:
    """Claim the messages `keys` for `claimant` until `lease_until`, in one statement: each one taken, with the
    number of its earlier failed tries. One another poller holds, or that waits for its next try, is left out."""
    if not keys:
        return {}
    rows = [{"message_key": key, "claimed_by": claimant, "lease_until": lease_until, "attempts": 0} for key in keys]
    statement = insert(session, _CLAIMS).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["message_key"],
        set_={"claimed_by": claimant, "lease_until": lease_until},
        where=_CLAIMS.c.lease_until <= now,
    )
    taken = await session.execute(statement.returning(_CLAIMS.c.message_key, _CLAIMS.c.attempts))
    return {str(row.message_key): int(row.attempts) for row in taken}


async def failed(session: AsyncSession, key: str, claimant: str, retry_at: datetime, error: str) -> None:
    """Record a failed try of `claimant`'s claim: one more attempt, the error, and no try again before `retry_at`."""
    await session.execute(
        update(_CLAIMS)
        .where(_CLAIMS.c.message_key == key, _CLAIMS.c.claimed_by == claimant)
        .values(claimed_by=None, lease_until=retry_at, attempts=_CLAIMS.c.attempts + 1, last_error=error[:ERROR_CHARS])
    )


async def release(session: AsyncSession, keys: Collection[str], claimant: str, now: datetime) -> None:
    """Give these claims up untried (the mailbox or the database went away): any poller may take them from `now`."""
    await session.execute(
        update(_CLAIMS)
        .where(_CLAIMS.c.message_key.in_(list(keys)), _CLAIMS.c.claimed_by == claimant)
        .values(claimed_by=None, lease_until=now)
    )


async def restart(session: AsyncSession, key: str, claimant: str, lease_until: datetime) -> None:
    """Count the message's tries from none again, its claim held until `lease_until` (whoever held it last)."""
    await session.execute(
        update(_CLAIMS)
        .where(_CLAIMS.c.message_key == key)
        .values(claimed_by=claimant, lease_until=lease_until, attempts=0)
    )


async def prune(session: AsyncSession, ended_before: datetime) -> int:
    """Forget the claims no poller has touched since `ended_before`: how many went.

    While a poller runs, the claim of every message in the inbox is taken again within an hour of its lease
    ending (a success holds it for minutes, a wait for the next try is at most an hour), so a claim whose lease
    ended long before is a message filed long ago. Its receipt, not its claim, is what keeps it from being acted
    on twice.
    """
    gone = await session.execute(delete(_CLAIMS).where(_CLAIMS.c.lease_until < ended_before))
    return int(getattr(gone, "rowcount", 0) or 0)
