"""The IMAP + SMTP mailbox against a real Dovecot on loopback and aiosmtpd in-process: read, file, send, reconnect."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import grp
import imaplib
import ipaddress
import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import string
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from subprocess import PIPE
from urllib.parse import parse_qs

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mail.backends import NEEDS_ATTENTION, PROCESSED, Outgoing
from mail.backends.imap import ImapLoginRefused, ImapMailbox, ImapUnreachable, xoauth2

IN_CI = os.environ.get("CI") == "true"
TEMPLATES = Path(__file__).parent / "dovecot"
UNIT = "safeguarding.unit@example.gov.uk"
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Introspection(ThreadingHTTPServer):
    """An OAuth 2.0 token introspection endpoint (RFC 7662) on loopback, for Dovecot's oauth2 passdb: a
    token is active when a test issued it, and names the user it was issued to."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), IntrospectionRequest)
        self.tokens: dict[str, str] = {}

    def issue(self, user: str) -> str:
        token = f"eyJ0eXAiOiJKV1Qi.{uuid.uuid4().hex}"
        self.tokens[token] = user
        return token


class IntrospectionRequest(BaseHTTPRequestHandler):
    server: Introspection

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
        user = self.server.tokens.get(form.get("token", [""])[0])
        body = json.dumps({"active": True, "username": user} if user else {"active": False}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def loopback_certificate(root: Path) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 in root/cert.pem and key.pem, and a client context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (root / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (root / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return ssl.create_default_context(cafile=root / "cert.pem")


def dovecot_binary() -> str:
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin:/sbin")
    if found is None:
        reason = "Dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)"
        if IN_CI:
            pytest.fail(f"{reason}: CI must run the IMAP tests against it", pytrace=False)
        pytest.skip(reason)
    return found


class Dovecot:
    """A Dovecot master on 127.0.0.1, run as an unprivileged user, with its config, log and mail under `root`.
    Each test gets its own user, so its own mailbox, by `add_user`."""

    def __init__(self, binary: str, root: Path, introspection: Introspection) -> None:
        self.binary = binary
        self.introspection = introspection
        self.root = root
        self.port = free_port()
        self.imaps_port = free_port()
        self.tls = loopback_certificate(root)
        self.log = root / "dovecot.log"
        self.config = root / "dovecot.conf"
        self.process: subprocess.Popen[bytes] | None = None
        # Started as root (a CI container), Dovecot would run its mail processes as root: it runs as nobody.
        self.account = pwd.getpwnam("nobody") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        group = grp.getgrgid(self.account.pw_gid).gr_name
        values = {"root": root, "port": self.port, "imaps_port": self.imaps_port, "user": self.account.pw_name,
                  "group": group, "uid": self.account.pw_uid, "gid": self.account.pw_gid,
                  "introspection_port": introspection.server_address[1]}  # fmt: skip
        for name in ("dovecot.conf", "oauth2.conf"):
            template = string.Template((TEMPLATES / f"{name}.template").read_text())
            (root / name).write_text(template.substitute(values))
        for sub in ("run", "state", "home", "users"):
            (root / sub).mkdir()
        if os.geteuid() == 0:
            for path in (root, *root.rglob("*")):
                os.chown(path, self.account.pw_uid, self.account.pw_gid)

    def add_user(self, name: str, *extra_fields: str) -> str:
        """A user with PASSWORD and an empty mailbox; extra fields (e.g. userdb_imap_capability=...) apply."""
        (self.root / "users" / name).write_text(f"{name}:{{PLAIN}}{PASSWORD}::::::{' '.join(extra_fields)}\n")
        return name

    def start(self) -> None:
        output = (self.root / "stdout.txt").open("ab")  # a file, not a pipe: a pipe would hold CI's open
        as_nobody = {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.config)],
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            **(as_nobody if os.geteuid() == 0 else {}),  # type: ignore[arg-type]
        )  # fmt: skip
        output.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Dovecot exited with {self.process.returncode}:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    if probe.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"Dovecot did not answer on 127.0.0.1:{self.port} within 15 s:\n{self.output()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            # The master can be gone before its imap processes are: end them too, so every open
            # connection is really dropped (they share its process group, made for it in start).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process = None

    def output(self) -> str:
        text = ""
        for name in ("stdout.txt", "dovecot.log"):
            if (self.root / name).exists():
                text += (self.root / name).read_text(errors="replace")[-4000:]
        return text

    def imap(self, user: str) -> imaplib.IMAP4:
        """A plain imaplib session, to put mail in and look at it the way another client would."""
        connection = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        connection.login(user, PASSWORD)
        return connection


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    binary = dovecot_binary()
    root = Path(tempfile.mkdtemp(prefix="sobot-dovecot-"))  # not under pytest's tmp: nobody can't enter that
    introspection = Introspection()
    threading.Thread(target=introspection.serve_forever, daemon=True).start()
    server = Dovecot(binary, root, introspection)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        introspection.shutdown()
        introspection.server_close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def user(dovecot: Dovecot) -> str:
    return dovecot.add_user(f"unit-{uuid.uuid4().hex[:12]}@example.gov.uk")


class Recorded:
    """aiosmtpd's handler: keeps every envelope it is given."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """SMTP AUTH XOAUTH2 with the initial response, as smtp.office365.com takes it."""
        given = base64.b64decode(args[-1]) if len(args) > 1 else b""  # args: XOAUTH2, initial response
        return AuthResult(success=given == xoauth2(UNIT, "smtp-token"), handled=False)

    def messages(self) -> list[EmailMessage]:
        found = [message_from_bytes(e.original_content or b"", policy=policy.default) for e in self.envelopes]
        return [m for m in found if isinstance(m, EmailMessage)]


def smtp_login(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (UNIT.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Recorded, int]]:
    handler = Recorded()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=smtp_login, auth_require_tls=False)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_starttls(dovecot: Dovecot) -> Iterator[tuple[Recorded, int]]:
    """aiosmtpd as Exchange Online's smtp.office365.com behaves: STARTTLS first, then a login."""
    handler = Recorded()
    port = free_port()
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(dovecot.root / "cert.pem", dovecot.root / "key.pem")
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=smtp_login,
                            tls_context=server_tls, require_starttls=True)  # fmt: skip
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def mailbox(dovecot: Dovecot, user: str, smtp_port: int = 25, **settings: object) -> ImapMailbox:
    defaults: dict[str, object] = {"port": dovecot.port, "security": "none", "password": PASSWORD,
                                   "smtp_port": smtp_port, "smtp_security": "none"}  # fmt: skip
    return ImapMailbox(host="127.0.0.1", username=user, address=UNIT, smtp_host="127.0.0.1",
                       **(defaults | settings))  # type: ignore[arg-type]  # fmt: skip


def notification(subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = "tom.jones@example.gov.uk"
    message["To"] = UNIT
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.gov.uk>"
    message.set_content(f"Child ID: C{uuid.uuid4().int % 10**6}\nOrder type: Supervision Order\n")
    return message.as_bytes(policy=policy.SMTP)  # CRLF, as IMAP stores it


def deliver(dovecot: Dovecot, user: str, *raws: bytes, seen: bool = False) -> None:
    connection = dovecot.imap(user)
    try:
        for raw in raws:
            typ, data = connection.append("INBOX", r"(\Seen)" if seen else None, None, raw)
            assert typ == "OK", data
    finally:
        connection.logout()


def folder(dovecot: Dovecot, user: str, name: str) -> list[tuple[bytes, bool]]:
    """Each message in a folder, as (MIME, read?), in UID order; [] when the folder does not exist."""
    connection = dovecot.imap(user)
    try:
        typ, _ = connection.select(f'"{name}"', readonly=True)
        if typ != "OK":
            return []
        typ, data = connection.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
        return [(part[1], b"\\Seen" in part[0]) for part in data if isinstance(part, tuple)]
    finally:
        connection.logout()


def folders(dovecot: Dovecot, user: str) -> set[str]:
    connection = dovecot.imap(user)
    try:
        _, data = connection.list()
        return {re.sub(r'^\(.*?\) "." ', "", line.decode()).strip('"') for line in data if isinstance(line, bytes)}
    finally:
        connection.logout()


async def test_new_messages_are_the_unseen_ones_oldest_first_and_reading_leaves_them_unread(
    dovecot: Dovecot, user: str
) -> None:
    first, second, already_read = notification("First"), notification("Second"), notification("Read")
    deliver(dovecot, user, first)
    deliver(dovecot, user, already_read, seen=True)
    deliver(dovecot, user, second)
    box = mailbox(dovecot, user)
    try:
        messages = await box.new_messages()
        again = await box.new_messages()
    finally:
        await box.close()

    assert [m.mime for m in messages] == [first, second]
    assert again == messages
    assert all(re.fullmatch(r"\d+:\d+", m.mailbox_id) for m in messages)
    assert folder(dovecot, user, "INBOX") == [(first, False), (already_read, True), (second, False)]


async def test_mark_read_flags_only_that_message(dovecot: Dovecot, user: str) -> None:
    first, second = notification("First"), notification("Second")
    deliver(dovecot, user, first, second)
    box = mailbox(dovecot, user)
    try:
        await box.mark_read((await box.new_messages())[0])
        left = await box.new_messages()
    finally:
        await box.close()

    assert [m.mime for m in left] == [second]
    assert folder(dovecot, user, "INBOX") == [(first, True), (second, False)]


async def test_move_files_into_processed_and_needs_attention_creating_them(dovecot: Dovecot, user: str) -> None:
    handled, unreadable, waiting = notification("Handled"), notification("Unreadable"), notification("Waiting")
    deliver(dovecot, user, handled, unreadable, waiting)
    assert not folders(dovecot, user) & {PROCESSED, NEEDS_ATTENTION}
    box = mailbox(dovecot, user)
    try:
        one, two, _ = await box.new_messages()
        await box.mark_read(one)
        await box.move(one, PROCESSED)
        await box.move(two, NEEDS_ATTENTION)
        left = await box.new_messages()
    finally:
        await box.close()

    assert {PROCESSED, NEEDS_ATTENTION} <= folders(dovecot, user)
    assert folder(dovecot, user, PROCESSED) == [(handled, True)]
    assert folder(dovecot, user, NEEDS_ATTENTION) == [(unreadable, False)]  # filed, still unread for a person
    assert folder(dovecot, user, "INBOX") == [(waiting, False)]
    assert [m.mime for m in left] == [waiting]


async def test_a_server_without_move_gets_copy_delete_and_expunge(dovecot: Dovecot) -> None:
    # Dovecot advertises only what imap_capability says (here per user): no MOVE and no UIDPLUS.
    user = dovecot.add_user(f"old-{uuid.uuid4().hex[:12]}@example.gov.uk", "userdb_imap_capability=IMAP4rev1")
    handled, waiting = notification("Handled"), notification("Waiting")
    deliver(dovecot, user, handled, waiting)
    box = mailbox(dovecot, user)
    try:
        one, _ = await box.new_messages()
        await box.move(one, NEEDS_ATTENTION)
        capabilities = box._capabilities
    finally:
        await box.close()

    assert "MOVE" not in capabilities and "UIDPLUS" not in capabilities
    assert folder(dovecot, user, NEEDS_ATTENTION) == [(handled, False)]
    assert folder(dovecot, user, "INBOX") == [(waiting, False)]


async def test_a_reply_is_sent_from_the_unit_with_both_parts_and_threading(
    dovecot: Dovecot, user: str, smtp: tuple[Recorded, int]
) -> None:
    recorded, port = smtp
    box = mailbox(dovecot, user, port, smtp_username=UNIT, smtp_password=PASSWORD)
    reply = Outgoing(
        ("tom.jones@example.gov.uk",), "Re: New order", "Jane Smith is now the IRO.",
        "<html><body><p>Jane Smith is now the IRO.</p></body></html>",
        in_reply_to="<abc@example.gov.uk>", references=("<root@example.gov.uk>",),
    )  # fmt: skip
    await box.send(reply)

    [envelope] = recorded.envelopes
    assert envelope.mail_from == UNIT
    assert envelope.rcpt_tos == ["tom.jones@example.gov.uk"]
    [sent] = recorded.messages()
    assert sent["From"] == UNIT
    assert sent["In-Reply-To"] == "<abc@example.gov.uk>"
    assert sent["References"] == "<root@example.gov.uk> <abc@example.gov.uk>"
    assert sent.get_content_type() == "multipart/alternative"
    plain, markup = sent.get_body(("plain",)), sent.get_body(("html",))
    assert plain is not None and "Jane Smith is now the IRO." in plain.get_content()
    assert markup is not None and "<p>Jane Smith is now the IRO.</p>" in markup.get_content()


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_from_the_start_or_by_starttls_with_smtp_over_starttls(
    dovecot: Dovecot, user: str, smtp_starttls: tuple[Recorded, int], security: str
) -> None:
    recorded, smtp_port = smtp_starttls
    deliver(dovecot, user, waiting := notification("Waiting"))
    port = dovecot.imaps_port if security == "tls" else dovecot.port
    box = mailbox(dovecot, user, smtp_port, port=port, security=security, smtp_security="starttls",
                  smtp_username=UNIT, smtp_password=PASSWORD, ssl_context=dovecot.tls)  # fmt: skip
    try:
        [message] = await box.new_messages()
        await box.move(message, PROCESSED)
        await box.send(Outgoing((UNIT,), "Over TLS", "text", "<p>html</p>"))
    finally:
        await box.close()
    assert message.mime == waiting
    assert [m["Subject"] for m in recorded.messages()] == ["Over TLS"]


async def test_a_certificate_that_is_not_trusted_is_refused(dovecot: Dovecot, user: str) -> None:
    box = mailbox(dovecot, user, port=dovecot.imaps_port, security="tls")  # the system's CAs: not ours
    with pytest.raises(ImapUnreachable) as unreachable:
        await box.new_messages()
    assert isinstance(unreachable.value.__cause__, ssl.SSLCertVerificationError)


async def test_smtp_logs_in_with_xoauth2(dovecot: Dovecot, user: str, smtp: tuple[Recorded, int]) -> None:
    recorded, port = smtp
    box = mailbox(dovecot, user, port, smtp_username=UNIT, smtp_token=lambda: "smtp-token")
    await box.send(Outgoing((UNIT,), "By token", "text", "<p>html</p>"))
    assert [m["Subject"] for m in recorded.messages()] == ["By token"]

    refused = mailbox(dovecot, user, port, smtp_username=UNIT, smtp_token=lambda: "stale-token")
    with pytest.raises(OSError):
        await refused.send(Outgoing((UNIT,), "Refused", "text", "<p>html</p>"))
    assert len(recorded.envelopes) == 1


async def test_a_refused_smtp_login_is_an_oserror(dovecot: Dovecot, user: str, smtp: tuple[Recorded, int]) -> None:
    recorded, port = smtp
    box = mailbox(dovecot, user, port, smtp_username=UNIT, smtp_password="wrong")
    with pytest.raises(OSError):
        await box.send(Outgoing((UNIT,), "Test", "text", "<p>html</p>"))
    assert recorded.envelopes == []


async def test_xoauth2_logs_in_with_a_bearer_token_asked_for_at_each_login(dovecot: Dovecot, user: str) -> None:
    deliver(dovecot, user, waiting := notification("Waiting"))
    asked: list[str] = []

    def token() -> str:
        asked.append(issued := dovecot.introspection.issue(user))
        return issued

    box = mailbox(dovecot, user, password=None, token=token)
    try:
        messages = await box.new_messages()
    finally:
        await box.close()
    assert [m.mime for m in messages] == [waiting]
    assert len(asked) == 1


async def test_the_server_going_away_mid_poll_loses_nothing(dovecot: Dovecot, user: str) -> None:
    waiting = notification("Waiting")
    deliver(dovecot, user, waiting)
    box = mailbox(dovecot, user)
    try:
        [message] = await box.new_messages()
        dovecot.stop()
        try:
            with pytest.raises(ImapUnreachable) as unreachable:
                await box.mark_read(message)
            with pytest.raises(OSError):
                await box.move(message, PROCESSED)
        finally:
            dovecot.start()
        again = await box.new_messages()  # the next poll: a fresh connection, the message still unread
        await box.mark_read(again[0])
    finally:
        await box.close()

    assert isinstance(unreachable.value, ConnectionError)
    assert again == [message]
    assert folder(dovecot, user, "INBOX") == [(waiting, True)]


async def dovecot_said(dovecot: Dovecot, *words: str, within: float = 15.0) -> None:
    """Wait until one line of Dovecot's log holds every one of `words`; fail with the log's tail if none does."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        log = "".join((dovecot.root / name).read_text(errors="replace")
                      for name in ("stdout.txt", "dovecot.log") if (dovecot.root / name).exists())  # fmt: skip
        if any(all(word in line for word in words) for line in log.splitlines()):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"Dovecot never logged {words}: {log[-2000:]}")
        await asyncio.sleep(0.05)


async def test_a_connection_the_server_closed_while_idle_is_replaced(dovecot: Dovecot, user: str) -> None:
    deliver(dovecot, user, notification("Waiting"))
    box = mailbox(dovecot, user)
    try:
        [message] = await box.new_messages()
        doveadm = shutil.which("doveadm", path="/usr/bin:/usr/sbin") or "doveadm"
        kick = await asyncio.create_subprocess_exec(
            doveadm, "-c", str(dovecot.config), "kick", user, stdout=PIPE, stderr=PIPE
        )
        _, errors = await asyncio.wait_for(kick.communicate(), 15)
        assert kick.returncode == 0, errors
        # doveadm returns once the kick is sent; the imap process logs its going a moment later.
        await dovecot_said(dovecot, f"imap({user})", "Server shutting down")
        await box.mark_read(message)
    finally:
        await box.close()
    assert folder(dovecot, user, "INBOX")[0][1] is True


async def test_nothing_listening_is_an_oserror() -> None:
    box = ImapMailbox(host="127.0.0.1", port=free_port(), security="none", username=UNIT, password=PASSWORD,
                      address=UNIT, smtp_host="127.0.0.1", smtp_port=free_port(), smtp_security="none")  # fmt: skip
    with pytest.raises(ImapUnreachable):
        await box.new_messages()
    with pytest.raises(OSError):
        await box.send(Outgoing((UNIT,), "Test", "text", "<p>html</p>"))


def test_xoauth2_is_the_string_exchange_online_expects() -> None:
    assert xoauth2("unit@example.gov.uk", "tok") == b"user=unit@example.gov.uk\x01auth=Bearer tok\x01\x01"


def test_settings_that_would_send_passwords_in_clear_or_log_in_twice_are_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        ImapMailbox(host="imap.example.gov.uk", security="none", username=UNIT, password="x", address=UNIT,
                    smtp_host="127.0.0.1", smtp_security="none")  # fmt: skip
    with pytest.raises(ValueError, match="one, not both"):
        ImapMailbox(host="outlook.office365.com", username=UNIT, password="x", token=lambda: "t", address=UNIT,
                    smtp_host="smtp.office365.com")  # fmt: skip


# Last: Dovecot delays every login from an address after a refused one (its auth penalty) until one
# succeeds, which would slow down any test that ran after these.


async def test_an_unknown_bearer_token_is_a_permission_error(dovecot: Dovecot, user: str) -> None:
    box = mailbox(dovecot, user, password=None, token=lambda: "not-a-token-anyone-issued")
    with pytest.raises(ImapLoginRefused):
        await box.new_messages()


async def test_a_refused_imap_login_is_a_permission_error(dovecot: Dovecot, user: str) -> None:
    box = mailbox(dovecot, user, password="wrong")
    with pytest.raises(ImapLoginRefused) as refused:
        await box.new_messages()
    assert isinstance(refused.value, OSError)
    assert user in str(refused.value)
