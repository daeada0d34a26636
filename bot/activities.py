"""What sobot reads of a Teams activity (where it came from, who sent it) and how an answer leaves as one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

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


# Teams' ids (a conversation with its thread, a message, a member) are well under this; a service URL too.
LONGEST_ID = 512
LONGEST_SERVICE_URL = 2048
IDS = (("id",), ("replyToId",), ("from", "id"), ("from", "aadObjectId"), ("recipient", "id"), ("conversation", "id"))


def problem_with(body: Any) -> str | None:
    """Why a body posted to the endpoint is not an activity sobot can answer, as a sentence; None when it is.

    Checked before the SDK reads it: the SDK would take a relative, non-web or huge service URL, an id a page
    long, or a NUL character (which no database column takes), and fail deep inside a turn.
    """
    if not isinstance(body, dict):
        return "the body is not a Bot Framework activity (a JSON object)"
    if _has_nul(body):
        return "the activity carries a NUL character"
    for path in IDS:
        value: Any = body
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None and (not isinstance(value, str) or len(value) > LONGEST_ID):
            return f"{'.'.join(path)} is not an id of at most {LONGEST_ID} characters"
    service_url = body.get("serviceUrl")
    if not isinstance(service_url, str) or len(service_url) > LONGEST_SERVICE_URL:
        return "serviceUrl is missing or too long: the activity says nowhere to answer"
    parts = urlsplit(service_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "serviceUrl is not an absolute http(s) address: the activity says nowhere to answer"
    return None


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False
