"""Hostile mail through the whole poller: how long each 200 KB message takes to decide, and /healthz meanwhile."""

from __future__ import annotations

import argparse
import asyncio
import mailbox
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web

from handlers import people
from handlers.context import CLI
from mail.backends.maildir import MaildirMailbox
from mail.poller import Notices
from rules.clock import FixedClock
from sobot.app import build_sobot
from sobot.serve import settled
from sobot.settings import load_settings
from storage import upgrade

UNIT = "safeguarding.unit@example.gov.uk"
AUTHSERV_ID = "mx.example.gov.uk"
SIZE = 200_000
LABELS = "Child ID: LCS-1\nChild name: Amy Brown\nOrder type: SO\nDate made: 3 March 2026\n"


def bodies() -> dict[str, tuple[str, str]]:
    """Each hostile body by name, with its content type: the shapes that made some pass quadratic."""
    return {
        "one line of spaces": ("plain", "Child ID:" + " " * SIZE + "LCS-1\n"),
        "blanks of every kind": ("plain", "Child ID:" + "\t\xa0\u2003 " * (SIZE // 4) + "\n"),
        "blank lines": ("plain", " \n" * (SIZE // 2) + LABELS),
        "quote marks": ("plain", "> " * (SIZE // 2) + "\n" + LABELS),
        "dashes": ("plain", "-" * SIZE + "\n" + LABELS),
        "wrote lines": ("plain", ("On Mon " + "x " * 40 + "wrote:\n") * (SIZE // 90)),
        "disclaimer words": ("plain", "This email and any attachments " * (SIZE // 31)),
        "9,000 Child ID lines": ("plain", "".join(f"Child ID: LCS-{n:06d}\n" for n in range(SIZE // 22))),
        "labels without values": ("plain", "Child ID:\n\n" * (SIZE // 11)),
        "empty HTML paragraphs": ("html", "<p> " * (SIZE // 4)),
        "nested HTML blocks": ("html", "<div>" * (SIZE // 10) + LABELS + "</div>" * (SIZE // 10)),
        "hidden HTML": ("html", '<div style="display:none">' + "<p>Child ID: X</p>" * (SIZE // 40) + "</div>"),
        "HTML table cells": ("html", "<table><tr>" + "<td>Child ID<td> " * (SIZE // 16) + "</table>"),
    }


def message(number: int, subtype: str, body: str) -> bytes:
    return (
        f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=example.gov.uk\n"
        f"From: Tom Jones <tom.jones@example.gov.uk>\nTo: {UNIT}\nSubject: New supervision order\n"
        f"Message-ID: <hostile.{number}@example.gov.uk>\nContent-Type: text/{subtype}; charset=utf-8\n"
        f"Content-Transfer-Encoding: 8bit\n\n{body}"
    ).encode()


def deliver(box: MaildirMailbox, raw: bytes) -> None:
    mailbox.Maildir(box.root).add(mailbox.MaildirMessage(raw))


async def ping(url: str, session: aiohttp.ClientSession, times: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        async with session.get(url) as answer:
            assert answer.status == 200
            await answer.read()
        times.append(time.perf_counter() - began)
        await asyncio.sleep(0.01)


async def run() -> None:
    folder = Path(tempfile.mkdtemp(prefix="sobot-hostile-bench-"))
    url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    await upgrade(url)
    settings = load_settings({}, database_url=url, mailbox_dir=folder / "mailbox", unit_address=UNIT,
                             allowed_sender_domains=["example.gov.uk"], mail_authserv_ids=[AUTHSERV_ID],
                             procedure="wirral")  # fmt: skip
    sobot = build_sobot(settings, clock=FixedClock(datetime(2026, 3, 18, 9, tzinfo=UTC)), environ={}, run_jobs=False)
    await people.import_people(sobot.context, "name,email,roles\nTom Jones,tom.jones@example.gov.uk,social_worker\n",
                               CLI)  # fmt: skip
    box = sobot.services.mailbox
    assert sobot.poller is not None and isinstance(box, MaildirMailbox)
    poller = replace(sobot.poller, notices=Notices())
    runner = web.AppRunner(sobot.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    # A service that has run a while: an ordinary order first, so its statements are compiled and its modules loaded;
    # then what `sobot serve` does once it has started.
    await asyncio.to_thread(deliver, box, message(-1, "plain", LABELS.replace("LCS-1", "LCS-0")))
    assert (await poller.poll_once()).orders
    settled()
    print(f"hostile mail: each about {SIZE // 1000} KB, decided by the whole poll (Maildir, SQLite)")
    decided: list[float] = []
    health: list[float] = []
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        pinger = asyncio.create_task(ping(f"http://127.0.0.1:{port}/healthz", session, health, stop))
        for number, (name, (subtype, body)) in enumerate(bodies().items()):
            raw = message(number, subtype, body)
            # Delivered off the event loop, as another process delivers mail: only sobot's own work is timed.
            await asyncio.to_thread(deliver, box, raw)
            began = time.perf_counter()
            report = await poller.poll_once()
            took = time.perf_counter() - began
            decided.append(took)
            outcome = "order" if report.orders else "answered" if report.replied else "left for a person"
            print(f"  {name:<24} {len(raw) / 1000:6.0f} KB  {took * 1000:7.0f} ms  {outcome}")
        stop.set()
        await pinger
    await runner.cleanup()
    await sobot.close()
    print(f"  slowest decision            {max(decided) * 1000:7.0f} ms")
    print(f"  /healthz meanwhile: {len(health)} answers, median {statistics.median(health) * 1000:.1f} ms, "
          f"slowest {max(health) * 1000:.1f} ms")  # fmt: skip


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    asyncio.run(run())


if __name__ == "__main__":
    main()
