"""The outbox's own writes, on both databases: a new row's columns, a request asked with its audit line, a reply."""

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


async def test_a_reply_is_one_row_per_message_and_may_be_claimed_alone(database: Database) -> None:
    mail = {"to": ["tom.jones@example.gov.uk"], "subject": "Re: New order", "text": "t", "html": "h"}
    async with database.session() as session:
        await outbox.queue(session, [outbox.allocation_request(None, "SO-2026-0003", UNIT_ADDRESS)], NOW, NOW)
        await outbox.queue(session, [outbox.reply("<m@x>", "problems", "tom.jones@example.gov.uk", mail)], NOW, NOW)
        # The same message read again after a crash: its reply is not queued twice.
        await outbox.queue(session, [outbox.reply("<m@x>", "problems", "tom.jones@example.gov.uk", mail)], NOW, NOW)
    request, reply = await rows(database)
    assert (reply.kind, reply.address, reply.payload, reply.order_id) == (
        "reply", "tom.jones@example.gov.uk", mail, None
    )  # fmt: skip
    async with database.session() as session:
        assert await outbox.claim(session, "dispatcher-1", NOW, NOW, 10, kinds=["reply"]) == [reply.id]
        assert await outbox.claim(session, "dispatcher-1", NOW, NOW, 10) == [request.id]


async def test_sobot_knows_the_message_id_of_its_own_mail_and_no_other(database: Database) -> None:
    async with database.session() as session:
        await outbox.queue(session, [outbox.allocation_request(None, "SO-2026-0003", UNIT_ADDRESS)], NOW, NOW)
    [row] = await rows(database)
    token = outbox.message_token(row.id, row.dedupe_key)
    assert token == outbox.message_token(row.id, row.dedupe_key)  # stable: the same row, the same id
    async with database.session() as session:
        assert await outbox.is_own_message(session, f"<{token}@example.gov.uk>")
        assert not await outbox.is_own_message(session, f"{outbox.message_token(row.id, 'forged')}@example.gov.uk")
        assert not await outbox.is_own_message(session, f"{outbox.message_token(row.id + 1, row.dedupe_key)}@x")
        assert not await outbox.is_own_message(session, "CAF3x9kT5@mail.gmail.com")
