"""Fixtures of the fault tests: PostgreSQL only, a real `sobot serve`, a recording connector, a cuttable proxy."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PostgresSchema, run_apart
from tests.faults.proxy import Proxy, free_port


@pytest.fixture
def postgres_url(postgres_schema: PostgresSchema) -> str:
    """The run's PostgreSQL schema, emptied: these tests are about PostgreSQL, production's database."""
    run_apart(postgres_schema.empty)
    return postgres_schema.url


@pytest.fixture
def database_proxy(postgres_url: str) -> Iterator[Proxy]:
    server = make_url(postgres_url)
    with Proxy(server.host or "127.0.0.1", server.port or 5432) as proxy:
        yield proxy


def through(proxy: Proxy, database_url: str) -> str:
    """The same database, reached through the proxy."""
    return make_url(database_url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


class Serve:
    """`sobot serve` as a council runs it, in its own process; its log is kept (and drained, so it never blocks)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("SOBOT_", "CONNECTIONS__"))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sobot.cli", "serve"], env=base | env | {"SOBOT_PORT": str(self.port)},
            text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.log: collections.deque[str] = collections.deque(maxlen=5000)
        self._listening = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            if "sobot is listening" in line:
                self._listening.set()

    def wait_until_listening(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not self._listening.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("sobot serve did not start:\n" + self.output())

    def output(self) -> str:
        return "".join(self.log)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Serve]]:
    """Start `sobot serve` with `serve(env)`; every one started is stopped at the end."""
    started: list[Serve] = []

    def start(env: dict[str, str]) -> Serve:
        service = Serve({"SOBOT_MAILBOX_DIR": str(tmp_path / "mailbox")} | env)
        started.append(service)
        service.wait_until_listening()
        return service

    yield start
    for service in started:
        service.stop()
