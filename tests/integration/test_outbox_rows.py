"""The outbox's own writes, on both databases: a new row's columns, a request asked with its audit line, one sent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select

from storage import Database, models, outbox

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
UNIT_ADDRESS = "safeguarding.unit@example.gov.uk"


def audit(reference: str) -> dict[str, Any]:
    return {"at": NOW, "actor": "Sam Worker", "action": "order.create", "order_reference": reference,
            "outcome": "ok", "details": {"procedure": "wirral"}}  # fmt: skip


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def rows(database: Database) -> list[models.Notification]:
    async with database.session() as session:
        return list((await session.scalars(select(models.Notification).order_by(models.Notification.id))).all())


async def test_an_allocation_request_is_queued_with_its_audit_line_once_in_one_statement_on_postgresql(
    database: Database,
) -> None:
    request = outbox.allocation_request(None, "SO-2026-0001", UNIT_ADDRESS)
    with statements(database) as sent:
        async with database.session() as session:
            await outbox.audit_and_queue(session, audit("SO-2026-0001"), request, NOW)
    writes = [s for s in sent if s.lstrip().upper().startswith(("INSERT", "WITH"))]
    # A new order's transaction holds the year's order number locked: on PostgreSQL the two rows are one round trip.
    assert len(writes) == (1 if database.engine.dialect.name == "postgresql" else 2), writes

    [row] = await rows(database)
    assert (row.dedupe_key, row.kind, row.role, row.address, row.order_id, row.milestone_id, row.person_id) == (
        "allocation:SO-2026-0001", outbox.ALLOCATION, outbox.UNIT, UNIT_ADDRESS, None, None, None
    )  # fmt: skip
    assert (row.state, row.attempts, row.not_before, row.created_at, row.payload) == ("queued", 0, NOW, NOW, {})
    assert (row.sent_at, row.channel, row.claimed_by, row.last_error) == (None, None, None, None)

    # Asked again (the same order by another way): the audit line is written, the request is not queued twice.
    async with database.session() as session:
        await outbox.audit_and_queue(session, audit("SO-2026-0001"), request, NOW)
    assert len(await rows(database)) == 1
    async with database.session() as session:
        lines = (await session.scalars(select(models.AuditEntry.order_reference))).all()
    assert lines == ["SO-2026-0001", "SO-2026-0001"]


async def test_a_request_sent_another_way_is_recorded_sent_and_never_claimed(database: Database) -> None:
    async with database.session() as session:
        await outbox.record_sent(session, outbox.allocation_request(None, "SO-2026-0002", UNIT_ADDRESS), "email", NOW)
        await outbox.queue(session, [outbox.allocation_request(None, "SO-2026-0003", UNIT_ADDRESS)], NOW, NOW)
    sent, queued = await rows(database)
    assert (sent.dedupe_key, sent.state, sent.attempts, sent.channel, sent.sent_at, sent.created_at) == (
        "allocation:SO-2026-0002", "sent", 1, "email", NOW, NOW
    )  # fmt: skip
    assert (queued.state, queued.attempts, queued.sent_at) == ("queued", 0, None)

    async with database.session() as session:
        claimed = await outbox.claim(session, "dispatcher-1", NOW, NOW, 10)
    assert claimed == [queued.id]
