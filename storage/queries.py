"""Read-only questions the clock asks of the records."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from storage.database import Database
from storage.models import Milestone, Order


async def count_due_steps(database: Database, today: date) -> int:
    """Open steps of open orders due today or earlier."""
    async with database.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Milestone)
            .join(Order, Milestone.order_id == Order.id)
            .where(Order.status == "open", Milestone.state == "open", Milestone.due <= today)
        )
        return int(count or 0)
