"""What was already done with each message of the unit's mailbox, so a message is acted on once."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import Context
from storage import mail_claims, models, outbox


@dataclass(frozen=True)
class Receipt:
    """One message (or one order of a message that holds several) being acted on."""

    message_id: str
    sender: str
    part: int = 0


def add(
    session: AsyncSession, ctx: Context, receipt: Receipt, outcome: str, folder: str, reference: str | None = None
) -> None:
    """Record the receipt in the caller's transaction, so it commits with what the message caused."""
    session.add(
        models.ProcessedMail(
            message_id=receipt.message_id, part=receipt.part, outcome=outcome, folder=folder,
            order_reference=reference, sender=receipt.sender, processed_at=ctx.clock.now(),
        )
    )  # fmt: skip


_RECEIPTS = cast(Table, models.ProcessedMail.__table__)
# A receipt to record: it, its outcome, its folder and its order's reference.
Written = tuple[Receipt, str, str, str | None]


def rows(ctx: Context, written: Sequence[Written]) -> list[tuple[Table, dict[str, Any]]]:
    """The rows that record these receipts (each with its outcome, folder and order reference)."""
    now = ctx.clock.now()
    return [(_RECEIPTS, {"message_id": receipt.message_id, "part": receipt.part, "outcome": outcome,
                         "folder": folder, "order_reference": reference, "sender": receipt.sender,
                         "processed_at": now}) for receipt, outcome, folder, reference in written]  # fmt: skip


async def add_all(session: AsyncSession, ctx: Context, written: Sequence[Written]) -> None:
    """Record receipts (each with its outcome, folder and order reference) in the caller's transaction, in one
    statement: the message's and its order's, written with the order."""
    if written:
        await session.execute(insert(_RECEIPTS), [values for _, values in rows(ctx, written)])


async def record(ctx: Context, receipt: Receipt, outcome: str, folder: str, reference: str | None = None) -> None:
    async with ctx.database.session() as session:
        add(session, ctx, receipt, outcome, folder, reference)


async def done_parts(ctx: Context, message_id: str) -> dict[int, str]:
    """Each part of this message already acted on, and the folder it was to go to."""
    async with ctx.database.read() as session:  # one statement: no transaction round trips around it
        return (await _done(session, [message_id])).get(message_id, {})


async def _done(session: AsyncSession, message_ids: Collection[str]) -> dict[str, dict[int, str]]:
    rows = await session.execute(
        select(models.ProcessedMail.message_id, models.ProcessedMail.part, models.ProcessedMail.folder).where(
            models.ProcessedMail.message_id.in_(list(message_ids))
        )
    )
    done: dict[str, dict[int, str]] = {}
    for message_id, part, folder in rows:
        done.setdefault(message_id, {})[part] = folder
    return done


async def audit_and_ask(session: AsyncSession, ctx: Context, audit: dict[str, Any], order_id: int, reference: str,
                        address: str, written: Sequence[Written] = ()) -> None:  # fmt: skip
    """Write a new order's audit line, queue the email asking the unit's mailbox to allocate an IRO for it, and
    record the receipts `written` (as add_all).

    The dispatcher sends the email (kind "allocation"); its key is one per order, so an order is asked by email
    once, whichever way it came. All go in the order's transaction (on PostgreSQL, in one statement).
    """
    await outbox.audit_and_queue(session, audit, outbox.allocation_request(order_id, reference, address),
                                 ctx.clock.now(), rows(ctx, written))  # fmt: skip


# Claims: one poller at a time on each message, and the tries of one whose handling failed.


async def claim(ctx: Context, keys: Collection[str], claimant: str, hold_for: timedelta) -> dict[str, int]:
    """Take the messages `keys` for this poller, committed at once so every other poller sees it: each one taken,
    with its earlier failed tries. One another poller holds, or that waits for its next try, is not (leave it)."""
    now = ctx.clock.now()
    async with ctx.database.session() as session:
        return await mail_claims.take(session, keys, claimant, now, now + hold_for)


@dataclass(frozen=True)
class Taken:
    """The messages a poller claimed, with their earlier failed tries, and what was already done with each."""

    tries: dict[str, int]  # by claim key
    done: dict[str, dict[int, str]]  # by Message-ID: each part acted on, and the folder it was to go to


async def take(
    ctx: Context, keys: Collection[str], message_ids: Collection[str], claimant: str, hold_for: timedelta
) -> Taken:
    """Claim the messages `keys` for this poller (as `claim`) and read the receipts of `message_ids` (theirs) in the
    same transaction: one commit for a whole batch of messages, where a look-up each would cost a round trip."""
    now = ctx.clock.now()
    async with ctx.database.session() as session:
        tries = await mail_claims.take(session, keys, claimant, now, now + hold_for)
        return Taken(tries, await _done(session, message_ids) if tries else {})


async def failed_try(ctx: Context, key: str, claimant: str, retry_at: datetime, error: str) -> None:
    """One more failed try of the message `key`: not tried again, by any poller, before `retry_at`."""
    async with ctx.database.session() as session:
        await mail_claims.failed(session, key, claimant, retry_at, error)


async def release(ctx: Context, keys: Collection[str], claimant: str) -> None:
    """Give the claims on `keys` back untried (the mailbox or the database went away), for the next poll."""
    async with ctx.database.session() as session:
        await mail_claims.release(session, keys, claimant, ctx.clock.now())


async def restart(ctx: Context, key: str, claimant: str, hold_for: timedelta) -> None:
    """Count the tries of `key` from none again (it was filed in Needs attention), held off other pollers awhile."""
    now = ctx.clock.now()
    async with ctx.database.session() as session:
        await mail_claims.restart(session, key, claimant, now + hold_for)


async def prune_claims(ctx: Context, kept: timedelta) -> int:
    """Forget the claims whose lease ended more than `kept` ago (messages long filed): how many went."""
    async with ctx.database.session() as session:
        return await mail_claims.prune(session, ctx.clock.now() - kept)
