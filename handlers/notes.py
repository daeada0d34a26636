"""Notes Teams could not carry at once, queued in the outbox: Teams when it can, else email, else the unit is told."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from handlers.context import Context
from storage import models
from storage.outbox import note, queue


async def queue_note(
    ctx: Context, about: str, reference: str | None, person_id: int | None, text: str, iro_id: int | None = None
) -> bool:
    """Queue `text` for a person (or, with `person_id` None, the Safeguarding Unit); whether it was new.

    `about` names what the note is for and makes it once only (an allocation at its instant, say); a note
    given `iro_id` is dropped unsent if the order has another IRO by the time it goes.
    """
    now = ctx.clock.now()
    facts = {"iro_id": iro_id} if iro_id is not None else {}
    who = f"p{person_id}" if person_id is not None else "unit"
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    async with ctx.database.session() as session:
        order_id = (
            await session.scalar(select(models.Order.id).where(models.Order.reference == reference))
            if reference
            else None
        )
        planned = note(f"{about}:{who}:{digest}", order_id, person_id, text, **facts)
        return bool(await queue(session, [planned], now, now))
