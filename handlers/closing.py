"""When a step is done, everyone it was escalated to is told it is closed: once each, through the outbox.

An escalation asks a manager to chase a late step; without word that it is done they would go on chasing it, or
wonder. The note goes to each person (or address) an escalation about the step was sent to, Teams or email as
every notice goes, and its dedupe key (the step and the person) makes it once only, however often the step is
recorded or the order saved again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import Context
from storage import models
from storage.outbox import NOTE, Planned, queue

# An escalation that went out, or may have (the process stopped mid-send): its reader may be chasing the step.
REACHED = ("sent", "unconfirmed")


def _day(value: date | None) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}" if value else "an unrecorded day"


def closing_text(reference: str, initials: str, step: models.Milestone) -> str:
    """The note itself: the order by reference and initials only, the step, and that nothing more is needed."""
    which = f" (occurrence {step.occurrence})" if step.occurrence > 1 else ""
    return (f"Closed: {reference} ({initials}): {step.title}{which}, due {_day(step.due)}, is recorded done on "
            f"{_day(step.done_on)}. You were told it was overdue; nothing more is needed from you for it.")  # fmt: skip


async def tell_escalatees(ctx: Context, session: AsyncSession, order_id: int, reference: str, initials: str,
                          done: Sequence[models.Milestone]) -> int:  # fmt: skip
    """Queue the closing note for each person an escalation about these newly done steps reached; how many new."""
    if not done:
        return 0
    by_id = {step.id: step for step in done}
    reached = await session.execute(
        select(models.Notification.milestone_id, models.Notification.person_id, models.Notification.address)
        .where(models.Notification.milestone_id.in_(list(by_id)), models.Notification.kind == "escalation",
               models.Notification.state.in_(REACHED))
        .distinct()
    )  # fmt: skip
    planned = []
    for milestone_id, person_id, address in reached:
        if milestone_id not in by_id or (person_id is None and not address):
            continue  # an escalation to the unit's channel: the unit sees the step done on the order itself
        who = f"p{person_id}" if person_id is not None else f"a{str(address).lower()}"
        text = closing_text(reference, initials, by_id[milestone_id])
        planned.append(Planned(f"note:closed:{milestone_id}:{who}", order_id, None, NOTE,
                               "person" if person_id is not None else "address", person_id,
                               None if person_id is not None else address, {"text": text}))  # fmt: skip
    now = ctx.clock.now()
    return len(await queue(session, planned, now, now))
