"""Everything sobot shows in Teams is in its users' words: no card or chat line names a file, a key of the
procedure's or the code's, or a label with a star of its own beside the renderer's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from handlers import people
from handlers.context import CLI
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from sobot.app import SOBOT, Services, create_app
from sobot.settings import load_settings
from storage import Database
from tests.connector import RecordingConnector
from tests.integration.test_teams import CHANNEL, NEW_ORDER, STAFF
from tests.teams import Teams

# A key as code and procedure files write them (first_cin_meeting, safeguarding_unit), a seed's file name, a file.
KEY = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
FILE = re.compile(r"\b\d{3}_[0-9a-f]{16}\b|\.(?:txt|toml|py)\b")
# What a card shows a person: the rest (ids, verbs, data) is for the bot.
SHOWN = ("text", "title", "value", "label", "placeholder", "errorMessage")


def shown(node: Any) -> list[str]:
    """Every piece of text a card shows, skipping what an input holds (what the person typed is theirs)."""
    found: list[str] = []
    if isinstance(node, dict):
        is_input = str(node.get("type", "")).startswith("Input.")
        for key in SHOWN:
            if isinstance(node.get(key), str) and not (is_input and key == "value"):
                found.append(node[key])
        for key, value in node.items():
            if key == "choices":
                found += [choice["title"] for choice in value]  # a choice's value is for the bot
            elif key not in ("data", "refresh", "id", "verb"):
                found += shown(value)
    elif isinstance(node, list):
        for item in node:
            found += shown(item)
    return found


def words_of(bodies: list[dict[str, Any]]) -> list[str]:
    """The chat lines and card texts of activities sobot sent or answered with."""
    found: list[str] = []
    for body in bodies:
        if body.get("text"):
            found.append(body["text"])
        for attachment in body.get("attachments") or []:
            found += shown(attachment["content"])
    return found


def labels(bodies: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("label"), str):
                found.append(node["label"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk([a["content"] for b in bodies for a in b.get("attachments") or []])
    return found


@pytest.fixture
async def everything(
    database: Database, database_url: str, connector: RecordingConnector
) -> AsyncIterator[list[dict[str, Any]]]:
    """What sobot says to everyone through a working life of one order, in Teams."""
    clock = FixedClock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    services = Services(load_settings({}, database_url=database_url), clock, database, load_builtin(),
                        WorkingCalendar())  # fmt: skip
    await people.import_people(services.context(), STAFF, CLI)
    app = create_app(services, run_jobs=False, environ={})
    client = TestClient(TestServer(app))
    await client.start_server()
    teams = Teams(client, connector, database)
    answers: list[dict[str, Any]] = []

    async def click(who: str, verb: str, data: dict[str, Any], conversation: str | None = None) -> None:
        body = await teams.invoke(who, verb, data, conversation)
        answers.append({"attachments": [{"content": body["value"]}]})

    try:
        for who in ("sam", "tess", "ian", "una"):
            await teams.say(who, "hello")
        await teams.say("una", "use this channel for allocations", CHANNEL)
        for line in (
            "help",
            "new order",
            "new ISO",
            "my orders",
            "orders please",
            "due",
            "overdue",
            "due this week",
            "what is the weather",
            "done SO-2026-0001",
            "event SO-2026-0001 tea party 12/03/2026",
        ):
            await teams.say("sam", line)
        await click("sam", "order.submit", {**NEW_ORDER, "made": "30/02/2026", "child_name": ""})
        await click("sam", "order.submit", NEW_ORDER)
        await click("sam", "order.submit", NEW_ORDER)  # already recorded
        for line in (
            "order SO-2026-0001",
            "my orders",
            "due next 30 days",
            "overdue",
            "done SO-2026-0001 case summary",
            "event SO-2026-0001 first CIN meeting 09/03/2026",
            "done SO-2026-0001 allocate an IRO",
            "extend SO-2026-0001 to 02/03/2028",
        ):
            await teams.say("sam", line)
        allocation = {"card": "allocation", "reference": "SO-2026-0001"}
        await click("sam", "card.refresh", allocation, CHANNEL)
        await click("una", "card.refresh", allocation, CHANNEL)
        await click("una", "order.allocate", {"reference": "SO-2026-0001", "iro": "ian.reviewer@example.gov.uk"},
                    CHANNEL)  # fmt: skip
        await click("ian", "card.refresh", allocation, CHANNEL)
        await teams.say("una", "allocate SO-2026-0001 to ivy", CHANNEL)
        await teams.say("una", "allocate SO-2026-0001 to Sam Worker", CHANNEL)
        # Weeks later the reminders and escalations go out, and are answered.
        clock.advance(timedelta(days=41))
        await app[SOBOT].dispatch()
        for key in ("inform_safeguarding_unit", "allocate_iro", "case_summary", "first_cin_meeting", "initial_review"):
            step = {"reference": "SO-2026-0001", "step": key, "occurrence": 1}
            for who in ("sam", "tess", "una"):
                await click(who, "card.refresh", {"card": "reminder", **step})
            await click("tess", "step.acknowledge", step)
            await click("sam", "step.snooze", {**step, "days": 2})
            await click("sam", "step.done_on", {**step, "done_on": "31/02/2026"})
            await click("sam", "step.done", step)
        yield [s.body for s in connector.sent] + answers
    finally:
        await client.close()


async def test_no_card_or_chat_line_names_a_file_or_a_key(everything: list[dict[str, Any]]) -> None:
    words = words_of(everything)
    kinds = {a["content"]["body"][0].get("text", "")[:20] for b in everything for a in b.get("attachments") or []}
    assert len(words) > 100 and len(kinds) > 15, "the walk saw every kind of card"
    assert any("Reminder" in w or "is due" in w for w in words), "reminders went out"
    keys = sorted({f"{match} in {w[:120]!r}" for w in words for match in KEY.findall(w)})
    files = sorted({f"{w[:120]!r}" for w in words if FILE.search(w)})
    assert keys == [] and files == []
    recorded = [w for w in words if w.startswith("Recorded for SO-2026-0001: First Child in Need meeting")]
    assert recorded, "an event named in words, as the help says, is recorded"


async def test_no_label_carries_a_star_of_its_own(everything: list[dict[str, Any]]) -> None:
    found = labels(everything)
    assert found and not [label for label in found if "*" in label]
