"""The e2e suite's parts: `sobot serve` on a loopback port, and the Agents Playground, the Teams client, against it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent
PLAYGROUND = HERE / "node_modules" / ".bin" / "agentsplayground"
# The Playground's personal chat with the bot: the id of the conversation its web page opens on.
CONVERSATION = "sobot-e2e"
# The Playground's own users, by their Entra object ids: Alex (the current user, as whom the Playground always
# acts) is a social worker and a member of the Safeguarding Unit; Megan is an IRO.
STAFF = (
    "name,email,roles,team,manager_email,entra_id\n"
    "Alex Wilber,alexw@example.com,social_worker;safeguarding_unit,North,,00000000-0000-0000-0000-0000000000020\n"
    "Megan Bowen,meganb@example.com,iro,IRO service,,00000000-0000-0000-0000-0000000000021\n"
)


@dataclass(frozen=True)
class Bot:
    """`sobot serve` as started: its port, and the environment a second process needs to share its records."""

    port: int
    env: dict[str, str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=20)


@contextmanager
def serving(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`sobot serve` with this environment, once it says it is listening; stopped, by its process group, after."""
    process = subprocess.Popen([sys.executable, "-m", "sobot.cli", "serve"], env=env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "sobot is listening" in line:
                break
        else:
            raise AssertionError("sobot serve exited before listening")
        yield process
    finally:
        stop(process)


def read_until(process: subprocess.Popen[str], pattern: str) -> re.Match[str]:
    """Read the process's output until a line matches; its exit first fails the test."""
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if match := re.search(pattern, line):
            return match
    raise AssertionError(f"exited before printing {pattern!r}:\n" + "".join(seen[-30:]))


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """`sobot serve` on a free loopback port, with the Playground's people in its directory.

    Its own dispatch job is held back (a day apart): a test that wants reminders runs a dispatch itself, on a clock
    it chooses, so nothing is sent behind its back.
    """
    folder = tmp_path_factory.mktemp("e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBOT_", "CONNECTIONS__"))}
    port = free_port()
    env.update({"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'sobot.db'}", "SOBOT_PORT": str(port),
                "SOBOT_MAILBOX_DIR": str(folder / "mailbox"), "SOBOT_DISPATCH_INTERVAL_SECONDS": "86400"})  # fmt: skip
    staff = folder / "staff.csv"
    staff.write_text(STAFF, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "sobot.cli", "people", "import", str(staff)], env=env, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    with serving(env):
        yield Bot(port, env)


@pytest.fixture(scope="module")
def playground_port(bot: Bot, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if not PLAYGROUND.exists():
        pytest.fail(f"The Agents Playground is not installed at {PLAYGROUND}: run `make test`, which installs it.")
    if shutil.which("node") is None:
        pytest.fail("Node.js is needed to run the Agents Playground.")
    env = {**os.environ, "TEAMSAPPTESTER_BROWSER": "none", "APPLICATION_INSIGHTS_NO_STATSBEAT": "true",
           "NODE_OPTIONS": f"--require {HERE / 'loopback.cjs'}",
           "M365_AGENTS_PLAYGROUND_LOGFILE": str(tmp_path_factory.mktemp("playground") / "playground.log")}  # fmt: skip
    wanted = free_port()
    process = subprocess.Popen(
        [str(PLAYGROUND), "-e", f"http://127.0.0.1:{bot.port}/api/messages", "-c", "msteams", "-p", str(wanted),
         "--conversation-id", CONVERSATION, "--disable-telemetry"],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        # It moves to another port, silently, when the one asked for is taken: use the one it reports.
        yield int(read_until(process, r"Listening on (\d+)").group(1))
    finally:
        stop(process)
