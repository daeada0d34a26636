"""Sending to Teams outside a turn: proactive messages and card updates through stored references."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from microsoft_agents.activity import Activity, ConversationReference
from microsoft_agents.hosting.core import (
    CardFactory,
    ChannelServiceAdapter,
    ClaimsIdentity,
    MessageFactory,
    TurnContext,
)
from microsoft_agents.hosting.core.connector import ConnectorClientBase

from bot.clients import KeptClients
from handlers.conversations import Conversation

log = logging.getLogger(__name__)

# The longest a post to another conversation may keep the turn that makes it waiting (the allocation card a
# new order posts to the unit's channel, say). Teams gives up on a turn after about 15 s, and the aiohttp
# session the SDK's connector client makes would wait five minutes.
POST_SECONDS = 8.0


class Messenger:
    """Reaches a stored conversation: with the bot's app id in production, anonymously in local mode."""

    def __init__(self, adapter: ChannelServiceAdapter, app_id: str | None, factory: KeptClients) -> None:
        self.adapter = adapter
        self.app_id = app_id
        self.factory = factory

    async def _client(self, service_url: str) -> ConnectorClientBase:
        """The connector client for this service URL, made with the bot's token as a proactive turn makes it."""
        if self.app_id:
            claims = self.adapter.create_claims_identity(self.app_id)
            audience = claims.get_token_audience()
        else:
            claims, audience = ClaimsIdentity({}), "https://api.botframework.com"
        return await self.factory.create_connector_client(
            None, claims, service_url, audience, use_anonymous=claims.allow_anonymous
        )

    async def post(self, reference: dict[str, Any], card: dict[str, Any] | None, text: str | None = None) -> str | None:
        """Post a card (or, with none, the text alone) to a stored conversation without running a turn: the
        outbox's many notifications.

        The SDK's connector client does the sending; the factory keeps one per service URL, so a thousand
        reminders share connections rather than open a thousand.
        """
        target = ConversationReference.model_validate(reference)
        if not target.service_url or target.conversation is None:
            raise ValueError("the stored conversation reference has no service URL or conversation")
        client = await self._client(target.service_url)
        activity = _message(card, text)
        activity.apply_conversation_reference(target)
        response = await client.conversations.send_to_conversation(target.conversation.id, activity)
        return response.id if response is not None and response.id else None

    async def close(self) -> None:
        await self.factory.close()

    async def _continue(self, conversation: Conversation, work: Any) -> None:
        """Run `work` in the conversation; its failure is raised here, to the caller that can retry it.

        Left to the adapter, a failure would go to the turn-error handler, which answers a user's turn
        with an apology: outside a turn there is nobody to apologise to, and the sender must know. A
        connector that does not answer within POST_SECONDS is a TimeoutError here.
        """
        reference = ConversationReference.model_validate(conversation.reference)
        continuation = reference.get_continuation_activity()
        failures: list[Exception] = []

        async def guarded(context: TurnContext) -> None:
            try:
                await work(context)
            except Exception as error:
                failures.append(error)

        async with asyncio.timeout(POST_SECONDS):
            if self.app_id:
                await self.adapter.continue_conversation(self.app_id, continuation, guarded)
            else:
                await self.adapter.continue_conversation_with_claims(
                    ClaimsIdentity({}), continuation, guarded, audience="https://api.botframework.com"
                )
        if failures:
            raise failures[0]

    async def send(
        self, conversation: Conversation, card: dict[str, Any] | None, text: str | None = None
    ) -> str | None:
        """Post a card (and a line of text), or the text alone, to the conversation; the new activity's id."""
        sent: list[str] = []

        async def post(context: TurnContext) -> None:
            response = await context.send_activity(_message(card, text))
            if response is not None and response.id:
                sent.append(response.id)

        await self._continue(conversation, post)
        return sent[0] if sent else None

    async def update(self, conversation: Conversation, activity_id: str, card: dict[str, Any]) -> None:
        """Replace a posted card in place, for everyone who sees it."""

        async def replace(context: TurnContext) -> None:
            activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
            activity.id = activity_id
            await context.update_activity(activity)

        await self._continue(conversation, replace)

    async def member(self, turn_context: TurnContext, member_id: str) -> str | None:
        """The email Teams holds for a member of this conversation, if it will say."""
        client = turn_context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
        conversation = turn_context.activity.conversation
        if client is None or conversation is None:
            return None
        member = await client.conversations.get_conversation_member(conversation.id.split(";")[0], member_id)
        extra = member.model_dump(by_alias=True) if member is not None else {}
        email = extra.get("email") or extra.get("userPrincipalName")
        return str(email) if email else None


def _message(card: dict[str, Any] | None, text: str | None) -> Activity:
    if card is None:
        return MessageFactory.text(text or "")
    return cast(Activity, MessageFactory.attachment(CardFactory.adaptive_card(card), text=text))
