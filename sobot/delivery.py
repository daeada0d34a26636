"""The dispatcher's channels: Teams where the bot can reach someone, the unit's mailbox for email."""

from __future__ import annotations

from typing import Any

from bot.notify import TeamsChannel
from mail.backends import Mailbox
from mail.compose import notification
from scheduler.dispatch import Message, Transient, Unreachable


class Delivery:
    """What scheduler.dispatch.Channels asks for, over the bot's messenger and the configured mailbox."""

    def __init__(self, teams: TeamsChannel | None, mailbox: Mailbox | None) -> None:
        self._teams = teams
        self._mailbox = mailbox

    @property
    def has_email(self) -> bool:
        return self._mailbox is not None

    async def teams(self, reference: dict[str, Any], message: Message) -> None:
        if self._teams is None:
            raise Unreachable("Teams is not configured")
        await self._teams.send(reference, message)

    async def email(self, to: str, message: Message) -> None:
        if self._mailbox is None:
            raise Transient("no mailbox is configured")
        try:
            await self._mailbox.send(notification(to, message))
        except OSError as error:
            raise Transient(f"the mail server could not be reached ({type(error).__name__})") from None
