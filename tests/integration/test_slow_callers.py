"""Callers that hold connections open slowly are let go: the server `sobot serve` builds closes a connection whose
request's head, or body, does not arrive within its patience (here made short, so the test need not wait long)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import ClientSession, web

from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from sobot.app import Services, create_app
from sobot.serve import Patience, runner
from sobot.settings import load_settings
from storage import Database

PATIENCE = Patience(idle_seconds=0.5, body_seconds=0.5, linger_seconds=0.5)
# Long enough for the server to have closed every slow connection many times over, on a loaded machine.
AT_MOST = 20.0
SLOW = 100  # of each kind: 300 in all


@pytest.fixture
async def address(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[tuple[str, int]]:
    path = tmp_path / "sobot.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    database = Database.from_url(url)
    services = Services(load_settings({}, database_url=url), FixedClock(datetime(2026, 3, 10, 10, tzinfo=UTC)),
                        database, load_builtin(), WorkingCalendar())  # fmt: skip
    server = runner(create_app(services, run_jobs=False, environ={}), PATIENCE)
    await server.setup()
    site = web.TCPSite(server, "127.0.0.1", 0)
    await site.start()
    host, port = server.addresses[0][:2]
    try:
        yield host, port
    finally:
        await server.cleanup()
        await database.dispose()


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent before it closed the connection."""
    return await reader.read()


async def test_slow_connections_are_closed_and_a_prompt_caller_is_still_answered(address: tuple[str, int]) -> None:
    host, port = address
    connections = [await asyncio.open_connection(host, port) for _ in range(3 * SLOW)]
    slow_head, slow_body = connections[SLOW : 2 * SLOW], connections[2 * SLOW :]
    for _, writer in slow_head:
        writer.write(b"POST /api/messages HTTP/1.1\r\nHost: sobot\r\n")  # the head, never finished
    for _, writer in slow_body:
        writer.write(b"POST /api/messages HTTP/1.1\r\nHost: sobot\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"type\": ")  # fmt: skip
    for _, writer in connections:
        await writer.drain()

    async with ClientSession() as client, client.get(f"http://{host}:{port}/healthz") as response:
        assert response.status == 200, "slow callers do not keep a prompt one waiting"

    async with asyncio.timeout(AT_MOST):
        heard = await asyncio.gather(*(closed_by_server(reader) for reader, _ in connections))
    assert all(answer == b"" for answer in heard[: 2 * SLOW]), "no head: closed without an answer"
    for answer in heard[2 * SLOW :]:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"did not arrive within 0.5 seconds" in answer
    for _, writer in connections:
        writer.close()


async def test_a_body_that_arrives_in_time_is_read_whole(address: tuple[str, int]) -> None:
    host, port = address
    reader, writer = await asyncio.open_connection(host, port)
    body = b'{"not": "an activity"}'
    writer.write(b"POST /api/messages HTTP/1.1\r\nHost: sobot\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))  # fmt: skip
    await writer.drain()
    writer.write(body)
    async with asyncio.timeout(AT_MOST):
        answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 400") and b"serviceUrl" in answer
