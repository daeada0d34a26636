"""The bot on a port, driven by a real Teams client: the Microsoft 365 Agents Playground."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.cards import texts
from tests.e2e.playground import Playground

HERE = Path(__file__).parent
PLAYGROUND = HERE / "node_modules" / ".bin" / "agentsplayground"
CONVERSATION = "sobot-e2e"


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
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`sobot serve` on a free loopback port, with the Playground's people in its directory."""
    folder = tmp_path_factory.mktemp("e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBOT_", "CONNECTIONS__"))}
    port = free_port()
    env.update({"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'sobot.db'}", "SOBOT_PORT": str(port),
                "SOBOT_MAILBOX_DIR": str(folder / "mailbox")})  # fmt: skip
    staff = folder / "staff.csv"
    # The Playground's own users, by their Entra object ids: Alex (the current user) is a social worker and a
    # member of the Safeguarding Unit; Megan is an IRO.
    staff.write_text(
        "name,email,roles,team,manager_email,entra_id\n"
        "Alex Wilber,alexw@example.com,social_worker;safeguarding_unit,North,,00000000-0000-0000-0000-0000000000020\n"
        "Megan Bowen,meganb@example.com,iro,IRO service,,00000000-0000-0000-0000-0000000000021\n",
        encoding="utf-8",
    )
    subprocess.run([sys.executable, "-m", "sobot.cli", "people", "import", str(staff)], env=env, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "sobot.cli", "serve"], env=env, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "sobot is listening" in line:
                break
        else:
            raise AssertionError("sobot serve exited before listening")
        yield port
    finally:
        stop(process)


@pytest.fixture(scope="module")
def playground_port(bot: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if not PLAYGROUND.exists():
        pytest.fail(f"The Agents Playground is not installed at {PLAYGROUND}: run `make test`, which installs it.")
    if shutil.which("node") is None:
        pytest.fail("Node.js is needed to run the Agents Playground.")
    env = {**os.environ, "TEAMSAPPTESTER_BROWSER": "none", "APPLICATION_INSIGHTS_NO_STATSBEAT": "true",
           "NODE_OPTIONS": f"--require {HERE / 'loopback.cjs'}",
           "M365_AGENTS_PLAYGROUND_LOGFILE": str(tmp_path_factory.mktemp("playground") / "playground.log")}  # fmt: skip
    wanted = free_port()
    process = subprocess.Popen(
        [str(PLAYGROUND), "-e", f"http://127.0.0.1:{bot}/api/messages", "-c", "msteams", "-p", str(wanted),
         "--conversation-id", CONVERSATION, "--disable-telemetry"],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        # It moves to another port, silently, when the one asked for is taken: use the one it reports.
        yield int(read_until(process, r"Listening on (\d+)").group(1))
    finally:
        stop(process)


@pytest.fixture
async def playground(playground_port: int) -> AsyncIterator[Playground]:
    async with aiohttp.ClientSession() as session:
        client = Playground(f"http://127.0.0.1:{playground_port}", session)
        await client.open()
        yield client
        await client.close()


FORM = {
    "child_local_id": "C42", "child_name": "Sam Taylor", "child_date_of_birth": "2018-02-01",
    "order_type": "supervision", "made": "2026-03-03", "commenced": "", "months": "12", "last_day": "",
    "court": "Leeds Family Court", "other_orders": "", "conditions": "", "procedure": "wirral",
    "social_worker": "alexw@example.com", "notes": "",
}  # fmt: skip


async def test_a_new_user_records_an_order_and_the_unit_allocates_an_iro(playground: Playground) -> None:
    channel = playground.config["teams"][0]["channels"][0]["id"]

    await playground.say(CONVERSATION, "help")
    assert "new order" in (await playground.next(CONVERSATION)).text

    await playground.say(channel, "use this channel for allocations", mention=True)
    assert "now gets" in (await playground.next(channel)).text

    await playground.say(CONVERSATION, "new order")
    form = await playground.next(CONVERSATION)
    assert form.card is not None and "New Supervision Order" in texts(form.card)

    answer = await playground.execute(CONVERSATION, form.message_id, "order.submit", {**FORM, "made": "31/02/2026"})
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert "February 2026 has 28 days" in texts(answer["value"])
    assert "Sam Taylor" in texts(answer["value"])  # what was typed is kept

    answer = await playground.execute(CONVERSATION, form.message_id, "order.submit", FORM)
    summary = texts(answer["value"])
    assert "Saved SO-" in summary and "S.T." in summary and "pending" in summary
    reference = re.search(r"SO-\d{4}-\d{4}", summary)
    assert reference is not None

    request = await playground.next(channel)
    assert request.card is not None and f"Allocate an IRO: {reference.group(0)}" in texts(request.card)
    assert "Megan Bowen (0 open)" in texts(request.card)

    thread = f"{channel};messageid={request.message_id}"  # the card is the root of its own thread
    megan = {"reference": reference.group(0), "iro": "meganb@example.com"}
    clicked = await playground.execute(thread, request.message_id, "order.allocate", megan)
    assert "Allocated to Megan Bowen by Alex Wilber" in texts(clicked["value"])
    updated = await playground.next(channel, action="updateMessage")
    assert updated.message_id == request.message_id and "Allocated to Megan Bowen" in texts(updated.card)

    told = await playground.next(CONVERSATION)  # proactive: the social worker hears who the IRO is
    assert f"Megan Bowen is the IRO for {reference.group(0)}" in told.text
