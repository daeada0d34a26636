"""The embedded mailbox: a Maildir on disk (var/mailbox), with Processed and Needs attention folders."""

from __future__ import annotations

import asyncio
import mailbox
from email.message import EmailMessage
from pathlib import Path

from mail.backends import NEEDS_ATTENTION, PROCESSED, Outgoing, RawMessage
from mail.compose import to_mime

SENT = "Sent"


class MaildirMailbox:
    """The unit's mailbox as a folder: drop an .eml into new/ and it is read. What is sent lands in Sent."""

    def __init__(self, root: Path, address: str) -> None:
        self.root = root
        self.address = address
        root.parent.mkdir(parents=True, exist_ok=True)
        self._inbox = mailbox.Maildir(root, create=True)
        for folder in (PROCESSED, NEEDS_ATTENTION, SENT):
            if folder not in self._inbox.list_folders():
                self._inbox.add_folder(folder)

    def _inbox_messages(self) -> list[RawMessage]:
        found = []
        for key in self._inbox.iterkeys():
            try:
                message = self._inbox.get_message(key)
                found.append((message.get_date(), key, bytes(self._inbox.get_bytes(key))))
            except (KeyError, FileNotFoundError):
                continue  # filed by another reader since the folder was listed
        return [RawMessage(key, raw) for _, key, raw in sorted(found)]

    async def new_messages(self) -> list[RawMessage]:
        # new/ and cur/ alike, whatever the flags: a message a person opened (S) is still the unit's to act on.
        return await asyncio.to_thread(self._inbox_messages)

    def _mark_read(self, message: RawMessage) -> None:
        stored = self._inbox.get_message(message.mailbox_id)
        stored.set_subdir("cur")
        stored.add_flag("S")
        self._inbox[message.mailbox_id] = stored

    async def mark_read(self, message: RawMessage) -> None:
        await asyncio.to_thread(self._mark_read, message)

    def _move(self, message: RawMessage, folder: str) -> None:
        try:
            stored = self._inbox.get_message(message.mailbox_id)
        except (KeyError, FileNotFoundError):
            return  # no longer in the inbox: filed already (by another reader, or a person)
        stored.set_subdir("cur")  # filed, but its read flag is left as it was
        self._inbox.get_folder(folder).add(stored)
        self._inbox.remove(message.mailbox_id)

    async def move(self, message: RawMessage, folder: str) -> None:
        await asyncio.to_thread(self._move, message, folder)

    def _send(self, message: EmailMessage) -> None:
        sent = mailbox.MaildirMessage(message)
        sent.add_flag("S")
        sent.set_subdir("cur")
        self._inbox.get_folder(SENT).add(sent)

    async def send(self, message: Outgoing) -> None:
        await asyncio.to_thread(self._send, to_mime(message, self.address))

    def sent(self) -> list[EmailMessage]:
        """What was sent, oldest first (for people trying sobot locally, and for tests)."""
        from email import message_from_bytes, policy

        folder = self._inbox.get_folder(SENT)
        # Delivery time, then the unique name Maildir gives each file (it counts up within a second).
        keys = sorted(folder.iterkeys(), key=lambda key: (folder.get_message(key).get_date(), key))
        messages = [message_from_bytes(folder.get_bytes(key), policy=policy.default) for key in keys]
        return [m for m in messages if isinstance(m, EmailMessage)]

    def folder(self, name: str) -> list[bytes]:
        box = self._inbox.get_folder(name)
        return [bytes(box.get_bytes(key)) for key in box.iterkeys()]
