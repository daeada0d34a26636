"""The unit's mailbox on an on-premises Exchange server, reached through EWS with exchangelib.

Exchange Online blocks EWS from October 2026 and ends it in April 2027: use the Graph backend there.

exchangelib is synchronous, so every call to it runs in a worker thread. The endpoint, auth type and server
version are given, never discovered: no autodiscover, and no version probing before the first real request.

A message's `mailbox_id` is its EWS ItemId and ChangeKey joined by a space (neither contains one):
exchangelib will not update an item without its ChangeKey. Sending creates the message from the MIME that
`mail.compose.to_mime` writes (CreateItem with MimeContent, SendAndSaveCopy), so the plain and HTML parts,
In-Reply-To, References and Auto-Submitted all go out as written; exchangelib's own `in_reply_to` and
`references` fields would carry threading too, but only with a single HTML or text body.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from exchangelib import DELEGATE, Account, Configuration, FaultTolerance, Message
from exchangelib.credentials import Credentials
from exchangelib.errors import (
    ErrorFolderExists,
    ErrorInternalServerTransientError,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    EWSError,
    RateLimitError,
    TransportError,
)
from exchangelib.folders import Folder, FolderCollection
from exchangelib.folders.base import BaseFolder
from exchangelib.transport import AUTH_TYPE_MAP
from exchangelib.version import Build, Version

from mail.backends import NEEDS_ATTENTION, PROCESSED, Outgoing, RawMessage
from mail.compose import to_mime

T = TypeVar("T")

# What exchangelib raises when the server is down, unreachable or overloaded past the retry window (it turns
# connection errors into ErrorTimeoutExpired). Other EWS errors (a missing item, a malformed request) are not these.
_UNREACHABLE = (RateLimitError, ErrorServerBusy, ErrorTimeoutExpired, ErrorInternalServerTransientError)


class EwsUnreachable(ConnectionError):
    """The Exchange server could not be reached (or kept failing past the retry window); nothing was changed."""


class EwsMailbox:
    """One mailbox on an Exchange server's EWS endpoint, opened with the given account's own credentials."""

    def __init__(
        self,
        address: str,
        *,
        service_endpoint: str,
        username: str,
        password: str,
        auth_type: str = "NTLM",
        build: str = "15.1",
        max_wait: int = 120,
    ) -> None:
        """`service_endpoint` is the full URL (https://mail.council.example/EWS/Exchange.asmx); `auth_type` is
        NTLM or basic (any exchangelib auth type taking a user name and password); `build` is the server's
        major.minor version (15.1 for Exchange 2016, 15.2 for 2019); `max_wait` bounds exchangelib's retries
        of a busy or unreachable server, in seconds."""
        types = {name.lower(): name for name in AUTH_TYPE_MAP}
        if auth_type.lower() not in types:
            raise ValueError(f"EWS auth type {auth_type!r} is not one of {', '.join(sorted(AUTH_TYPE_MAP))}")
        major, _, minor = build.partition(".")
        self.address = address
        self._config = Configuration(
            service_endpoint=service_endpoint,
            credentials=Credentials(username, password),
            auth_type=types[auth_type.lower()],
            version=Version(build=Build(int(major), int(minor or 0))),
            retry_policy=FaultTolerance(max_wait=max_wait),
        )
        self._account: Account | None = None
        self._folders: dict[str, BaseFolder] = {}
        self._lock = threading.Lock()
        self._folder_lock = threading.Lock()

    async def new_messages(self) -> list[RawMessage]:
        return await self._run(self._inbox_messages)

    async def mark_read(self, message: RawMessage) -> None:
        await self._run(self._mark_read, message)

    async def move(self, message: RawMessage, folder: str) -> None:
        await self._run(self._move, message, folder)

    async def send(self, message: Outgoing) -> None:
        await self._run(self._send, message)

    async def _run(self, work: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.to_thread(work, *args)
        except (EWSError, requests.exceptions.RequestException) as error:
            # A bare TransportError is a TLS failure or a bad redirect; its subclasses are answers from the server.
            unreachable = isinstance(error, (*_UNREACHABLE, requests.exceptions.RequestException))
            if not unreachable and type(error) is not TransportError:
                raise
            hint = (
                " (exchangelib retries HTTP 401 as throttling, so a wrong user name or password also ends here)"
                if isinstance(error, RateLimitError)
                else ""
            )
            endpoint = self._config.service_endpoint
            raise EwsUnreachable(f"EWS at {endpoint} could not be reached: {error!r}{hint}") from error

    def _account_(self) -> Account:
        with self._lock:
            if self._account is None:
                self._account = Account(
                    self.address, config=self._config, autodiscover=False, access_type=DELEGATE, default_timezone=None
                )
            return self._account

    def _inbox_messages(self) -> list[RawMessage]:
        inbox = self._account_().inbox
        # Read or not: is_read is what people in Outlook set, not sobot's record of what it has done.
        items = inbox.all().order_by("datetime_received").only("mime_content")
        return [RawMessage(f"{item.id} {item.changekey}", bytes(item.mime_content)) for item in items]

    def _item(self, message: RawMessage) -> Message:
        item_id, _, changekey = message.mailbox_id.partition(" ")
        account = self._account_()
        return Message(account=account, folder=account.inbox, id=item_id, changekey=changekey or None)

    def _mark_read(self, message: RawMessage) -> None:
        item = self._item(message)
        item.is_read = True
        item.save(update_fields=["is_read"])

    def _move(self, message: RawMessage, folder: str) -> None:
        item_id, _, changekey = message.mailbox_id.partition(" ")
        [result] = self._account_().bulk_move(ids=[(item_id, changekey or None)], to_folder=self._folder(folder))
        if isinstance(result, Exception):
            raise result

    def _folder(self, name: str) -> BaseFolder:
        """A folder at the top of the mailbox (beside the Inbox), created when missing; remembered once found."""
        if name not in (PROCESSED, NEEDS_ATTENTION):
            raise ValueError(f"sobot only files mail into {PROCESSED!r} or {NEEDS_ATTENTION!r}, not {name!r}")
        with self._folder_lock:  # two moves at once must not both create the folder
            if name not in self._folders:
                account = self._account_()
                top = account.msg_folder_root
                found = self._child_folder(account, top, name)
                if found is None:
                    # exchangelib resolves the parent through the root's folder map: one deep FindFolder, once.
                    try:
                        found = Folder(parent=top, name=name)
                        found.save()
                    except ErrorFolderExists:
                        # Another sobot on this mailbox made it first (a second replica starting at once).
                        found = self._child_folder(account, top, name)
                        if found is None:
                            raise
                self._folders[name] = found
            return self._folders[name]

    @staticmethod
    def _child_folder(account: Account, top: BaseFolder, name: str) -> BaseFolder | None:
        children = FolderCollection(account=account, folders=[top]).find_folders(depth="Shallow")
        return next((f for f in children if isinstance(f, BaseFolder) and f.name == name), None)

    def _send(self, message: Outgoing) -> None:
        account = self._account_()
        mime = to_mime(message, self.address).as_bytes()
        Message(account=account, folder=account.sent, mime_content=mime).send_and_save()
