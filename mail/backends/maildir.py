"""The embedded mailbox: a Maildir on disk (var/mailbox), with Processed and Needs attention folders."""

from __future__ import annotations

import asyncio
import mailbox
import os
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
        self._files: dict[str, Path] = {}  # the inbox's files at the last listing, by key
        for folder in (PROCESSED, NEEDS_ATTENTION, SENT):
            if folder not in self._inbox.list_folders():
                self._inbox.add_folder(folder)

    def _listing(self) -> dict[str, Path]:
        """Each inbox message's file, by its key (the file's name before the flags), from new/ and cur/ alike."""
        found: dict[str, Path] = {}
        for subdir in ("new", "cur"):
            with os.scandir(self.root / subdir) as entries:
                for entry in entries:
                    if entry.is_file() and not entry.name.startswith("."):
                        found[entry.name.split(self._inbox.colon)[0]] = Path(entry.path)
        return found

    def _inbox_messages(self) -> list[RawMessage]:
        # Read straight from the files: the delivery time is the file's, so no message is parsed here.
        found = []
        self._files = self._listing()
        for key, path in self._files.items():
            try:
                found.append((path.stat().st_mtime, key, path.read_bytes()))
            except FileNotFoundError:
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
        # A rename within the Maildir, as an IMAP server files a message: the bytes are not rewritten, its read
        # flag is left as it was, and of two readers filing one message at once only one finds it to move.
        filed = self.root / f".{folder}" / "cur"
        if not filed.is_dir():  # a folder a person removed is made again
            self._inbox.add_folder(folder)
        for files in (self._files, None):
            path = (files if files is not None else self._listing()).get(message.mailbox_id)
            if path is None:
                continue
            name = path.name if self._inbox.colon in path.name else f"{path.name}{self._inbox.colon}2,"
            try:
                os.rename(path, filed / name)
                return
            except FileNotFoundError:
                continue  # its flags changed since it was listed (a new name), or it was filed: look again
        # No longer in the inbox: filed already (by another reader, or a person).

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
