"""Replies to the senders of the unit's mail, queued in the outbox first; and sobot's own mail, known again."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import Context
from storage import outbox


@dataclass(frozen=True)
class Reply:
    """An email answering one message: to its sender, in its thread (the mail channel writes the words)."""

    to: str
    subject: str
    text: str
    html: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


async def queue_reply(ctx: Context, message_id: str, what: str, reply: Reply) -> None:
    """Queue the reply to go now; a message read again (after a crash) queues its reply of `what` once."""
    mail = {"to": [reply.to], "subject": reply.subject, "text": reply.text, "html": reply.html,
            "in_reply_to": reply.in_reply_to, "references": list(reply.references)}  # fmt: skip
    now = ctx.clock.now()
    async with ctx.database.session() as session:
        await outbox.queue(session, [outbox.reply(message_id, what, reply.to, mail)], now, now)


async def is_own(ctx: Context, message_id: str) -> bool:
    """Whether the message is one sobot sent (its Message-ID names one of sobot's outbox rows)."""
    if not outbox.may_be_own(message_id):
        return False  # most mail: no database round trip
    async with ctx.database.read() as session:
        return await outbox.is_own_message(session, message_id)
