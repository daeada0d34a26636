"""The dispatcher's channels: Teams where the bot can reach someone, the unit's mailbox for email."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from smtplib import SMTPDataError, SMTPRecipientsRefused, SMTPSenderRefused
from typing import Any

from bot.notify import TeamsChannel
from bot.reach import Installer
from handlers import orders
from handlers.context import SYSTEM, Context
from handlers.directory import iro_loads, unit_members
from handlers.links import Links
from mail.backends import Mailbox, Outgoing
from mail.compose import allocation_request, notification
from scheduler.dispatch import Message, Transient, Unreachable
from storage.outbox import ALLOCATION, REPLY

log = logging.getLogger(__name__)


class Delivery:
    """What scheduler.dispatch.Channels asks for, over the bot's messenger and the configured mailbox.

    `allocation_to` is who is asked by email to allocate an IRO (the unit's members or their list); empty, each
    person with the safeguarding_unit role. Never the shared mailbox itself: the poller reads that one, and files
    sobot's own mail unread, so a note addressed to `polled` (the unit's mailbox) goes to those same people.
    """

    def __init__(self, teams: TeamsChannel | None, mailbox: Mailbox | None, ctx: Context | None = None,
                 allocation_to: Sequence[str] = (), installer: Installer | None = None,
                 polled: str | None = None, *, links: Links) -> None:  # fmt: skip
        self._teams = teams
        self._installer = installer  # with Microsoft Graph set up: installs the bot for those with no chat
        self._mailbox = mailbox
        self._links = links  # an email's "Open in sobot" opens the page in a browser, never the Teams tab
        self._ctx = ctx  # the records, for the allocation request's order and IROs
        self._allocation_to = tuple(allocation_to)
        self._polled = (polled or "").strip().lower()
        # Sends the mail server did not take (down, refusing the connection, or failing), and what it said last:
        # what `sobot mail poll` tells of the replies it leaves queued.
        self.server_failures = 0
        self.last_server_failure = ""

    @property
    def has_email(self) -> bool:
        return self._mailbox is not None

    async def teams(self, reference: dict[str, Any], message: Message) -> None:
        if self._teams is None:
            raise Unreachable("Teams is not configured")
        await self._teams.send(reference, message)

    async def reach(self, person_id: int) -> tuple[int, dict[str, Any]] | None:
        if self._installer is None or self._teams is None:
            return None
        return await self._installer.reach(person_id)

    async def email(self, to: str, message: Message) -> None:
        if self._mailbox is None:
            raise Transient("no mailbox is configured")
        outgoing = replace(await self._email(to, message), token=message.token)
        try:
            await self._mailbox.send(outgoing)
        except Exception as error:
            # A refusal of this message (a recipient, the sender, its content) is the server answering, not failing.
            if not isinstance(error, SMTPRecipientsRefused | SMTPSenderRefused | SMTPDataError):
                self.server_failures += 1
                self.last_server_failure = " ".join(str(error).split()) or type(error).__name__
            if isinstance(error, OSError):
                raise Transient(f"the mail server could not be reached ({type(error).__name__})") from None
            raise
        if message.kind == ALLOCATION and message.reference and self._ctx is not None:
            await self._told(message.reference)

    async def _email(self, to: str, message: Message) -> Outgoing:
        if message.kind == REPLY and message.mail is not None:
            mail = message.mail
            return Outgoing((to,), str(mail["subject"]), str(mail["text"]), str(mail["html"]),
                            mail.get("in_reply_to"), tuple(mail.get("references", ())))  # fmt: skip
        if message.kind == ALLOCATION and message.reference and self._ctx is not None:
            # The same request whichever way the order came: a reply with a name allocates.
            view = await orders.get_order(self._ctx, message.reference, SYSTEM)
            people = await self._unit_people()
            if not people:
                raise Transient("nobody to ask: no allocation_request_to and nobody with the safeguarding_unit role")
            request = allocation_request(view, await iro_loads(self._ctx), people[0], self._links.order(view.reference))
            return replace(request, to=people)
        if self._polled and to.strip().lower() == self._polled:
            # A note to the unit: its people read it, not the poller (which would file it as sobot's own); with
            # nobody known to be the unit, the shared mailbox is better than no note at all.
            return replace(notification(to, message, self._links), to=await self._unit_people() or (to,))
        return notification(to, message, self._links)

    async def _unit_people(self) -> tuple[str, ...]:
        """Who reads mail for the unit: allocation_request_to, else each person with the safeguarding_unit role."""
        return self._allocation_to or (tuple(await unit_members(self._ctx)) if self._ctx is not None else ())

    async def _told(self, reference: str) -> None:
        # Sent: the unit is told. Its step's record is not the send's: a failure here must not send it again.
        assert self._ctx is not None
        try:
            await orders.unit_told(self._ctx, reference)
        except Exception as error:  # whatever it is, the email is out: raising would have the dispatcher resend it
            log.warning(
                "%s: the unit was told, but the step could not be recorded (%s)", reference, type(error).__name__
            )
