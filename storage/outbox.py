"""The outbox's rows: every notification is written here first, once by its dedupe key, then sent by the dispatcher."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import models

# The role of a row for the Safeguarding Unit itself (its channel, or its mailbox).
UNIT = "safeguarding_unit"

# The email asking the unit's mailbox to allocate an IRO for a new order.
ALLOCATION = "allocation"


@dataclass(frozen=True)
class Planned:
    """One row to queue: a notice for one recipient (a person, an address, or the unit)."""

    dedupe_key: str
    order_id: int | None
    milestone_id: int | None
    kind: str
    role: str
    person_id: int | None
    address: str | None
    payload: dict[str, Any]


async def queue(session: AsyncSession, planned: Sequence[Planned], not_before: datetime, now: datetime) -> list[int]:
    """Insert the rows not queued before (by dedupe key); the ids of those inserted.

    A newer notice of the same kind about the same step for the same recipient replaces one still waiting.
    """
    if not planned:
        return []
    common = {"state": "queued", "not_before": not_before, "attempts": 0, "created_at": now}
    values = [{"dedupe_key": p.dedupe_key, "order_id": p.order_id, "milestone_id": p.milestone_id, "kind": p.kind,
               "role": p.role, "person_id": p.person_id, "address": p.address, "payload": p.payload, **common}
              for p in planned]  # fmt: skip
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(models.Notification).on_conflict_do_nothing(index_elements=["dedupe_key"])
    inserted = (
        await session.execute(statement.returning(models.Notification.id, models.Notification.dedupe_key), values)
    ).all()
    ids = [row.id for row in inserted]
    new = {row.dedupe_key for row in inserted}
    steps = {p.milestone_id for p in planned if p.dedupe_key in new and p.milestone_id is not None
             and p.kind in ("reminder", "escalation")}  # fmt: skip
    if steps:
        # One statement for the batch: a queued row of the same step, kind and recipient as a newer one goes.
        older = models.Notification
        newer = aliased(models.Notification)
        await session.execute(
            update(older)
            .where(
                older.state == "queued", older.milestone_id.in_(steps),
                exists().where(
                    newer.id.in_(ids), newer.milestone_id == older.milestone_id, newer.kind == older.kind,
                    newer.id > older.id, newer.person_id.is_not_distinct_from(older.person_id),
                    newer.address.is_not_distinct_from(older.address),
                ),
            )
            .values(state="superseded", last_error="a newer notice about this step replaced it")
            .execution_options(synchronize_session=False)
        )  # fmt: skip
    return ids
