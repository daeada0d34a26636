"""Reminders, escalations, digests and notes to the unit, sent to Teams proactively from the outbox."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot import cards
from bot.messenger import Messenger
from handlers.links import Links
from scheduler.dispatch import Message, Transient, Unreachable


def notification_card(message: Message, links: Links) -> cards.Card:
    """The card for one notification: a step's reminder or escalation carries the buttons that answer it, and every
    card about an order "Open in sobot" to its page (the digest's, to the caseload)."""
    if message.kind in ("reminder", "escalation") and message.reference and message.step and message.due:
        note = " ".join(message.lines[:-1])  # the last line tells email readers how to answer: cards have buttons
        headline = message.headline if message.kind == "escalation" else ""
        return cards.reminder(message.reference, message.initials or "", message.title or message.step,
                              message.step, message.occurrence, message.due, f"{headline} {note}".strip(),
                              link=links.in_teams(message.reference), covering=message.covering)  # fmt: skip
    if message.kind == "digest":
        rows = [[cards.day(line.due) + (" (overdue)" if line.overdue else ""), line.reference, line.initials,
                 line.title, cards.role_name(line.owner)] for line in message.digest]  # fmt: skip
        return cards.card(
            cards.heading(f"{message.covering}: {message.headline}" if message.covering else message.headline),
            cards.table(["Due", "Order", "Child", "Step", "Owner"], rows),
            actions=[cards.open_in_sobot(links.caseload_in_teams())],
        )
    if message.reallocate and message.reference:
        # The IRO will be away for a step they own: one press reallocates to an IRO who is free that day.
        return cards.iro_away(
            message.reference, message.headline, message.choices, link=links.in_teams(message.reference)
        )
    attention = message.kind in ("nobody", "failed", "unconfirmed")
    if message.reference:
        return cards.card(cards.text(message.headline, color="Attention" if attention else "Default"),
                          actions=[cards.open_in_sobot(links.in_teams(message.reference))])  # fmt: skip
    return cards.message(message.headline, attention=attention)


def retry_after(headers: Any) -> float | None:
    """Seconds from a Retry-After header (delta-seconds; an HTTP date is taken as a minute)."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return 60.0


class TeamsChannel:
    """Sends a notification through a stored conversation reference, translating the connector's answers."""

    def __init__(self, messenger: Messenger, links: Links) -> None:
        self.messenger = messenger
        self.links = links

    async def send(self, reference: dict[str, Any], message: Message) -> None:
        try:
            # A note is its headline alone: as a card beside the same text it would show twice.
            carded = message.kind in ("reminder", "escalation", "digest") or message.reallocate
            card = notification_card(message, self.links) if carded else None
            text = message.headline
            if not carded and message.reference:  # a note about an order links to it as a card's button would
                text += f"\n\n[{cards.OPEN_IN_SOBOT}]({self.links.in_teams(message.reference)})"
            await self.messenger.post(reference, card, text=text)
        except aiohttp.ClientResponseError as error:
            if error.status in (403, 404):
                raise Unreachable(f"Teams answered {error.status}") from None
            if error.status == 429:
                raise Transient("Teams answered 429 (too many requests)", retry_after(error.headers)) from None
            raise Transient(f"Teams answered {error.status}") from None
        except (aiohttp.ClientError, OSError) as error:
            raise Transient(f"Teams could not be reached ({type(error).__name__})") from None
