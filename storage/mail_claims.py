"""Claims on the unit's mailbox messages: which poller holds each one now, and when one that failed is tried next.

A claim is one row per message key with a lease. Taking it is one statement (an upsert that takes an existing row
only when its lease has run out), so of two pollers that read the same message at once exactly one gets it, on
SQLite and on PostgreSQL alike; the other leaves the message alone until the lease ends.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import String, bindparam, column, delete, func, literal, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage import models
from storage.statements import POSTGRESQL, SQLITE, dialect, table

_CLAIMS = table(models.MailClaim)
_LEASE = _CLAIMS.c.lease_until.type
# The keys as one parameter, a row each (PostgreSQL unnests an array, SQLite reads a JSON list): one statement of one
# shape whatever the count, compiled once, where one of that many VALUES was compiled afresh for every poll's fifty.
# (SQLite reads "INSERT … SELECT … ON CONFLICT" only with a WHERE before the ON.)
_KEYS = {
    POSTGRESQL: select(func.unnest(bindparam("keys", type_=postgresql.ARRAY(String))).column_valued("key")),
    SQLITE: select(column("value", String)).select_from(func.json_each(bindparam("keys", type_=sqlite.JSON))),
}
_TAKE = {
    name: module.insert(_CLAIMS)
    .from_select(
        ["message_key", "claimed_by", "lease_until", "attempts"],
        _KEYS[name].add_columns(bindparam("claimant", type_=String), bindparam("until", type_=_LEASE), literal(0))
        .where(true()),
    )
    .on_conflict_do_update(
        index_elements=["message_key"],
        set_={"claimed_by": bindparam("claimant"), "lease_until": bindparam("until", type_=_LEASE)},
        where=_CLAIMS.c.lease_until <= bindparam("now", type_=_LEASE),
    )
    .returning(_CLAIMS.c.message_key, _CLAIMS.c.attempts)
    for name, module in ((POSTGRESQL, postgresql), (SQLITE, sqlite))
}  # fmt: skip
# The longest error kept with a claim: enough to say what went wrong, never a whole message.
ERROR_CHARS = 500


async def take(
    session: AsyncSession, keys: Collection[str], claimant: str, now: datetime, lease_until: datetime
) -> dict[str, int]:
    """Claim the messages `keys` for `claimant` until `lease_until`, in one statement: each one taken, with the
    number of its earlier failed tries. One another poller holds, or that waits for its next try, is left out."""
    if not keys:
        return {}
    values = {"keys": list(keys), "claimant": claimant, "until": lease_until, "now": now}
    taken = await session.execute(_TAKE[dialect(session)], values)
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
