"""Questions about many orders at once: the list, what is overdue, the tracker Legal keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from handlers.context import Context
from handlers.views import initials, sorted_steps
from storage import models


@dataclass(frozen=True)
class OrderSummary:
    """One line of the tracker of every order."""

    reference: str
    child_initials: str
    order_type: str
    made: date
    last_day: date
    procedure_id: str
    status: str
    iro: str | None
    social_worker: str | None
    next_step: str | None
    next_due: date | None
    overdue_count: int


async def order_summaries(
    ctx: Context, *, overdue_only: bool = False, include_ended: bool = False
) -> list[OrderSummary]:
    """Every order (open ones unless `include_ended`), by reference; `overdue_only` keeps those with a late step."""
    today = ctx.today()
    query = (
        select(models.Order)
        .order_by(models.Order.reference)
        .options(
            selectinload(models.Order.child),
            selectinload(models.Order.social_worker),
            selectinload(models.Order.milestones),
            selectinload(models.Order.allocations).selectinload(models.Allocation.iro),
        )
    )
    if not include_ended:
        query = query.where(models.Order.status == "open")
    async with ctx.database.session() as session:
        orders = (await session.scalars(query)).all()
        summaries = []
        for order in orders:
            steps = sorted_steps(list(order.milestones), today)
            overdue = sum(1 for s in steps if s.overdue)
            if overdue_only and not overdue:
                continue
            upcoming = next((s for s in steps if s.state == "open" and s.due is not None), None)
            iro = next((a.iro.name for a in order.allocations if a.active), None)
            summaries.append(
                OrderSummary(
                    reference=order.reference,
                    child_initials=initials(order.child.name),
                    order_type=order.order_type,
                    made=order.made,
                    last_day=order.last_day,
                    procedure_id=order.procedure_id,
                    status=order.status,
                    iro=iro,
                    social_worker=order.social_worker.name if order.social_worker else None,
                    next_step=upcoming.title if upcoming else None,
                    next_due=upcoming.due if upcoming else None,
                    overdue_count=overdue,
                )
            )
        return summaries
