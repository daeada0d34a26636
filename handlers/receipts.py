"""What was already done with each message of the unit's mailbox, so a message is acted on once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import records
from handlers.context import Context
from storage import models
from storage.outbox import ALLOCATION

_NOTIFICATIONS = records.table(models.Notification)
_NEW_ASK = sqlite.insert(_NOTIFICATIONS).on_conflict_do_nothing(index_elements=["dedupe_key"])
_AUDIT_COLUMNS = ("at", "actor", "action", "order_reference", "outcome", "details")
_ASK_COLUMNS = ("dedupe_key", "order_id", "kind", "role", "address", "payload", "state", "not_before", "attempts",
                "created_at")  # fmt: skip
# Built once with named parameters, so each new order only binds its values to the compiled statement.
_AUDIT_AND_ASK = (
    insert(records.AUDIT_LOG)
    .values({c: bindparam(f"audit_{c}", type_=records.AUDIT_LOG.c[c].type) for c in _AUDIT_COLUMNS})
    .add_cte(
        postgresql.insert(_NOTIFICATIONS)
        .values({c: bindparam(f"ask_{c}", type_=_NOTIFICATIONS.c[c].type) for c in _ASK_COLUMNS})
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .cte("ask")
    )
)


@dataclass(frozen=True)
class Receipt:
    """One message (or one order of a message that holds several) being acted on."""

    message_id: str
    sender: str
    part: int = 0


def add(
    session: AsyncSession, ctx: Context, receipt: Receipt, outcome: str, folder: str, reference: str | None
) -> None:
    """Record the receipt in the caller's transaction, so it commits with what the message caused."""
    session.add(
        models.ProcessedMail(
            message_id=receipt.message_id, part=receipt.part, outcome=outcome, folder=folder,
            order_reference=reference, sender=receipt.sender, processed_at=ctx.clock.now(),
        )
    )  # fmt: skip


async def record(ctx: Context, receipt: Receipt, outcome: str, folder: str, reference: str | None = None) -> None:
    async with ctx.database.session() as session:
        add(session, ctx, receipt, outcome, folder, reference)


async def done_parts(ctx: Context, message_id: str) -> dict[int, str]:
    """Each part of this message already acted on, and the folder it was to go to."""
    async with ctx.database.session() as session:
        rows = await session.execute(
            select(models.ProcessedMail.part, models.ProcessedMail.folder).where(
                models.ProcessedMail.message_id == message_id
            )
        )
        return {part: folder for part, folder in rows}


def _asked_key(reference: str) -> str:
    return f"allocation:{reference}"


async def unasked(ctx: Context, message_id: str) -> list[str]:
    """Orders this message made whose allocation request never went out (a crash or a mail server between)."""
    async with ctx.database.session() as session:
        made = (
            await session.scalars(
                select(models.ProcessedMail.order_reference).where(
                    models.ProcessedMail.message_id == message_id,
                    models.ProcessedMail.part > 0,
                    models.ProcessedMail.order_reference.is_not(None),
                )
            )
        ).all()
        if not made:
            return []
        asked = set(
            (
                await session.scalars(
                    select(models.Notification.dedupe_key).where(
                        models.Notification.dedupe_key.in_([_asked_key(r) for r in made if r])
                    )
                )
            ).all()
        )
    return [r for r in made if r and _asked_key(r) not in asked]


async def audit_and_ask(
    session: AsyncSession, ctx: Context, audit: dict[str, Any], order_id: int, reference: str, address: str
) -> None:
    """Write a new order's audit line, and queue the email asking the unit's mailbox to allocate an IRO for it.

    The dispatcher sends the email (kind "allocation"); its key is the one `mark_asked` records, so an order is
    asked by email once, whichever way it came. Both go in the order's transaction, which holds the year's
    order number locked until it commits, so on PostgreSQL they go in one statement (the request as a CTE).
    """
    now = ctx.clock.now()
    ask = {"dedupe_key": _asked_key(reference), "order_id": order_id, "kind": ALLOCATION,
           "role": "safeguarding_unit", "address": address, "payload": {}, "state": "queued", "not_before": now,
           "attempts": 0, "created_at": now}  # fmt: skip
    if session.get_bind().dialect.name == "postgresql":
        params = {**{f"audit_{k}": v for k, v in audit.items()}, **{f"ask_{k}": v for k, v in ask.items()}}
        await session.execute(_AUDIT_AND_ASK, params)
        return
    await session.execute(records.NEW_AUDIT_ENTRY, audit)
    await session.execute(_NEW_ASK, ask)


async def mark_asked(ctx: Context, reference: str, address: str) -> None:
    """Record, in the outbox, that the unit's mailbox was asked to allocate an IRO for this order."""
    now = ctx.clock.now()
    async with ctx.database.session() as session:
        order_id = await session.scalar(select(models.Order.id).where(models.Order.reference == reference))
        session.add(
            models.Notification(
                dedupe_key=_asked_key(reference), order_id=order_id, kind=ALLOCATION, role="safeguarding_unit",
                address=address, state="sent", channel="email", not_before=now, attempts=1, created_at=now,
                sent_at=now, payload={},
            )
        )  # fmt: skip
