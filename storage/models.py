"""The records: people, children, orders and everything that happens to them, as SQLAlchemy models."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    insert,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC instant on every backend (SQLite stores naive values, so they are tagged on the way out)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("instants must be aware datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime, dict[str, Any]: JSON, list[str]: JSON}


class Person(Base):
    """Someone in the council's directory: their roles, team and manager decide what they see and are sent."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    entra_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    roles: Mapped[list[str]] = mapped_column(default=list)
    team: Mapped[str | None] = mapped_column(String(200))
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    manager: Mapped[Person | None] = relationship(remote_side=[id], lazy="raise")

    @validates("email")
    def _lower_case(self, _key: str, email: str) -> str:
        # Teams, mail and the people file spell an address as they like; one spelling keeps it unique.
        return email.lower()


class Child(Base):
    """A child: the council's ID, a name and a date of birth; no more personal data than that."""

    __tablename__ = "children"

    id: Mapped[int] = mapped_column(primary_key=True)
    local_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    date_of_birth: Mapped[date | None] = mapped_column(Date)


class Order(Base):
    """A Supervision Order (or interim one) of the court, and the procedure its timeline follows."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    order_type: Mapped[str] = mapped_column(String(32))
    made: Mapped[date] = mapped_column(Date)
    commenced: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    court: Mapped[str | None] = mapped_column(String(200))
    other_orders: Mapped[str | None] = mapped_column(Text)
    conditions: Mapped[str | None] = mapped_column(Text)
    procedure_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    ended_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    # Indexed: a social worker's caseload, and their manager's, reads the orders by it.
    social_worker_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    # The Teams form it was saved from: pressing Save again on the same form finds this order, not a new one.
    form_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The council's own reference, for an order brought in from its spreadsheet: a re-import finds the order by it.
    council_reference: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)
    # A digest of the spreadsheet row it was last imported from: the same row again changes nothing.
    import_fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    child: Mapped[Child] = relationship(lazy="raise")
    social_worker: Mapped[Person | None] = relationship(lazy="raise")
    extensions: Mapped[list[OrderExtension]] = relationship(
        back_populates="order", lazy="raise", order_by="OrderExtension.id"
    )
    allocations: Mapped[list[Allocation]] = relationship(back_populates="order", lazy="raise", order_by="Allocation.id")
    events: Mapped[list[Event]] = relationship(back_populates="order", lazy="raise", order_by="Event.id")
    milestones: Mapped[list[Milestone]] = relationship(back_populates="order", lazy="raise", order_by="Milestone.id")


class OrderExtension(Base):
    """The court's decision to extend an order: its last day before and after."""

    __tablename__ = "order_extensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    previous_last_day: Mapped[date] = mapped_column(Date)
    new_last_day: Mapped[date] = mapped_column(Date)
    decided_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    recorded_at: Mapped[datetime]

    order: Mapped[Order] = relationship(back_populates="extensions", lazy="raise")
    recorded_by: Mapped[Person | None] = relationship(lazy="raise")


class Allocation(Base):
    """An IRO allocated to an order; a reallocation deactivates the one before and names whom it replaced."""

    __tablename__ = "allocations"
    __table_args__ = (
        # Two unit members allocating at once must not leave an order with two IROs.
        Index(
            "uq_allocations_one_active_per_order",
            "order_id",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    iro_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    allocated_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    allocated_at: Mapped[datetime]
    replaced_iro_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    order: Mapped[Order] = relationship(back_populates="allocations", lazy="raise")
    iro: Mapped[Person] = relationship(foreign_keys=[iro_id], lazy="raise")
    allocated_by: Mapped[Person | None] = relationship(foreign_keys=[allocated_by_id], lazy="raise")


class Event(Base):
    """Something the procedure knows happened to an order on a day (a meeting held, an outcome, a move)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    occurred_on: Mapped[date] = mapped_column(Date)
    value: Mapped[str | None] = mapped_column(String(64))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    recorded_at: Mapped[datetime]
    details: Mapped[str | None] = mapped_column(Text)

    order: Mapped[Order] = relationship(back_populates="events", lazy="raise")
    recorded_by: Mapped[Person | None] = relationship(lazy="raise")


class Milestone(Base):
    """One occurrence of one step of an order's timeline, as the timeline last computed it."""

    __tablename__ = "milestones"
    __table_args__ = (
        UniqueConstraint("order_id", "key", "occurrence", name="uq_milestones_order_key_occurrence"),
        Index("ix_milestones_state_due", "state", "due"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    key: Mapped[str] = mapped_column(String(64))
    occurrence: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    owner_role: Mapped[str] = mapped_column(String(64))
    due: Mapped[date | None] = mapped_column(Date)
    preferred_by: Mapped[date | None] = mapped_column(Date)
    waiting_on: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    done_on: Mapped[date | None] = mapped_column(Date)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    source: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime]
    # The next day a reminder or escalation may fall: the outbox's planner reads only the steps whose day has
    # come. A new row, and a row whose due date or state changes (a database trigger), start at NOTIFY_NOW.
    notify_on: Mapped[date] = mapped_column(Date, server_default=text("'1970-01-01'"), index=True)

    order: Mapped[Order] = relationship(back_populates="milestones", lazy="raise")


class ReferenceCounter(Base):
    """The last order number given in each year (SO-2026-0007 is the seventh of 2026)."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class AuditEntry(Base):
    """One line of the append-only audit log: every change and every refused attempt."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    order_reference: Mapped[str | None] = mapped_column(String(32), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ConversationReference(Base):
    """Where the bot can reach someone in Teams: a person's chat with it, or a channel, kept current."""

    __tablename__ = "conversation_references"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(400), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # personal, channel or group
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    purpose: Mapped[str | None] = mapped_column(String(32), index=True)  # "allocations" for the unit's channel
    service_url: Mapped[str] = mapped_column(String(500))
    reference: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stale: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]

    person: Mapped[Person | None] = relationship(lazy="raise")


class AllocationCard(Base):
    """The "Allocate an IRO" card posted for an order, so it can be updated in place and replied to."""

    __tablename__ = "allocation_cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    conversation_reference_id: Mapped[int] = mapped_column(ForeignKey("conversation_references.id"))
    activity_id: Mapped[str] = mapped_column(String(200), index=True)
    posted_at: Mapped[datetime]

    order: Mapped[Order] = relationship(lazy="raise")
    conversation: Mapped[ConversationReference] = relationship(lazy="raise")


class StepResponse(Base):
    """A person's answer to a reminder: acknowledged or snoozed, either holding their notices until a day.

    An acknowledgement written before acknowledgements held for a set time has no `until`: it holds no longer.
    """

    __tablename__ = "step_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    milestone_id: Mapped[int] = mapped_column(ForeignKey("milestones.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    kind: Mapped[str] = mapped_column(String(16))  # acknowledged or snoozed
    until: Mapped[date | None] = mapped_column(Date)
    at: Mapped[datetime]


class ProcessedMail(Base):
    """A message from the unit's mailbox already acted on, by Message-ID (mailbox ids change on a move).

    `part` numbers the orders of a mail that holds several, so a re-handled mail skips those already made.
    """

    __tablename__ = "processed_mail"
    __table_args__ = (UniqueConstraint("message_id", "part", name="uq_processed_mail_message_part"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(500))
    part: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(32))  # order, allocation, problems, needs_attention, ignored
    folder: Mapped[str] = mapped_column(String(64))
    order_reference: Mapped[str | None] = mapped_column(String(32))
    sender: Mapped[str | None] = mapped_column(String(320))
    processed_at: Mapped[datetime]


class CalendarFeed(Base):
    """A person's calendar link: only a SHA-256 fingerprint of its token is kept, so the records cannot give it away.

    Renewing revokes the feed before (`revoked_at`) and makes another; a revoked or unknown token reads nothing.
    """

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class MailClaim(Base):
    """Which poller holds a message of the unit's mailbox, and, for one whose handling failed, its tries so far.

    A message is keyed by its Message-ID (or a hash of it all): the same whichever mailbox id it has now. The
    claim is taken only when no other poller holds it (`lease_until` passed), so two `sobot serve` processes
    reading one mailbox never handle one message at once; after a failure the lease is the time of the next try.
    """

    __tablename__ = "mail_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_key: Mapped[str] = mapped_column(String(500), unique=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """The outbox: every notification is a row before it is sent, keyed so it is never queued twice."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_state_not_before", "state", "not_before"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(300), unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("milestones.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # reminder, escalation, digest, nobody, failed or unconfirmed
    role: Mapped[str] = mapped_column(String(64))
    # Whom it is for: a person of the directory, an address (Legal's), or the Safeguarding Unit itself.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    address: Mapped[str | None] = mapped_column(String(320))
    state: Mapped[str] = mapped_column(String(16))  # see scheduler/dispatch.py: queued … sent, failed, cancelled
    not_before: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(16))  # teams or email, once sent
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what a digest or a note to the unit says
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Absence(Base):
    """A person away from one day to another, and who covers for them meanwhile (none: their team manager).

    `source` is "recorded" (by the person, their manager or the unit) or "automatic_replies" (read from their
    Outlook automatic replies, where nobody recorded one). A cancelled absence is kept, with when it was cancelled,
    so what was sent meanwhile can still be explained.
    """

    __tablename__ = "absences"
    __table_args__ = (Index("ix_absences_person_last_day", "person_id", "last_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    cover_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    recorded_by: Mapped[str] = mapped_column(String(320))
    source: Mapped[str] = mapped_column(String(32), default="recorded")
    recorded_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="raise")
    cover: Mapped[Person | None] = relationship(foreign_keys=[cover_id], lazy="raise")


async def next_order_number(session: AsyncSession, year: int) -> int:
    """The next order number of `year`, unique however many sessions ask at once.

    The UPDATE takes the row's lock until the caller's transaction ends, so concurrent callers queue.
    """
    for _ in range(3):
        number = await session.scalar(
            update(ReferenceCounter)
            .where(ReferenceCounter.year == year)
            .values(last=ReferenceCounter.last + 1)
            .returning(ReferenceCounter.last)
        )
        if number is not None:
            return int(number)
        try:
            async with session.begin_nested():
                await session.execute(insert(ReferenceCounter).values(year=year, last=1))
            return 1
        except IntegrityError:
            continue  # another session made this year's row first: take a number from it
    raise RuntimeError(f"could not take an order number for {year}")


__all__ = [
    "Absence",
    "Allocation",
    "AllocationCard",
    "AuditEntry",
    "Base",
    "CalendarFeed",
    "Child",
    "ConversationReference",
    "Event",
    "MailClaim",
    "Milestone",
    "Notification",
    "Order",
    "OrderExtension",
    "Person",
    "ProcessedMail",
    "ReferenceCounter",
    "StepResponse",
    "next_order_number",
]
