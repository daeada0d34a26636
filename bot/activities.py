"""What sobot reads of a Teams activity (where it came from, who sent it) and how an answer leaves as one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from microsoft_agents.activity import Activity, ActivityTypes
from microsoft_agents.hosting.core import CardFactory, MessageFactory, TurnContext

from bot import cards


@dataclass(frozen=True)
class Reply:
    """What a turn answers: a line of text, a card, or both."""

    text: str | None = None
    card: cards.Card | None = None

    def activity(self) -> Activity:
        if self.card is not None:
            return cast(Activity, MessageFactory.attachment(CardFactory.adaptive_card(self.card), text=self.text))
        return MessageFactory.text(self.text or "")


def kind(activity: Activity) -> str:
    """The conversation's kind as sobot stores it: personal, group or channel."""
    conversation_type = (activity.conversation.conversation_type if activity.conversation else None) or "personal"
    return (
        "channel" if conversation_type == "channel" else ("group" if conversation_type == "groupChat" else "personal")
    )


def thread_root(activity: Activity) -> str | None:
    """The id of the post a channel reply belongs to (Teams puts it in the conversation id)."""
    conversation_id = activity.conversation.id if activity.conversation else ""
    if ";messageid=" in conversation_id:
        return conversation_id.split(";messageid=", 1)[1]
    return activity.reply_to_id


def channel_id(activity: Activity) -> str:
    """The conversation's id at its top level, outside the thread this activity is in."""
    return (activity.conversation.id if activity.conversation else "").split(";messageid=", 1)[0]


def sender(activity: Activity) -> str:
    """Who an unknown caller says they are, for the audit log: their Teams id and Entra object id."""
    sent_by = activity.from_property
    return f"teams:{sent_by.id if sent_by else '?'} entra:{(sent_by.aad_object_id if sent_by else None) or '?'}"


def card_body(card: cards.Card) -> dict[str, Any]:
    """An Adaptive Card invoke response's body (AdaptiveCardInvokeResponse, as Teams reads it): the new card."""
    return {"statusCode": 200, "type": "application/vnd.microsoft.card.adaptive", "value": card}


def answer_invoke(turn_context: TurnContext, status: int, body: Any) -> None:
    """Leave the invoke's answer where the adapter looks for it.

    The SDK's own route, sending an invoke-response activity, validates and deep-copies the whole card
    three times over on its way to the same place.
    """
    # Built without validation: the adapter reads only its value, which sobot made.
    turn_context.turn_state[turn_context.adapter.INVOKE_RESPONSE_KEY] = Activity.model_construct(
        type=ActivityTypes.invoke_response, value={"status": status, "body": body}
    )
