"""Where the bot can reach people: stored conversation references, the unit's channel, allocation cards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select

from handlers import permissions, records
from handlers.context import Context
from handlers.directory import PersonView
from handlers.errors import NotAllowed
from handlers.kept import Kept
from storage import models, statements

ALLOCATIONS = "allocations"
CONVERSATIONS = statements.table(models.ConversationReference)
_STORED = select(
    CONVERSATIONS.c.person_id, CONVERSATIONS.c.stale, CONVERSATIONS.c.reference, CONVERSATIONS.c.service_url
).where(CONVERSATIONS.c.conversation_id == bindparam("wanted"))
_ALLOCATION_CHANNEL = select(
    CONVERSATIONS.c.id, CONVERSATIONS.c.conversation_id, CONVERSATIONS.c.kind, CONVERSATIONS.c.reference
).where(CONVERSATIONS.c.purpose == ALLOCATIONS, CONVERSATIONS.c.stale.is_(False))


@dataclass(frozen=True)
class Conversation:
    id: int
    conversation_id: str
    kind: str
    reference: dict[str, Any]


def _view(row: models.ConversationReference) -> Conversation:
    return Conversation(row.id, row.conversation_id, row.kind, dict(row.reference))


@dataclass(frozen=True)
class _Stored:
    reference: dict[str, Any]
    service_url: str
    person_id: int | None  # None: whichever person the row holds


class RecentReferences:
    """What this process last found or stored for each conversation, so an unchanged reference is not read again
    on every turn.

    An entry is trusted for `ttl`: a change another process makes to a stored reference (marking it stale, say)
    is put right by the first turn after that at the latest. A change this process makes forgets the entry.
    """

    def __init__(self, ttl: timedelta = timedelta(minutes=5), limit: int = 10_000) -> None:
        self._stored: Kept[str, _Stored] = Kept(ttl, limit)

    def unchanged(
        self, conversation_id: str, reference: dict[str, Any], service_url: str, person_id: int | None, now: datetime
    ) -> bool:
        kept = self._stored.get(conversation_id, now)
        if kept is None:
            return False
        known = kept[0]
        return (
            known.service_url == service_url
            and (person_id is None or known.person_id == person_id)
            and known.reference == reference
        )

    def keep(
        self, conversation_id: str, reference: dict[str, Any], service_url: str, person_id: int | None, now: datetime
    ) -> None:
        self._stored.keep(conversation_id, _Stored(reference, service_url, person_id), now)

    def forget(self, conversation_id: str) -> None:
        self._stored.forget(conversation_id)


async def remember(
    ctx: Context,
    *,
    conversation_id: str,
    kind: str,
    service_url: str,
    reference: dict[str, Any],
    person: PersonView | None,
    recent: RecentReferences | None = None,
) -> None:
    """Keep the latest reference for this conversation (and, for a personal chat, its person).

    Most turns change nothing, so nothing is written, and with `recent` nothing is read either; two first turns
    at once both land (an upsert).
    """
    person_id = person.id if kind == "personal" and person is not None else None
    now = ctx.clock.now()
    if recent is not None and recent.unchanged(conversation_id, reference, service_url, person_id, now):
        return
    async with ctx.database.session() as session:
        row = (await session.execute(_STORED, {"wanted": conversation_id})).first()
        stored_person = person_id if person_id is not None else (row.person_id if row is not None else None)
        if not (
            row is not None
            and not row.stale
            and row.reference == reference
            and row.service_url == service_url
            and (person_id is None or row.person_id == person_id)
        ):
            values = {"kind": kind, "service_url": service_url, "reference": reference, "stale": False,
                      "updated_at": now}  # fmt: skip
            if person_id is not None:
                values["person_id"] = person_id
            await statements.keep_conversation(session, conversation_id, values)
    if recent is not None:
        recent.keep(conversation_id, reference, service_url, stored_person, now)


async def use_for_allocations(ctx: Context, conversation_id: str, person: PersonView) -> None:
    """Make this channel the unit's allocation channel; only a Safeguarding Unit member may."""
    async with ctx.database.session() as session:
        if not permissions.may_everywhere(person.roles, "allocations.channel"):
            records.audit(session, ctx, person.actor, "allocations.channel", None,
                          {"conversation": conversation_id}, outcome="refused")  # fmt: skip
        else:
            row = await session.scalar(
                select(models.ConversationReference).where(
                    models.ConversationReference.conversation_id == conversation_id
                )
            )
            if row is None:
                raise LookupError(f"no stored reference for {conversation_id}")
            previous = (
                await session.scalars(
                    select(models.ConversationReference).where(models.ConversationReference.purpose == ALLOCATIONS)
                )
            ).all()
            for old in previous:
                old.purpose = None
            row.purpose = ALLOCATIONS
            records.audit(session, ctx, person.actor, "allocations.channel", None, {"conversation": conversation_id})
            return
    raise NotAllowed(permissions.refusal("allocations.channel", None))


async def allocation_channel(ctx: Context, kept: Kept[str, Conversation | None] | None = None) -> Conversation | None:
    """The unit's allocation channel, if one was chosen; with `kept`, read at most once per TRUSTED_FOR."""
    now = ctx.clock.now()
    if kept is not None and (known := kept.get(ALLOCATIONS, now)) is not None:
        return known[0]
    async with ctx.database.read() as session:
        row = (await session.execute(_ALLOCATION_CHANNEL)).first()
    channel = Conversation(row.id, row.conversation_id, row.kind, dict(row.reference)) if row else None
    if kept is not None:
        kept.keep(ALLOCATIONS, channel, now)
    return channel


async def personal_conversation(ctx: Context, person_id: int) -> Conversation | None:
    async with ctx.database.session() as session:
        row = await session.scalar(
            select(models.ConversationReference)
            .where(
                models.ConversationReference.person_id == person_id,
                models.ConversationReference.kind == "personal",
                models.ConversationReference.stale.is_(False),
            )
            .order_by(models.ConversationReference.updated_at.desc())
        )
        return _view(row) if row else None


async def mark_stale(ctx: Context, conversation_id: str, recent: RecentReferences | None = None) -> None:
    async with ctx.database.session() as session:
        row = await session.scalar(
            select(models.ConversationReference).where(models.ConversationReference.conversation_id == conversation_id)
        )
        if row is not None:
            row.stale = True
    if recent is not None:
        recent.forget(conversation_id)


async def record_allocation_card(ctx: Context, reference: str, conversation: Conversation, activity_id: str) -> None:
    async with ctx.database.session() as session:
        order = await records.order(session, reference)
        session.add(models.AllocationCard(order_id=order.id, conversation_reference_id=conversation.id,
                                          activity_id=activity_id, posted_at=ctx.clock.now()))  # fmt: skip


@dataclass(frozen=True)
class PostedCard:
    reference: str
    activity_id: str
    conversation: Conversation


async def allocation_cards(ctx: Context, reference: str) -> list[PostedCard]:
    async with ctx.database.session() as session:
        order = await records.order(session, reference)
        rows = await session.execute(
            select(models.AllocationCard, models.ConversationReference)
            .join(models.ConversationReference)
            .where(models.AllocationCard.order_id == order.id)
        )
        return [PostedCard(order.reference, card.activity_id, _view(conv)) for card, conv in rows]


async def order_for_card(ctx: Context, activity_id: str) -> str | None:
    """The order whose allocation card is this activity (a reply in its thread names it)."""
    async with ctx.database.session() as session:
        return await session.scalar(
            select(models.Order.reference)
            .join(models.AllocationCard, models.AllocationCard.order_id == models.Order.id)
            .where(models.AllocationCard.activity_id == activity_id)
        )
