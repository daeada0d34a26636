"""A small client of the Agents Playground's own API: what its web page calls to type, click and listen."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp

# How long to wait for the bot's answer to arrive on the websocket: a bound, not a sleep.
ANSWER_WITHIN = 30.0


@dataclass
class Posted:
    conversation_id: str
    message_id: str
    text: str
    card: dict[str, Any] | None
    action: str


@dataclass
class Playground:
    base: str
    session: aiohttp.ClientSession
    config: dict[str, Any] = field(default_factory=dict)
    _socket: aiohttp.ClientWebSocketResponse | None = None
    _inbox: asyncio.Queue[Posted] = field(default_factory=asyncio.Queue)
    _reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        async with self.session.get(f"{self.base}/_internal/v1/config") as response:
            response.raise_for_status()
            self.config = (await response.json())["config"]
        self._socket = await self.session.ws_connect(f"{self.base}/_ws_conversation/v1/conversations/stream")
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._socket is not None:
            await self._socket.close()

    async def _read(self) -> None:
        assert self._socket is not None
        async for frame in self._socket:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(frame.data)
            message = event.get("message") or {}
            if message.get("from", {}).get("id") != self.config["bot"]["id"]:
                continue
            cards = [a.get("content") for a in message.get("attachments") or []
                     if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]  # fmt: skip
            await self._inbox.put(
                Posted(event.get("actionConversationId", ""), str(message.get("messageId", "")),
                       message.get("text") or "", cards[0] if cards else None, event.get("action", ""))
            )  # fmt: skip

    @property
    def user(self) -> dict[str, Any]:
        user: dict[str, Any] = self.config["currentUser"]
        return user

    async def say(self, conversation_id: str, text: str, *, mention: bool = False) -> None:
        """Type a message; in a channel Teams only passes on messages that @mention the bot."""
        body: dict[str, Any] = {"from": {"id": self.user["id"]}, "text": text, "textFormat": "plain"}
        if mention:
            tag = f"<at>{self.config['bot']['name']}</at>"
            body["text"] = f"{tag} {text}"
            body["mentions"] = [{"mentioned": {"id": self.config["bot"]["id"]}, "text": tag}]
        async with self.session.post(f"{self.base}/_conversation/v1/conversations/{conversation_id}/messages",
                                     json=body) as response:  # fmt: skip
            response.raise_for_status()

    async def next(self, conversation_id: str | None = None, action: str | None = None) -> Posted:
        """The bot's next message (in that conversation, of that kind), waiting at most ANSWER_WITHIN."""
        async with asyncio.timeout(ANSWER_WITHIN):
            while True:
                posted = await self._inbox.get()
                # A reply in a channel arrives in the thread: "channel;messageid=…".
                if (conversation_id is None or posted.conversation_id.split(";")[0] == conversation_id) and (
                    action is None or posted.action == action
                ):
                    return posted

    async def execute(self, conversation_id: str, message_id: str, verb: str, data: dict[str, Any]) -> dict[str, Any]:
        """Press an Action.Execute button: what the web page posts, and the invoke response it gets."""
        body = {
            "name": "adaptiveCard/action",
            "value": {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"},
            "from": {"id": self.user["id"]},
            "conversation": {"id": conversation_id},
            "replyToId": message_id,
        }
        async with self.session.post(f"{self.base}/_conversation/v1/invoke", json=body) as response:
            if response.status >= 400:
                raise AssertionError(f"invoke refused ({response.status}): {await response.text()} for {body}")
            answer: dict[str, Any] = await response.json()
            return answer
