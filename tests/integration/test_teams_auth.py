"""The Teams endpoint's authentication: the SDK's JWT check against a loopback fake of the signing keys."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from bot.app import CLIENT_ID, LoopbackRefused, _refuse_unprotected, build_bot
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from sobot.app import Services, create_app
from sobot.settings import load_settings
from storage import Database
from tests.connector import RecordingConnector, TokenlessClients

APP_ID = "11111111-2222-3333-4444-555555555555"
TENANT = "66666666-7777-8888-9999-000000000000"
ENVIRON = {
    CLIENT_ID: APP_ID,
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET": "not-a-real-secret",
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID": TENANT,
    "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__AUTHTYPE": "ClientSecret",
}
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEY_ID = "test-key"


class ToLoopback(urllib.request.HTTPHandler):
    """Sends the validator's https fetches of Microsoft's signing keys to the loopback fake instead."""

    handler_order = 100  # ahead of the standard HTTPS handler

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.fetched: list[str] = []

    def https_open(self, req: urllib.request.Request) -> Any:
        self.fetched.append(req.full_url)
        path = urllib.parse.urlsplit(req.full_url).path
        local = urllib.request.Request(self.base + path, headers=dict(req.header_items()))
        local.timeout = req.timeout  # type: ignore[attr-defined]
        return self.http_open(local)


@pytest.fixture(scope="module")
def keys_server() -> Iterator[str]:
    """A loopback OpenID keys endpoint, answering any path with the JWKS of the signing key."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    jwk = json.loads(RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]}).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def redirected(keys_server: str, monkeypatch: pytest.MonkeyPatch) -> ToLoopback:
    handler = ToLoopback(keys_server)
    build = urllib.request.build_opener
    monkeypatch.setattr(urllib.request, "build_opener", lambda *more: build(handler, *more))
    return handler


def token(*, key: Any = SIGNING_KEY, kid: str | None = KEY_ID, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": "https://api.botframework.com", "aud": APP_ID, "iat": now, "nbf": now, "exp": now + 600,
               **claims}  # fmt: skip
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm="RS256",
                      headers={"kid": kid} if kid else None)  # fmt: skip


@pytest.fixture
async def secured(
    database: Database, database_url: str, redirected: ToLoopback
) -> AsyncIterator[tuple[TestClient[Any, Any], RecordingConnector]]:
    recording = RecordingConnector()
    recording.server = TestServer(recording.app())
    await recording.server.start_server()
    settings = load_settings({}, database_url=database_url)
    services = Services(settings, FixedClock(datetime(2026, 3, 10, 10, tzinfo=UTC)), database, load_builtin(),
                        WorkingCalendar())  # fmt: skip
    # Microsoft's identity service is out of reach: outbound calls go tokenless to the recording connector.
    app = create_app(services, run_jobs=False, environ=ENVIRON, client_factory=TokenlessClients())
    client = TestClient(TestServer(app))
    await client.start_server()
    yield client, recording
    await client.close()
    await recording.server.close()


def message(connector: RecordingConnector) -> dict[str, Any]:
    return {"type": "message", "id": "m1", "channelId": "msteams", "serviceUrl": connector.url, "text": "help",
            "from": {"id": "29:x", "aadObjectId": "nobody"}, "recipient": {"id": "28:sobot"},
            "conversation": {"id": "a:x", "conversationType": "personal"}}  # fmt: skip


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "no token"),
        ("Bearer", "malformed header"),
        ("Bearer not.a.token", "malformed token"),
        ("Basic dXNlcjpwYXNz", "not a bearer token"),
        (f"Bearer {token(aud='someone-else')}", "wrong audience"),
        (f"Bearer {token(iss='https://issuer.example')}", "wrong issuer"),
        (f"Bearer {token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200)}",
         "expired"),
        (f"Bearer {token(key=OTHER_KEY)}", "bad signature"),
        (f"Bearer {token(kid=None)}", "no signing key named (no kid)"),
    ],
)  # fmt: skip
async def test_bad_callers_get_401(secured: tuple[TestClient[Any, Any], RecordingConnector], header: str | None,
                                   why: str) -> None:  # fmt: skip
    client, connector = secured
    headers = {"Authorization": header} if header else {}
    response = await client.post("/api/messages", json=message(connector), headers=headers)
    assert response.status == 401, why
    assert connector.sent == []


async def test_a_valid_token_is_accepted(
    secured: tuple[TestClient[Any, Any], RecordingConnector], redirected: ToLoopback
) -> None:
    client, connector = secured
    response = await client.post("/api/messages", json=message(connector),
                                 headers={"Authorization": f"Bearer {token(serviceurl=connector.url)}"})  # fmt: skip
    assert response.status == 202
    # The SDK asked Microsoft's key endpoint (here answered on loopback) unless an earlier test's keys are cached.
    assert all(url.startswith("https://login.botframework.com/") for url in redirected.fetched)
    assert len(connector.sent) == 1 and "ask the Safeguarding Unit" in connector.sent[0].text
    health = await client.get("/healthz")
    assert health.status == 200  # the JWT check guards the Teams endpoint only


def test_an_app_id_without_the_jwt_check_refuses_to_build() -> None:
    from handlers.context import Context

    ctx = Context(Database.from_url("sqlite+aiosqlite:///:memory:"), load_builtin(), WorkingCalendar(),
                  FixedClock(datetime(2026, 3, 10, tzinfo=UTC)), "wirral")  # fmt: skip
    bot = build_bot(ctx, ENVIRON, client_factory=TokenlessClients(), dashboard="http://127.0.0.1:3978/")
    app = web.Application()

    async def unguarded(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_post("/api/messages", unguarded)
    with pytest.raises(RuntimeError, match="not behind the JWT check"):
        _refuse_unprotected(app, bot)


def test_local_mode_refuses_a_non_loopback_host(database_url: str) -> None:
    settings = load_settings({}, database_url=database_url, host="0.0.0.0")
    services = Services(settings, FixedClock(datetime(2026, 3, 10, tzinfo=UTC)),
                        Database.from_url(database_url), load_builtin(), WorkingCalendar())  # fmt: skip
    with pytest.raises(LoopbackRefused, match="local mode"):
        create_app(services, run_jobs=False, environ={})
