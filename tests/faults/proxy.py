"""A loopback TCP proxy a test can cut (open connections dropped, new ones refused) or stall (nothing forwarded, nothing
refused), until it is restored."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Proxy:
    """Forwards 127.0.0.1:`port` to a target, on a loop of its own thread, so sync and async callers can share it.

    `cut()` aborts every open connection (as a crashed server or a pulled cable does to the client) and stops
    listening, so a new connection is refused; `restore()` listens again on the same port. `cut_when(pattern)`
    cuts at the moment the client sends those bytes, before they reach the server: a cut in mid-transaction.
    `stall()` is the silent failure, a server behind a firewall that drops its packets: new connections are accepted
    and held, and nothing more is forwarded either way on any connection, so the client hears neither an answer nor a
    refusal; `restore()` lets what was held through, as TCP would once the network is back. `stall_when(pattern)`
    stalls at the moment the client sends those bytes, holding them: a server gone silent in mid-transaction.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.connections = 0
        self.tripped = threading.Event()
        self._pattern: bytes | None = None
        self._stall_at_pattern = False
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy", daemon=True)

    def __enter__(self) -> Proxy:
        self._thread.start()
        self.restore()
        return self

    def __exit__(self, *_: object) -> None:
        self.cut()
        self._call(self._wake_held())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    @property
    def listening(self) -> bool:
        return self._server is not None

    def cut(self) -> None:
        self._call(self._cut())

    @property
    def stalled(self) -> bool:
        return not self._flowing.is_set()

    def restore(self) -> None:
        self._call(self._listen())

    def stall(self) -> None:
        self._call(self._stall())

    def cut_when(self, pattern: bytes) -> None:
        self.tripped.clear()
        self._call(self._arm(pattern, stall=False))

    def stall_when(self, pattern: bytes) -> None:
        self.tripped.clear()
        self._call(self._arm(pattern, stall=True))

    def _call(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _arm(self, pattern: bytes, *, stall: bool) -> None:
        self._pattern = pattern
        self._stall_at_pattern = stall

    async def _wake_held(self) -> None:
        # What a stall held wakes, finds itself cut, and ends.
        self._flowing.set()

    async def _stall(self) -> None:
        self._flowing.clear()

    async def _listen(self) -> None:
        self._flowing.set()
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._open.add(client_writer)
        try:
            await self._flowing.wait()  # a stalled proxy holds the connection, answering nothing
            if self._server is None or client_writer.transport.is_closing():  # cut while it was held
                client_writer.transport.abort()
                return
            try:
                server_reader, server_writer = await asyncio.open_connection(*self.target)
            except OSError:
                client_writer.transport.abort()
                return
            if self._server is None:  # cut while this one was connecting
                client_writer.transport.abort()
                server_writer.transport.abort()
                return
            self.connections += 1
            self._open.add(server_writer)
            await asyncio.gather(
                self._pipe(client_reader, server_writer, watch=True),
                self._pipe(server_reader, client_writer, watch=False),
            )
            self._open.discard(server_writer)
        finally:
            self._open.discard(client_writer)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, watch: bool) -> None:
        tail = b""
        try:
            while data := await reader.read(65536):
                if watch and self._pattern is not None and self._pattern in tail + data:
                    self._pattern = None
                    self.tripped.set()
                    if not self._stall_at_pattern:
                        await self._cut()
                        return
                    await self._stall()
                tail = data[-256:]
                await self._flowing.wait()  # stalled: the bytes are held, and nothing more is read behind them
                if writer.transport.is_closing():
                    return
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.transport.abort()
