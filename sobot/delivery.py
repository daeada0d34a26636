"""The dispatcher's channels: Teams where the bot can reach someone, the unit's mailbox for email."""

from __future__ import annotations

from typing import Any

from bot.notify import TeamsChannel
from handlers import orders
from handlers.context import SYSTEM, Context
from handlers.directory import iro_loads
from mail.backends import Mailbox, Outgoing
from mail.compose import allocation_request, notification
from scheduler.dispatch import Message, Transient, Unreachable
from storage.outbox import ALLOCATION


class Delivery:
    """What scheduler.dispatch.Channels asks for, over the bot's messenger and the configured mailbox."""

    def __init__(self, teams: TeamsChannel | None, mailbox: Mailbox | None, ctx: Context | None = None) -> None:
        self._teams = teams
        self._mailbox = mailbox
        self._ctx = ctx  # the records, for the allocation request's order and IROs

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
            await self._mailbox.send(await self._email(to, message))
        except OSError as error:
            raise Transient(f"the mail server could not be reached ({type(error).__name__})") from None

    async def _email(self, to: str, message: Message) -> Outgoing:
        if message.kind == ALLOCATION and message.reference and self._ctx is not None:
            # The same request the mail channel sends for an emailed order: a reply with a name allocates.
            view = await orders.get_order(self._ctx, message.reference, SYSTEM)
            return allocation_request(view, await iro_loads(self._ctx), to)
        return notification(to, message)
