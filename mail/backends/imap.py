"""The unit's mailbox over IMAP for reading and filing, and SMTP for sending (Exchange Online, Dovecot, any).

imaplib and smtplib block, so every call runs in a worker thread (asyncio.to_thread), one at a time per
mailbox: an IMAP connection is a conversation, not something two coroutines can share. The connection is
kept between calls and checked with NOOP before it is used again; a server that went away since is
reconnected to once, silently. A server that cannot be reached, or that drops the line during a call,
surfaces as `ImapUnreachable` (a ConnectionError, so an OSError): the poller tries again next time and, as
nothing is marked read until it is handled, nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import imaplib
import ipaddress
import re
import smtplib
import ssl
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any, Literal, ParamSpec, TypeVar

from mail.backends import Outgoing, RawMessage
from mail.compose import to_mime

Security = Literal["tls", "starttls", "none"]
"""tls: TLS from the first byte (IMAPS 993, SMTPS 465); starttls: upgraded after connecting (143, 587);
none: no encryption at all, refused for anything but a loopback address (tests, a local relay)."""

TokenProvider = Callable[[], str]
"""Returns a current OAuth 2.0 bearer token (for Exchange Online: scope https://outlook.office365.com/.default).
Called in a worker thread before each login, so it may block (msal does) and should cache."""

IMAP_PORTS: dict[Security, int] = {"tls": 993, "starttls": 143, "none": 143}
SMTP_PORTS: dict[Security, int] = {"tls": 465, "starttls": 587, "none": 25}
INBOX = "INBOX"
P = ParamSpec("P")
T = TypeVar("T")

FETCH_BATCH = 50  # UIDs per FETCH, to keep each response (whole messages) a sensible size


class ImapUnreachable(ConnectionError):
    """The IMAP server could not be reached, or dropped the connection during a call. Nothing was lost:
    what was not done is still as it was, and the next call connects afresh."""


class ImapLoginRefused(PermissionError):
    """The IMAP server refused the username and password or token. Check them (and, for Exchange Online,
    that the app has IMAP.AccessAsApp and the mailbox is granted to its service principal)."""


class SmtpUnreachable(ConnectionError):
    """The SMTP server could not be reached, or dropped the connection, before it took the message: nothing was
    sent, and sending anything else now would fail the same way."""


class SmtpLoginRefused(PermissionError):
    """The SMTP server refused the login (its user name, password or token): check them."""


class ImapError(Exception):
    """The IMAP server answered a command with NO or BAD: retrying the same command will not help."""


def xoauth2(username: str, token: str) -> bytes:
    """The SASL XOAUTH2 initial response (before base64), as Exchange Online and Gmail expect it."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()


def quoted(folder: str) -> str:
    """A folder name as an IMAP quoted string ("Needs attention" has a space). Only ASCII names are
    written this way; others would need modified UTF-7, and sobot's own folders never do."""
    if not folder.isascii() or any(c in folder for c in "\r\n"):
        raise ValueError(f"IMAP folder name {folder!r} must be ASCII on one line")
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mailbox_id(uid_validity: int, uid: int) -> str:
    """A message's id: its UID, qualified by the folder's UIDVALIDITY so a rebuilt mailbox can't alias it."""
    return f"{uid_validity}:{uid}"


def parse_mailbox_id(value: str) -> tuple[int, int]:
    validity, _, uid = value.partition(":")
    if not (validity.isdigit() and uid.isdigit()):
        raise ValueError(f"{value!r} is not an IMAP mailbox id (UIDVALIDITY:UID)")
    return int(validity), int(uid)


_UID = re.compile(rb"\bUID (\d+)")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")


def fetched(data: list[bytes | tuple[bytes, bytes] | None]) -> Iterator[tuple[int, bytes]]:
    """(UID, MIME) pairs from imaplib's answer to UID FETCH (UID BODY.PEEK[]). The UID may come before the
    literal (in the tuple's head) or after it (in the bytes that close the item), depending on the server."""
    uid: int | None = None
    body: bytes | None = None
    for part in data:
        if isinstance(part, tuple):
            head, body = part
            found = _UID.search(head)
            uid = int(found.group(1)) if found else None
        elif isinstance(part, bytes) and body is not None:
            if uid is None and (found := _UID.search(part)):
                uid = int(found.group(1))
            if uid is not None:
                yield uid, body
            uid, body = None, None
    if uid is not None and body is not None:
        yield uid, body


class ImapMailbox:
    """The unit's shared mailbox over IMAP (reading, marking read, filing) and SMTP (sending)."""

    def __init__(
        self,
        *,
        host: str,
        username: str,
        address: str,
        smtp_host: str,
        password: str | None = None,
        token: TokenProvider | None = None,
        port: int | None = None,
        security: Security = "tls",
        smtp_port: int | None = None,
        smtp_security: Security = "starttls",
        smtp_username: str | None = None,
        smtp_password: str | None = None,
        smtp_token: TokenProvider | None = None,
        timeout: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`password` or `token` (XOAUTH2), not both. SMTP logs in only when `smtp_username` is set, with
        `smtp_password` or `smtp_token`; with neither it sends unauthenticated (a relay that trusts us)."""
        if (password is None) == (token is None):
            raise ValueError("Give the IMAP mailbox a password or an OAuth token provider (one, not both).")
        if smtp_username is not None and (smtp_password is None) == (smtp_token is None):
            raise ValueError("Give the SMTP login a password or an OAuth token provider (one, not both).")
        for name, server, how in (("IMAP", host, security), ("SMTP", smtp_host, smtp_security)):
            if how not in IMAP_PORTS:
                raise ValueError(f"{name} security must be tls, starttls or none, not {how!r}.")
            if how == "none" and not is_loopback(server):
                raise ValueError(f"{name} without TLS is only allowed to a loopback address, not {server!r}.")
        self.host = host
        self.port = port or IMAP_PORTS[security]
        self.security = security
        self.username = username
        self.address = address
        self.smtp_host = smtp_host
        self.smtp_port = smtp_port or SMTP_PORTS[smtp_security]
        self.smtp_security = smtp_security
        self.smtp_username = smtp_username
        self._password = password
        self._token = token
        self._smtp_password = smtp_password
        self._smtp_token = smtp_token
        self._timeout = timeout
        self._ssl = ssl_context or ssl.create_default_context()
        self._connection: imaplib.IMAP4 | None = None
        self._capabilities: frozenset[str] = frozenset()
        self._lock: asyncio.Lock | None = None

    # The protocol: each method takes the lock and runs its blocking half in a worker thread.

    async def new_messages(self) -> list[RawMessage]:
        return await self._run(self._new_messages)

    async def mark_read(self, message: RawMessage) -> None:
        await self._run(self._mark_read, message)

    async def move(self, message: RawMessage, folder: str) -> None:
        await self._run(self._move, message, folder)

    async def send(self, message: Outgoing) -> None:
        await asyncio.to_thread(self._send, to_mime(message, self.address), message.to)

    async def close(self) -> None:
        """Log out, if connected (at shutdown; the mailbox reconnects if used again)."""
        await self._run(self._close)

    async def _run(self, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            return await asyncio.to_thread(self._guarded, functools.partial(work, *args, **kwargs))

    def _guarded(self, work: Callable[[], T]) -> T:
        try:
            return work()
        except (imaplib.IMAP4.abort, OSError) as error:
            self._drop()
            if isinstance(error, ImapUnreachable | ImapLoginRefused):
                raise
            raise ImapUnreachable(f"IMAP {self.host}:{self.port} for {self.username}: {error}") from error

    # The blocking half.

    def _new_messages(self) -> list[RawMessage]:
        connection, validity = self._select(INBOX)
        # Every message, \Seen or not (people open the shared mailbox's mail before sobot reads it); only one
        # marked \Deleted is left out, as it is already on its way out of the inbox.
        found = self._ok(connection.uid("SEARCH", "UNDELETED"), "UID SEARCH")
        uids = sorted(int(uid) for line in found if line for uid in line.split())
        messages = []
        for start in range(0, len(uids), FETCH_BATCH):
            batch = ",".join(str(uid) for uid in uids[start : start + FETCH_BATCH])
            # BODY.PEEK leaves \Seen alone: a message is marked read only once it has been handled.
            data = self._ok(connection.uid("FETCH", batch, "(UID BODY.PEEK[])"), "UID FETCH")
            messages += [RawMessage(mailbox_id(validity, uid), body) for uid, body in fetched(data)]
        return sorted(messages, key=lambda m: parse_mailbox_id(m.mailbox_id)[1])

    def _mark_read(self, message: RawMessage) -> None:
        connection, uid = self._selected_for(message)
        if uid is not None:
            self._ok(connection.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Seen)"), "UID STORE")

    def _move(self, message: RawMessage, folder: str) -> None:
        connection, uid = self._selected_for(message)
        if uid is None:
            return
        self._ensure_folder(connection, folder)
        if "MOVE" in self._capabilities:
            self._ok(connection.uid("MOVE", str(uid), quoted(folder)), "UID MOVE")
            return
        # No MOVE (RFC 6851): copy, then delete the original. With UIDPLUS only this message is expunged;
        # without it EXPUNGE also removes anything else already marked deleted in the inbox, as clients do.
        self._ok(connection.uid("COPY", str(uid), quoted(folder)), "UID COPY")
        self._ok(connection.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), "UID STORE")
        if "UIDPLUS" in self._capabilities:
            self._ok(connection.uid("EXPUNGE", str(uid)), "UID EXPUNGE")
        else:
            self._ok(connection.expunge(), "EXPUNGE")

    def _ensure_folder(self, connection: imaplib.IMAP4, folder: str) -> None:
        listed = self._ok(connection.list('""', quoted(folder)), "LIST")
        if any(item for item in listed if item):
            return
        typ, data = connection.create(quoted(folder))
        # Another client may have created it between LIST and CREATE; ALREADYEXISTS (RFC 5530) is fine.
        if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(d for d in data if isinstance(d, bytes)):
            raise ImapError(f"IMAP {self.host} would not create folder {folder!r}: {data!r}")
        connection.subscribe(quoted(folder))  # so Outlook and webmail show it; not needed by sobot

    def _selected_for(self, message: RawMessage) -> tuple[imaplib.IMAP4, int | None]:
        """The inbox selected, and the message's UID there (None when the inbox was rebuilt since it was
        read: that UID may now be another message, so it is left alone and read again next poll)."""
        validity, uid = parse_mailbox_id(message.mailbox_id)
        connection, current = self._select(INBOX)
        return connection, uid if current == validity else None

    def _select(self, folder: str) -> tuple[imaplib.IMAP4, int]:
        connection = self._connected()
        self._ok(connection.select(quoted(folder)), f"SELECT {folder}")
        _, validity = connection.response("UIDVALIDITY")
        if not validity or validity[0] is None:
            raise ImapError(f"IMAP {self.host} gave no UIDVALIDITY for {folder!r}")
        return connection, int(validity[-1])

    def _connected(self) -> imaplib.IMAP4:
        if self._connection is not None:
            try:
                self._connection.noop()
                return self._connection
            except (imaplib.IMAP4.abort, OSError):
                self._drop()  # closed while idle (servers log out idle sessions): connect again
        self._connection = self._connect()
        return self._connection

    def _connect(self) -> imaplib.IMAP4:
        connection: imaplib.IMAP4
        if self.security == "tls":
            connection = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=self._ssl, timeout=self._timeout)
        else:
            connection = imaplib.IMAP4(self.host, self.port, timeout=self._timeout)
        try:
            if self.security == "starttls":
                self._start_tls(connection)
            self._log_in(connection)
            # Servers add capabilities once logged in (Dovecot and Exchange list MOVE only then).
            self._capabilities = frozenset(
                word.upper() for line in self._ok(connection.capability(), "CAPABILITY") if line for word in
                line.decode().split()
            )  # fmt: skip
        except BaseException:
            self._shutdown(connection)
            raise
        return connection

    def _start_tls(self, connection: imaplib.IMAP4) -> None:
        try:
            connection.starttls(self._ssl)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as error:  # never carry on unencrypted
            raise ImapError(f"IMAP {self.host}:{self.port} would not start TLS: {error}") from error

    def _log_in(self, connection: imaplib.IMAP4) -> None:
        try:
            if self._token is not None:
                responses = self._xoauth2_responses(self._token())
                connection.authenticate("XOAUTH2", lambda _challenge: next(responses))
            else:
                assert self._password is not None
                connection.login(self.username, self._password)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error as error:
            raise ImapLoginRefused(f"IMAP {self.host} refused the login of {self.username}: {error}") from error

    def _xoauth2_responses(self, token: str) -> Iterator[bytes]:
        yield xoauth2(self.username, token)
        while True:
            yield b""  # a refused token gets a JSON error challenge; the empty answer ends the exchange

    def _ok(self, answer: tuple[str, list[Any]], command: str) -> list[Any]:
        typ, data = answer
        if typ != "OK":
            raise ImapError(f"IMAP {self.host} answered {command} for {self.username} with {typ}: {data!r}")
        return data

    def _close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.logout()
            except (imaplib.IMAP4.error, OSError):
                self._shutdown(connection)

    def _drop(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            self._shutdown(connection)

    @staticmethod
    def _shutdown(connection: imaplib.IMAP4) -> None:
        with contextlib.suppress(OSError):
            connection.shutdown()

    def _send(self, mime: EmailMessage, to: tuple[str, ...]) -> None:
        """Send through SMTP. A refusal of this message (a recipient, the sender, its content) is raised as smtplib
        gives it; the server out of reach is SmtpUnreachable and a refused login SmtpLoginRefused, as they are no
        fault of the message and would stop any other."""
        try:
            self._smtp_send(mime, to)
        except smtplib.SMTPAuthenticationError as error:
            who = f"SMTP {self.smtp_host} refused the login of {self.smtp_username}"
            raise SmtpLoginRefused(f"{who}: {error}") from error
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError):
            raise
        except OSError as error:  # every other SMTPException, and the socket's own errors
            where = f"SMTP {self.smtp_host}:{self.smtp_port}"
            raise SmtpUnreachable(f"{where} did not take the message: {error!r}") from error

    def _smtp_send(self, mime: EmailMessage, to: tuple[str, ...]) -> None:
        smtp: smtplib.SMTP
        if self.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(self.smtp_host, self.smtp_port, timeout=self._timeout, context=self._ssl)
        else:
            smtp = smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self._timeout)
        with smtp:
            if self.smtp_security == "starttls":
                smtp.starttls(context=self._ssl)
            if self.smtp_username is not None:
                if self._smtp_token is not None:
                    initial = xoauth2(self.smtp_username, self._smtp_token()).decode()
                    smtp.ehlo_or_helo_if_needed()
                    smtp.auth("XOAUTH2", lambda challenge=None: initial if challenge is None else "")
                else:
                    assert self._smtp_password is not None
                    smtp.login(self.smtp_username, self._smtp_password)
            # Every SMTP failure is an OSError (smtplib.SMTPException is one), as the protocol promises.
            smtp.send_message(mime, from_addr=self.address, to_addrs=list(to))
