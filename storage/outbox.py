"""The outbox's rows: every notification is written here first, once by its dedupe key, then sent by the dispatcher.

Every write to the outbox is a function of this module: queueing (with the columns a new row starts with, written
out once, in `_values`) and the dispatcher's claims and settlements.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import Executable, Table, bindparam, exists, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage import models
from storage.database import insert_at_commit, waits_for_commit
from storage.statements import POSTGRESQL, SQLITE, dialect, table

# The role of a row for the Safeguarding Unit itself (its channel, or its mailbox).
UNIT = "safeguarding_unit"

# The email asking the unit's mailbox to allocate an IRO for a new order.
ALLOCATION = "allocation"

# A reply to the sender of a message in the unit's mailbox (its words in the payload): it goes at any hour.
REPLY = "reply"

# A note in words (the payload's "text") for a person or, with no person and no address, for the unit: what Teams
# could not carry at once (an allocation's news, a note about the mailbox) goes by the outbox, Teams or email.
NOTE = "note"

NOTIFICATIONS = table(models.Notification)
_AUDIT_LOG = table(models.AuditEntry)


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


def allocation_key(reference: str) -> str:
    """The dedupe key of the request to the unit's mailbox to allocate an IRO for an order: one per order."""
    return f"allocation:{reference}"


def allocation_request(order_id: int | None, reference: str, address: str) -> Planned:
    """The email asking the unit's mailbox (at `address`) to allocate an IRO for this order."""
    return Planned(allocation_key(reference), order_id, None, ALLOCATION, UNIT, None, address, {})


def note(key: str, order_id: int | None, person_id: int | None, text: str, **facts: Any) -> Planned:
    """A note for a person (or, with `person_id` None, the unit); `facts` say when it is no longer true."""
    role = "person" if person_id is not None else UNIT
    return Planned(f"note:{key}", order_id, None, NOTE, role, person_id, None, {"text": text, **facts})


def reply(message_id: str, what: str, address: str, mail: Mapping[str, Any]) -> Planned:
    """A reply to the sender of one message: one per message and `what` it answers, however often it is read."""
    key = f"reply:{what}:{message_id}"
    if len(key) > 300:  # the key's column; a Message-ID may be longer
        key = f"reply:{what}:sha256:{hashlib.sha256(message_id.encode()).hexdigest()}"
    return Planned(key, None, None, REPLY, "sender", None, address, dict(mail))


# The Message-ID of an email sent for an outbox row: the row's id and a digest of its key, so the same row
# always gives the same id (a mail system that sees it twice can drop the copy) and sobot knows its own mail.
_TOKEN_PREFIX = "sobot.outbox."


def message_token(nid: int, dedupe_key: str) -> str:
    """The left part of the Message-ID of the email sent for row `nid` (the mail channel adds @domain)."""
    return f"{_TOKEN_PREFIX}{nid}.{_digest(nid, dedupe_key)}"


def _digest(nid: int, dedupe_key: str) -> str:
    return hashlib.sha256(f"{nid}:{dedupe_key}".encode()).hexdigest()[:20]


def may_be_own(message_id: str) -> bool:
    """Whether a Message-ID has the form of sobot's own (then `is_own_message` asks the database)."""
    return message_id.strip("<>").startswith(_TOKEN_PREFIX)


async def is_own_message(session: AsyncSession, message_id: str) -> bool:
    """Whether a Message-ID is that of an email sobot sent for one of its outbox rows."""
    token = message_id.strip("<>").partition("@")[0]
    if not token.startswith(_TOKEN_PREFIX):
        return False
    nid, _, digest = token.removeprefix(_TOKEN_PREFIX).partition(".")
    if not nid.isdigit():
        return False
    key = await session.scalar(select(models.Notification.dedupe_key).where(models.Notification.id == int(nid)))
    return key is not None and digest == _digest(int(nid), key)


def _values(planned: Planned, not_before: datetime, now: datetime) -> dict[str, Any]:
    """A new row's columns: what was planned, waiting in the queue, never tried."""
    return {"dedupe_key": planned.dedupe_key, "order_id": planned.order_id, "milestone_id": planned.milestone_id,
            "kind": planned.kind, "role": planned.role, "person_id": planned.person_id, "address": planned.address,
            "payload": planned.payload, "state": "queued", "not_before": not_before, "attempts": 0,
            "created_at": now}  # fmt: skip


# The columns `_values` writes, for the statement built once below.
_COLUMNS = tuple(_values(Planned("", None, None, "", "", None, None, {}), datetime.now(UTC), datetime.now(UTC)))
_AUDIT_COLUMNS = ("at", "actor", "action", "order_reference", "outcome", "details")
# Built once with named parameters, so each new order only binds its values to the compiled statement.
_QUEUE_ONE = {
    POSTGRESQL: postgresql.insert(NOTIFICATIONS).on_conflict_do_nothing(index_elements=["dedupe_key"]),
    SQLITE: sqlite.insert(NOTIFICATIONS).on_conflict_do_nothing(index_elements=["dedupe_key"]),
}
_AUDIT = insert(_AUDIT_LOG)
_AUDIT_AND_QUEUE_ONE = (
    insert(_AUDIT_LOG)
    .values({c: bindparam(f"audit_{c}", type_=_AUDIT_LOG.c[c].type) for c in _AUDIT_COLUMNS})
    .add_cte(
        postgresql.insert(NOTIFICATIONS)
        .values({c: bindparam(f"row_{c}", type_=NOTIFICATIONS.c[c].type) for c in _COLUMNS})
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .cte("queued")
    )
)


async def queue(session: AsyncSession, planned: Sequence[Planned], not_before: datetime, now: datetime) -> list[int]:
    """Insert the rows not queued before (by dedupe key); the ids of those inserted.

    A newer notice of the same kind about the same step for the same recipient replaces one still waiting.
    """
    if not planned:
        return []
    values = [_values(p, not_before, now) for p in planned]
    module = postgresql if dialect(session) == POSTGRESQL else sqlite
    statement = module.insert(NOTIFICATIONS).on_conflict_do_nothing(index_elements=["dedupe_key"])
    inserted = (
        await session.execute(statement.returning(NOTIFICATIONS.c.id, NOTIFICATIONS.c.dedupe_key), values)
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


async def newly_queued(
    session: AsyncSession, planned: Sequence[Planned], queued: Sequence[int]
) -> list[tuple[Planned, str | None]]:
    """Of `planned`, those `queue` inserted now (by their ids, `queued`), each with its order's reference: what
    a planner audits as sent for the first time, never again on a later tick that finds it queued already."""
    keys = {p.dedupe_key: p for p in planned}
    if not queued or not keys:
        return []
    inserted = await session.scalars(
        select(models.Notification.dedupe_key).where(models.Notification.id.in_(queued),
                                                     models.Notification.dedupe_key.in_(list(keys)))
    )  # fmt: skip
    found = await session.execute(
        select(models.Order.id, models.Order.reference).where(
            models.Order.id.in_({p.order_id for p in keys.values() if p.order_id})
        )
    )
    references = {order_id: reference for order_id, reference in found}
    return [(keys[key], references.get(keys[key].order_id or 0)) for key in inserted]


async def audit_and_queue(session: AsyncSession, audit: Mapping[str, Any], planned: Planned, now: datetime,
                          rows: Sequence[tuple[Table, Mapping[str, Any]]] = ()) -> None:  # fmt: skip
    """Write an audit line and queue one row (unless its key is queued already), to go now; and `rows`, each a row
    of its table written with them (a new order's receipts).

    A new order writes all of these in its transaction, which holds the year's order number locked until it commits,
    so on PostgreSQL they go in one statement (each row a CTE of its own): a round trip for every one of them
    saved, on every order made. Each row stands alone in its CTE, as SQLAlchemy keeps the compiled form of such a
    statement (not of one whose CTE inserts many rows), so one statement is built for each list of tables, once.
    In a part of the mail poll's batch they wait for the batch's commit instead, where each kind is one statement
    for all the batch's orders (storage.database.insert_at_commit).
    """
    row = _values(planned, now, now)
    if waits_for_commit(session):
        # In a batch of the mail poll: each kind of row inserted for the whole batch at its commit.
        await insert_at_commit(session, _AUDIT, [audit])
        await insert_at_commit(session, _QUEUE_ONE[dialect(session)], [row])
        for target, values in rows:
            await insert_at_commit(session, _insert(target), [values])
        return
    if dialect(session) == POSTGRESQL:
        params = {**{f"audit_{k}": v for k, v in audit.items()}, **{f"row_{k}": v for k, v in row.items()}}
        for n, (_, values) in enumerate(rows):
            params.update({f"also{n}_{k}": v for k, v in values.items()})
        await session.execute(_audit_queue_and(tuple((t, tuple(v)) for t, v in rows)), params)
        return
    await session.execute(_AUDIT, dict(audit))
    await session.execute(_QUEUE_ONE[dialect(session)], row)
    for target in dict.fromkeys(t for t, _ in rows):
        await session.execute(_insert(target), [dict(values) for t, values in rows if t is target])


_INSERTS: dict[Table, Executable] = {}


def _insert(target: Table) -> Executable:
    """The INSERT of a row of `target`, one statement for each table (a batch's rows for its commit are grouped by
    statement)."""
    statement = _INSERTS.get(target)
    if statement is None:
        statement = _INSERTS[target] = insert(target)
    return statement


_AUDIT_QUEUE_AND: dict[tuple[tuple[Table, tuple[str, ...]], ...], Executable] = {}


def _audit_queue_and(rows: tuple[tuple[Table, tuple[str, ...]], ...]) -> Executable:
    """The PostgreSQL statement of audit_and_queue for rows of these tables and columns, built once for each."""
    statement = _AUDIT_QUEUE_AND.get(rows)
    if statement is None:
        built = _AUDIT_AND_QUEUE_ONE
        for n, (target, columns) in enumerate(rows):
            also = {c: bindparam(f"also{n}_{c}", type_=target.c[c].type) for c in columns}
            built = built.add_cte(insert(target).values(also).cte(f"also{n}"))
        statement = _AUDIT_QUEUE_AND[rows] = built
    return statement


# The dispatcher's side ----------------------------------------------------------------------------------------


class Settlement(TypedDict):
    """How a claimed row ends its turn with a dispatcher: its new state and what the try left behind."""

    nid: int
    state: str
    channel: str | None
    sent_at: datetime | None
    attempts: int
    not_before: datetime
    last_error: str | None


async def claim(
    session: AsyncSession, claimant: str, now: datetime, lease_until: datetime, limit: int,
    kinds: Sequence[str] | None = None,
) -> list[int]:  # fmt: skip
    """Lease up to `limit` rows due by `now` (of `kinds`, when given) to `claimant`, oldest first, in one statement;
    their ids.

    On PostgreSQL the rows are chosen FOR UPDATE SKIP LOCKED, so dispatchers of several processes claiming at once
    take different rows and never wait on each other (SQLite has one writer at a time, and no such clause).
    """
    n = models.Notification
    due = select(n.id).where(n.state == "queued", n.not_before <= now)
    if kinds is not None:
        due = due.where(n.kind.in_(kinds))
    due = due.order_by(n.not_before, n.id).limit(limit).with_for_update(skip_locked=True)
    ids = await session.scalars(
        update(n)
        .where(n.id.in_(due.scalar_subquery()))
        .values(state="claimed", claimed_by=claimant, lease_until=lease_until)
        .returning(n.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(ids.all())


async def release_expired(session: AsyncSession, now: datetime) -> list[int]:
    """Claims whose lease ran out before anything was sent go back to the queue; rows caught mid-send (their
    lease ran out while `sending`) become `unconfirmed` and are never sent again. The ids of those."""
    n = models.Notification
    await session.execute(
        update(n)
        .where(n.state == "claimed", n.lease_until < now)
        .values(state="queued", claimed_by=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    lost = await session.scalars(
        update(n)
        .where(n.state == "sending", n.lease_until < now)
        .values(state="unconfirmed", last_error="the sender stopped while sending it; not sent again")
        .returning(n.id)
        .execution_options(synchronize_session=False)
    )
    return list(lost.all())


async def mark_sending(session: AsyncSession, ids: Sequence[int], claimant: str, lease_until: datetime) -> set[int]:
    """Mark these rows as being sent now; the ids of those still leased to `claimant` (only they may go out)."""
    n = models.Notification
    still = await session.scalars(
        update(n)
        .where(n.id.in_(ids), n.claimed_by == claimant, n.state == "claimed")
        .values(state="sending", lease_until=lease_until)
        .returning(n.id)
        .execution_options(synchronize_session=False)
    )
    return set(still.all())


_SETTLE = (
    update(NOTIFICATIONS)
    .where(NOTIFICATIONS.c.id == bindparam("nid"), NOTIFICATIONS.c.claimed_by == bindparam("claimant"))
    .values(state=bindparam("state"), channel=bindparam("channel"), sent_at=bindparam("sent_at"),
            attempts=bindparam("attempts"), not_before=bindparam("not_before"), last_error=bindparam("last_error"),
            claimed_by=None, lease_until=None)
)  # fmt: skip


async def settle(session: AsyncSession, claimant: str, settlements: Sequence[Settlement]) -> None:
    """End the claims of `claimant` on these rows as each settlement says, in one statement (rows another
    dispatcher holds now are left alone)."""
    if settlements:
        await session.execute(_SETTLE, [{**s, "claimant": claimant} for s in settlements])
