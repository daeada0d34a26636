"""Mailbox backends: one small interface, four ways to reach the Safeguarding Unit's mailbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

PROCESSED = "Processed"
NEEDS_ATTENTION = "Needs attention"


@dataclass(frozen=True)
class RawMessage:
    """A message as the mailbox holds it: the backend's id for it now, and its full MIME bytes."""

    mailbox_id: str
    mime: bytes


@dataclass(frozen=True)
class Outgoing:
    """A message to send: plain text and simple HTML; `in_reply_to` threads a reply; `token` fixes its Message-ID."""

    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    token: str | None = None  # the left part of its Message-ID, stable for one outbox row; None: a new one


class Mailbox(Protocol):
    """What the poller and the notifier need of a mailbox. Every method may raise OSError (or the
    backend's own connection error) when the server cannot be reached; nothing is lost by that."""

    async def new_messages(self) -> list[RawMessage]:
        """Every message in the inbox, oldest first, read or not: which are new is sobot's own record (its
        receipts), never the server's read flag, which people set and clear in Outlook all day. Reading
        marks nothing read."""
        ...

    async def mark_read(self, message: RawMessage) -> None: ...

    async def move(self, message: RawMessage, folder: str) -> None:
        """Move to `folder` (PROCESSED or NEEDS_ATTENTION), creating it when missing."""
        ...

    async def send(self, message: Outgoing) -> None:
        """Send from the unit's mailbox (a reply is a send with in_reply_to set)."""
        ...
