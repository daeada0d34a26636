"""What happened around one order, for its page: the notifications about it and its lines of the audit log."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from storage.database import Database
from storage.models import AuditEntry, Milestone, Notification, Order, Person


@dataclass(frozen=True)
class NotificationRow:
    kind: str
    role: str
    person: str | None  # the directory's name, when it is for a person
    address: str | None
    step: str | None  # the step's title, when it is about one
    occurrence: int | None
    state: str
    channel: str | None
    created_at: datetime
    not_before: datetime
    sent_at: datetime | None
    attempts: int
    covering: str | None = None  # sent to someone covering: the name of the person away it was for


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    outcome: str
    details: dict[str, Any]


async def notifications_about(database: Database, reference: str, limit: int = 500) -> list[NotificationRow]:
    """Every notification queued about this order, newest first (at most `limit`)."""
    statement = (
        select(Notification.kind, Notification.role, Person.name, Notification.address, Milestone.title,
               Milestone.occurrence, Notification.state, Notification.channel, Notification.created_at,
               Notification.not_before, Notification.sent_at, Notification.attempts, Notification.payload)
        .join(Order, Notification.order_id == Order.id)
        .outerjoin(Person, Notification.person_id == Person.id)
        .outerjoin(Milestone, Notification.milestone_id == Milestone.id)
        .where(Order.reference == reference)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(limit)
    )  # fmt: skip
    async with database.read() as session:
        found: list[tuple[Any, ...]] = [tuple(row) for row in await session.execute(statement)]
    return [replace(NotificationRow(*values[:-1]), covering=_covering(values[-1])) for values in found]


def _covering(payload: dict[str, Any] | None) -> str | None:
    """Whom a notification sent to someone covering was for (the planner's "covering" facts), else None."""
    facts = (payload or {}).get("covering")
    return str(facts["name"]) if isinstance(facts, dict) and facts.get("name") else None


async def audit_trail(database: Database, reference: str, limit: int = 500) -> list[AuditRow]:
    """The audit log's lines about this order, newest first (at most `limit`)."""
    statement = (
        select(AuditEntry.at, AuditEntry.actor, AuditEntry.action, AuditEntry.outcome, AuditEntry.details)
        .where(AuditEntry.order_reference == reference)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )  # fmt: skip
    async with database.read() as session:
        found: list[tuple[Any, ...]] = [tuple(row) for row in await session.execute(statement)]
    return [AuditRow(*values) for values in found]
