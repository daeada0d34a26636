"""Secrets never reach the logs: a whole day of the service at DEBUG, in text and JSON, with real-looking secrets
set everywhere, and not one of them (nor its obvious encodings) in what was logged."""

from __future__ import annotations

import base64
import io
import logging
import mailbox
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from handlers import people
from handlers.context import CLI
from mail import compose
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from scheduler.jobs import Jobs
from sobot.app import SOBOT, Services, build_mailbox, build_poller, create_app
from sobot.logs import configure
from sobot.settings import Settings, load_settings
from storage import Database
from tests.connector import RecordingConnector
from tests.security.conftest import STAFF
from tests.teams import Teams
from tests.vouching import TRUST_ENVIRONMENT, vouched

CORPUS = Path(__file__).parent.parent / "unit" / "mail_corpus"
CHANNEL = "19:unit-channel@thread.tacv2"

TEAMS_SECRET = "Xq8~tEaMs.cLiEnT-s3cr3t_0aF9dE2bC7"
IMAP_PASSWORD = "imap-P4ssw0rd!Hx93kQ"
SMTP_PASSWORD = "smtp-P4ssw0rd?Jv27mZ"
GRAPH_SECRET = "gr~APH.s3cr3t_Lk81PqWz5YtRv"
EWS_PASSWORD = "ews-P4ssw0rd#Nc64bT"
DB_PASSWORD = "db-P4ssw0rd%Wq55sY"
TEAMS = {
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID": "0b5e6c1a-8f3d-4e2b-9a71-2c4d6e8f0a1b",
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET": TEAMS_SECRET,
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID": "7f3a9c2e-1b4d-4e6f-8a0c-5d7e9f1b3c5a",
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__AUTHTYPE": "ClientSecret",
}
USERS = {IMAP_PASSWORD: "unit.mailbox", SMTP_PASSWORD: "unit.smtp", EWS_PASSWORD: "COUNCIL\\unit.mailbox",
         DB_PASSWORD: "sobot"}  # fmt: skip


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forbidden() -> dict[str, str]:
    """Each secret, and the forms it would take on the way to a server: URL-quoted, base64, user:password in base64
    (HTTP basic), SASL PLAIN."""
    found: dict[str, str] = {}
    for secret in (TEAMS_SECRET, IMAP_PASSWORD, SMTP_PASSWORD, GRAPH_SECRET, EWS_PASSWORD, DB_PASSWORD):
        found[secret] = f"{secret} itself"
        found[quote(secret, safe="")] = f"{secret} URL-quoted"
        found[b64(secret)] = f"{secret} in base64"
        user = USERS.get(secret)
        if user:
            found[b64(f"{user}:{secret}")] = f"{user}:{secret} in base64"
            found[b64(f"\0{user}\0{secret}")] = f"{user} SASL PLAIN"
    return found


@pytest.fixture
def captured_logs(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """The service's own log set-up at DEBUG, writing to a buffer; every logger let through at DEBUG too."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    quiet = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict}
    stream = io.StringIO()
    configure("DEBUG", request.param)
    assert len(root.handlers) == 1
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    # Stricter than the service: the libraries it quiets (the SDK, the scheduler) speak at DEBUG here as well.
    for name in quiet:
        logging.getLogger(name).setLevel(logging.NOTSET)
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        for name, was in quiet.items():
            logging.getLogger(name).setLevel(was)


def secret_settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings({
        "SOBOT_DATABASE_URL": database_url,
        "SOBOT_LOG_LEVEL": "DEBUG",
        "SOBOT_MAILBOX_DIR": str(tmp_path / "mailbox"),
        "SOBOT_UNIT_ADDRESS": "safeguarding.unit@example.gov.uk",
        "SOBOT_ALLOWED_SENDER_DOMAINS": '["example.gov.uk"]', **TRUST_ENVIRONMENT,
        "SOBOT_IMAP_HOST": "127.0.0.1", "SOBOT_IMAP_PORT": "1", "SOBOT_IMAP_SECURITY": "none",
        "SOBOT_IMAP_USERNAME": USERS[IMAP_PASSWORD], "SOBOT_IMAP_PASSWORD": IMAP_PASSWORD,
        "SOBOT_SMTP_HOST": "127.0.0.1", "SOBOT_SMTP_PORT": "1", "SOBOT_SMTP_SECURITY": "none",
        "SOBOT_SMTP_USERNAME": USERS[SMTP_PASSWORD], "SOBOT_SMTP_PASSWORD": SMTP_PASSWORD,
        "SOBOT_GRAPH_MAILBOX": "safeguarding.unit@example.gov.uk", "SOBOT_GRAPH_TENANT_ID": TEAMS[
            "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID"],
        "SOBOT_GRAPH_CLIENT_ID": "3c1d5e7f-9a2b-4c6d-8e0f-1a3b5c7d9e2f", "SOBOT_GRAPH_CLIENT_SECRET": GRAPH_SECRET,
        "SOBOT_EWS_ENDPOINT": "https://127.0.0.1:1/EWS/Exchange.asmx", "SOBOT_EWS_USERNAME": USERS[EWS_PASSWORD],
        "SOBOT_EWS_PASSWORD": EWS_PASSWORD,
    })  # fmt: skip


def with_password(database_url: str) -> str:
    """The test database's URL with a password in it (the test server trusts loopback, so any password serves)."""
    url = make_url(database_url)
    if url.drivername.startswith("sqlite"):
        return database_url
    return url.set(username=url.username or "postgres", password=DB_PASSWORD).render_as_string(hide_password=False)


@pytest.mark.parametrize("captured_logs", ["text", "json"], indirect=True)
async def test_a_day_of_work_at_debug_logs_no_secret(
    captured_logs: io.StringIO, caplog: pytest.LogCaptureFixture, database_url: str, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = FixedClock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    settings = secret_settings(with_password(database_url), tmp_path)
    assert make_url(settings.database_url).password == DB_PASSWORD or database_url.startswith("sqlite")
    database = Database.from_url(settings.database_url)
    services = Services(settings, clock, database, load_builtin(), WorkingCalendar(),
                        mailbox=build_mailbox(settings))  # fmt: skip
    await people.import_people(services.context(), STAFF + "Tom Jones,tom.jones@example.gov.uk,social_worker,"
                               "North,tess.manager@example.gov.uk,\n", CLI)  # fmt: skip
    connector = RecordingConnector()
    connector.server = TestServer(connector.app(), host="127.0.0.1")
    await connector.server.start_server()
    # Local mode for the turns, with the Teams secret in the environment all the same.
    local_env = {k: v for k, v in TEAMS.items() if not k.endswith("CLIENTID")}
    client = TestClient(TestServer(create_app(services, run_jobs=False, environ=local_env), host="127.0.0.1"))
    await client.start_server()
    try:
        teams = Teams(client, connector, database)
        # A new order in Teams, its allocation, a reminder button, a refusal.
        await teams.say("una", "use this channel for allocations", CHANNEL)
        await teams.say("sam", "new order")
        await teams.click("sam", "order.submit", {
            "child_local_id": "C1001", "child_name": "Jane Mary Smith", "order_type": "supervision",
            "made": "2026-03-03", "months": "12", "procedure": "wirral", "social_worker": "sam.worker@example.gov.uk",
        })  # fmt: skip
        await teams.click("una", "order.allocate", {"reference": "SO-2026-0001", "iro": "ian.reviewer@example.gov.uk"})
        await teams.click("sue", "order.allocate", {"reference": "SO-2026-0001", "iro": "ivy.reviewer@example.gov.uk"})
        await teams.say("nobody", "new order")
        # The unit's mailbox: a new order by email, through the mail job as `sobot serve` runs it.
        assert services.mailbox is not None
        mailbox.Maildir(tmp_path / "mailbox").add(vouched((CORPUS / "01_plain_template.eml").read_bytes()))
        sobot = client.app[SOBOT]
        await sobot.jobs.run("mail")
        assert "mail" in sobot.jobs.last_run
        assert (await client.get("/metrics")).status == 200

        # Each other mailbox, made from the same settings; the IMAP server does not answer.
        for backend in ("imap", "graph", "ews"):
            build_mailbox(settings.model_copy(update={"mail_backend": backend}))
        imap = build_mailbox(settings.model_copy(update={"mail_backend": "imap"}))
        assert imap is not None
        jobs = Jobs(clock, settings.timezone)
        jobs.every("mail", settings.mail_poll_seconds, build_poller(services, imap).poll_once)
        await jobs.run("mail")
        try:
            await imap.send(compose.problems_reply("tom.jones@example.gov.uk", "New order", "<m@example.gov.uk>",
                                                   ["Child ID is missing."]))  # fmt: skip
        except OSError:
            logging.getLogger("mail").exception("sending failed")

        # The database goes away: a turn, the readiness check and the metrics page meet the error.
        down_url = f"postgresql+asyncpg://{USERS[DB_PASSWORD]}:{quote(DB_PASSWORD, safe='')}@127.0.0.1:1/sobot"
        down = Database.from_url(down_url)
        down_settings = settings.model_copy(update={"database_url": down_url})
        broken = Services(down_settings, clock, down, load_builtin(), WorkingCalendar())
        broken_client = TestClient(TestServer(create_app(broken, run_jobs=False, environ=local_env), host="127.0.0.1"))
        await broken_client.start_server()
        try:
            replies = await Teams(broken_client, connector, down).say("sam", "my orders")
            assert "can't reach the records" in replies[-1]["text"]
            assert (await broken_client.get("/readyz")).status == 503
            await broken_client.get("/metrics")
        finally:
            await broken_client.close()
            await down.dispose()

        # Production mode: the JWT check refuses callers without a valid token.
        guarded = TestClient(TestServer(create_app(services, run_jobs=False, environ=TEAMS), host="127.0.0.1"))
        await guarded.start_server()
        try:
            activity = teams.activity("sam", type="message", text="hello")
            assert (await guarded.post("/api/messages", json=activity)).status == 401
            bogus = {"Authorization": f"Bearer {b64(TEAMS_SECRET)}.{b64('x')}.{b64('y')}"}
            assert (await guarded.post("/api/messages", json=activity, headers=bogus)).status == 401
        finally:
            await guarded.close()
    finally:
        await client.close()
        await connector.server.close()
        await database.dispose()

    written = captured_logs.getvalue()
    records = "\n".join(
        r.getMessage()
        + "\n"
        + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        + "\n"
        + repr(r.args)
        for r in caplog.records
    )
    # The capture saw the day: the order, the refusal's turn, the mail job's failure and the database error.
    assert "database unavailable" in written and "job mail failed" in written, written[-3000:]
    assert "SO-2026-0001" in written
    leaks = {why for value, why in forbidden().items() for text in (written, records, caplog.text) if value in text}
    assert leaks == set(), f"secrets in the logs: {sorted(leaks)}"
