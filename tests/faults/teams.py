"""A Teams caller over HTTP, as Teams posts Bot Framework activities, reading answers from a recording connector."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientSession, ClientTimeout

from tests.cards import texts
from tests.connector import RecordingConnector

STAFF = """name,email,roles,team,manager_email,entra_id
Sam Worker,sam.worker@example.gov.uk,social_worker,North,,entra-sam
Ian Reviewer,ian.reviewer@example.gov.uk,iro,IRO service,,entra-ian
Una Unit,una.unit@example.gov.uk,safeguarding_unit,Safeguarding Unit,,entra-una
"""
CHILD_NAME = "Jane Mary Smith"
CHILD_BIRTH = "2019-06-01"
_ids = itertools.count(1)


def new_order(child_local_id: str) -> dict[str, str]:
    """The new-order form as a social worker fills it in."""
    return {
        "child_local_id": child_local_id, "child_name": CHILD_NAME, "child_date_of_birth": CHILD_BIRTH,
        "order_type": "supervision", "made": "2026-03-03", "commenced": "", "months": "12", "last_day": "",
        "court": "Liverpool Family Court", "other_orders": "", "conditions": "", "procedure": "wirral",
        "social_worker": "sam.worker@example.gov.uk", "notes": "",
    }  # fmt: skip


def activity(service_url: str, who: str, conversation: str | None = None, **fields: Any) -> dict[str, Any]:
    channel = conversation is not None and conversation.startswith("19:")
    return {
        "id": f"incoming-{next(_ids)}", "channelId": "msteams", "serviceUrl": service_url,
        "from": {"id": f"29:{who}", "name": who, "aadObjectId": f"entra-{who}"},
        "recipient": {"id": "28:sobot", "name": "sobot"},
        "conversation": {"id": conversation or f"a:personal-{who}",
                         "conversationType": "channel" if channel else "personal", "tenantId": "tenant"},
        **fields,
    }  # fmt: skip


class Caller:
    """One person in Teams talking to a bot at `bot_url`; replies are read from the recording connector."""

    def __init__(self, session: ClientSession, bot_url: str, connector: RecordingConnector, who: str = "sam") -> None:
        self.session = session
        self.bot_url = bot_url
        self.connector = connector
        self.who = who

    async def say(self, text: str, conversation: str | None = None) -> str:
        """A chat message; the text of what the bot answered in this turn."""
        before = len(self.connector.sent)
        body = activity(self.connector.url, self.who, conversation, type="message", text=text)
        async with self.session.post(f"{self.bot_url}/api/messages", json=body) as response:
            assert response.status in (200, 202), await response.text()
        answered = [part for s in self.connector.sent[before:] for part in (s.text, texts(s.card or {})) if part]
        return "\n".join(answered)

    async def click(self, verb: str, data: dict[str, Any], conversation: str | None = None) -> str:
        """An Action.Execute button; the text of the card the bot answered with."""
        value = {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
        body = activity(self.connector.url, self.who, conversation, type="invoke", name="adaptiveCard/action",
                        value=value)  # fmt: skip
        async with self.session.post(f"{self.bot_url}/api/messages", json=body) as response:
            assert response.status == 200, await response.text()
            answer: dict[str, Any] = await response.json()
        assert answer["statusCode"] == 200, answer
        return texts(answer["value"])

    async def ready(self) -> tuple[int, dict[str, Any]]:
        async with self.session.get(f"{self.bot_url}/readyz", timeout=ClientTimeout(total=10)) as response:
            return response.status, await response.json()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> float:
    """Poll `check` until it holds; how long that took. No fixed sleeps: a short pause between polls only."""
    began = time.monotonic()
    while not await check():
        if time.monotonic() - began > seconds:
            raise AssertionError(f"{what}: not within {seconds:.0f} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - began
