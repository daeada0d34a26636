"""A loopback fake of Entra ID's OpenID endpoints (discovery, keys, authorize, token), over TLS, in Entra's formats.

A test chooses who is signed in (`fake.signed_in`); the authorize endpoint then answers as Entra does once that
person has signed in, redirecting back with a code and the state. The token endpoint checks the code, the client's
secret, the redirect URI and the PKCE code_verifier against the S256 code_challenge, and returns an id_token and an
access_token signed with the key the keys endpoint publishes. `fake.token(...)` mints the access token Teams hands a
tab (TeamsJS `authentication.getAuthToken()`), in the v1 or v2 shape, for the tests of what the server refuses.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import json
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
CLIENT_ID = "6731de76-14a6-49ae-97bc-6eba6914391e"
CLIENT_SECRET = "fake-entra-client-secret"
GRAPH = "00000003-0000-0000-c000-000000000000"
T = TypeVar("T")
CODE_LIFETIME = timedelta(minutes=10)


@dataclass(frozen=True)
class EntraUser:
    """A person in the fake tenant: their object id (`oid`), display name and user principal name."""

    oid: str
    name: str
    upn: str


@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def new(cls) -> SigningKey:
        return cls(base64.urlsafe_b64encode(secrets.token_bytes(20)).decode().rstrip("="), _rsa())

    def jwk(self) -> dict[str, Any]:
        # The fields Entra's keys endpoint gives each key (x5c and x5t are left out: validators use n and e).
        public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "n": public["n"], "e": public["e"]}


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    scope: str
    user: EntraUser
    issued: float


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@dataclass
class FakeEntra:
    """The tenant's sign-in service as a test arranges and reads it back."""

    tenant: str = TENANT
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    redirect_uris: list[str] = field(default_factory=list)
    signed_in: EntraUser | None = None
    """Who the authorize endpoint says has signed in; None answers as a sign-in page nobody completes."""
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.new()])
    """Published keys, newest first; the first signs."""
    unpublished: SigningKey = field(default_factory=SigningKey.new)
    """A key the keys endpoint never shows: a token signed with it must be refused."""
    base_url: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)
    app_roles: tuple[str, ...] = ("Mail.ReadWrite", "Mail.Send")
    """The application permissions an app-only token carries."""
    app_tokens: list[str] = field(default_factory=list)
    """Every app-only token issued, in order."""
    _grants: dict[str, _Grant] = field(default_factory=dict)

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant}"

    @property
    def issuer(self) -> str:
        """The v2 issuer: what the discovery document names and what its v2 tokens carry."""
        return f"{self.base_url}/{self.tenant}/v2.0"

    def rotate(self) -> SigningKey:
        """Publish a new signing key ahead of the old ones, as Entra does when it rolls its keys."""
        key = SigningKey.new()
        self.keys.insert(0, key)
        return key

    def token(
        self,
        user: EntraUser | None,
        *,
        audience: str,
        version: str = "2.0",
        issued: datetime | None = None,
        lifetime: timedelta = timedelta(hours=1),
        key: SigningKey | None = None,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        """An access token as Entra issues for the app's `access_as_user` scope (what Teams gives a tab)."""
        at = issued or datetime.now(UTC)
        iat = int(at.timestamp())
        payload: dict[str, Any] = {
            "aud": audience,
            "iss": self.issuer if version == "2.0" else f"https://sts.windows.net/{self.tenant}/",
            "iat": iat,
            "nbf": iat,
            "exp": iat + int(lifetime.total_seconds()),
            "aio": _b64url(secrets.token_bytes(24)),
            "azp" if version == "2.0" else "appid": "5e3ce6c0-2b1f-4285-8d4b-75ee78787346",  # the Teams web client
            "name": user.name if user else "",
            "oid": user.oid if user else "",
            "rh": "0.AAAA" + _b64url(secrets.token_bytes(16)) + ".",
            "scp": "access_as_user",
            "sub": _b64url(hashlib.sha256(f"{user.oid if user else ''}{audience}".encode()).digest()),
            "tid": self.tenant,
            "uti": _b64url(secrets.token_bytes(16)),
            "ver": version,
        }
        if version == "2.0":
            payload["preferred_username"] = user.upn if user else ""
        else:
            payload["upn"] = user.upn if user else ""
            payload["unique_name"] = user.upn if user else ""
        payload.update(claims)
        for name in drop:
            payload.pop(name, None)
        signer = key or self.keys[0]
        return jwt.encode(payload, signer.private, algorithm="RS256", headers={"kid": signer.kid})

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        tenant = "/{tenant}"
        app.router.add_get(tenant + "/v2.0/.well-known/openid-configuration", self._discovery)
        app.router.add_get(tenant + "/discovery/v2.0/keys", self._keys)
        app.router.add_get(tenant + "/oauth2/v2.0/authorize", self._authorize)
        app.router.add_post(tenant + "/oauth2/v2.0/token", self._token)
        app.router.add_get(tenant + "/oauth2/v2.0/logout", self._logout)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        response: web.StreamResponse = await handler(request)
        return response

    def _known_tenant(self, request: web.Request) -> web.Response | None:
        if request.match_info["tenant"] in (self.tenant, "organizations", "common"):
            return None
        return _error(400, "invalid_tenant", 90002, f"Tenant '{request.match_info['tenant']}' not found.")

    async def _discovery(self, request: web.Request) -> web.Response:
        if problem := self._known_tenant(request):
            return problem
        base = f"{self.base_url}/{self.tenant}"
        return web.json_response({
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": self.issuer,
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                 "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
                                 "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        })  # fmt: skip

    async def _keys(self, request: web.Request) -> web.Response:
        if problem := self._known_tenant(request):
            return problem
        return web.json_response({"keys": [key.jwk() for key in self.keys]})

    async def _authorize(self, request: web.Request) -> web.Response:
        if problem := self._known_tenant(request):
            return problem
        query = request.query
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id:
            return _page(400, f"AADSTS700016: Application with identifier '{query.get('client_id')}' was not found.")
        if redirect_uri not in self.redirect_uris:
            return _page(400, "AADSTS50011: The redirect URI specified in the request does not match the redirect "
                              f"URIs configured for the application '{self.client_id}'.")  # fmt: skip

        def back(**answer: str) -> web.Response:
            if query.get("state") is not None:
                answer["state"] = query["state"]
            raise web.HTTPFound(f"{redirect_uri}?{urlencode(answer)}")

        if query.get("response_type") != "code":
            return back(error="unsupported_response_type", error_description="AADSTS700054: response_type is not code.")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return back(error="invalid_request", error_description="AADSTS9002325: Proof Key for Code Exchange is "
                                                                   "required for this client (S256).")  # fmt: skip
        if self.signed_in is None:
            return _page(200, "Sign in to your account: nobody signs in on this fake until a test chooses who.")
        code = "1.AQ" + _b64url(secrets.token_bytes(48))
        self._grants[code] = _Grant(self.client_id, redirect_uri, query["code_challenge"], query.get("nonce"),
                                    query.get("scope", ""), self.signed_in, time.time())  # fmt: skip
        return back(code=code, session_state=str(uuid.uuid4()))

    async def _token(self, request: web.Request) -> web.Response:
        if problem := self._known_tenant(request):
            return problem
        form = await request.post()
        values = {name: str(value) for name, value in form.items()}
        client_id, secret = values.get("client_id"), values.get("client_secret")
        if (auth := request.headers.get("Authorization", "")).startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id != self.client_id:
            return _error(400, "unauthorized_client", 700016, f"Application with identifier '{client_id}' was not "
                                                              "found in the directory.")  # fmt: skip
        if secret != self.client_secret:
            return _error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        if values.get("grant_type") == "client_credentials":
            return web.json_response(self._app_token(values.get("scope", "")))
        if values.get("grant_type") != "authorization_code":
            return _error(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
        grant = self._grants.pop(values.get("code", ""), None)
        if grant is None or time.time() - grant.issued > CODE_LIFETIME.total_seconds():
            return _error(400, "invalid_grant", 70008, "The provided authorization code or refresh token has "
                                                       "expired due to inactivity, or has been used.")  # fmt: skip
        if values.get("redirect_uri") != grant.redirect_uri:
            return _error(400, "invalid_grant", 500112, "The reply address does not match the reply address "
                                                        "provided when requesting the authorization code.")  # fmt: skip
        verifier = values.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode("ascii")).digest()) != grant.challenge:
            return _error(400, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge "
                                                        "supplied in the authorization request.")  # fmt: skip
        return web.json_response(self._tokens(grant, client_info=values.get("client_info") == "1"))

    def _app_token(self, scope: str) -> dict[str, Any]:
        """An app-only token (client credentials) for `RESOURCE/.default`, with the app's roles, as Entra gives a
        daemon; each is kept in `app_tokens`, for a fake resource to accept."""
        now = int(time.time())
        key = self.keys[0]
        claims = {
            "aud": scope.removesuffix("/.default"), "iss": f"https://sts.windows.net/{self.tenant}/", "iat": now,
            "nbf": now, "exp": now + 3600, "appid": self.client_id, "idtyp": "app", "oid": str(uuid.uuid4()),
            "roles": list(self.app_roles), "tid": self.tenant, "ver": "1.0",
        }  # fmt: skip
        token = jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid})
        self.app_tokens.append(token)
        return {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}

    def _tokens(self, grant: _Grant, *, client_info: bool) -> dict[str, Any]:
        now = int(time.time())
        user, key = grant.user, self.keys[0]
        id_claims: dict[str, Any] = {
            "aud": grant.client_id, "iss": self.issuer, "iat": now, "nbf": now, "exp": now + 3600,
            "name": user.name, "oid": user.oid, "preferred_username": user.upn,
            "rh": "0.AAAA" + _b64url(secrets.token_bytes(16)) + ".", "sid": str(uuid.uuid4()),
            "sub": _b64url(hashlib.sha256(f"{user.oid}{grant.client_id}".encode()).digest()),
            "tid": self.tenant, "uti": _b64url(secrets.token_bytes(16)), "ver": "2.0",
        }  # fmt: skip
        if grant.nonce is not None:
            id_claims["nonce"] = grant.nonce
        access_claims = {
            "aud": GRAPH, "iss": f"https://sts.windows.net/{self.tenant}/", "iat": now, "nbf": now, "exp": now + 3600,
            "name": user.name, "oid": user.oid, "scp": "openid profile email", "tid": self.tenant,
            "upn": user.upn, "ver": "1.0",
        }  # fmt: skip
        answer: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(s for s in grant.scope.split() if s not in ("openid", "profile", "offline_access"))
            or "openid profile email",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": jwt.encode(access_claims, key.private, algorithm="RS256", headers={"kid": key.kid}),
            "id_token": jwt.encode(id_claims, key.private, algorithm="RS256", headers={"kid": key.kid}),
        }
        if "offline_access" in grant.scope.split():
            answer["refresh_token"] = "1.AQ" + _b64url(secrets.token_bytes(64))
        if client_info:
            answer["client_info"] = _b64url(json.dumps({"uid": user.oid, "utid": self.tenant}).encode())
        return answer

    async def _logout(self, request: web.Request) -> web.Response:
        after = request.query.get("post_logout_redirect_uri")
        if after:
            raise web.HTTPFound(after)
        return _page(200, "You signed out of your account.")


def _error(status: int, error: str, code: int, description: str) -> web.Response:
    """An error in the token endpoint's JSON shape, AADSTS code and all."""
    return web.json_response(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {uuid.uuid4()} Correlation ID: "
            f"{uuid.uuid4()} Timestamp: {datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}",
            "error_codes": [code],
            "timestamp": f"{datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}",
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
        status=status,
    )


def _page(status: int, text: str) -> web.Response:
    return web.Response(
        status=status, text=f"<!doctype html><title>Sign in</title><p>{text}</p>", content_type="text/html"
    )


@dataclass(frozen=True)
class Tls:
    """A certificate authority of the fake's own and the 127.0.0.1 certificate it signed, as files."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    spki_sha256: str
    """The server key's SubjectPublicKeyInfo hash (base64), for Chromium's --ignore-certificate-errors-spki-list."""

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_tls(folder: Path) -> Tls:
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    ca_key, server_key = _rsa(), _rsa()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sobot tests: fake Entra authority")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name).public_key(server_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    files = Tls(folder / "ca.pem", folder / "server.pem", folder / "server.key", "")
    files.ca_file.write_bytes(ca.public_bytes(pem))
    files.cert_file.write_bytes(server.public_bytes(pem))
    files.key_file.write_bytes(server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption()))  # fmt: skip
    spki = server_key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)  # fmt: skip
    return Tls(files.ca_file, files.cert_file, files.key_file, base64.b64encode(hashlib.sha256(spki).digest()).decode())


@asynccontextmanager
async def serve_entra(tls: Tls, fake: FakeEntra | None = None) -> AsyncIterator[FakeEntra]:
    """The fake on https://127.0.0.1 on a free port, on the running loop; `fake.authority` is its authority."""
    fake = fake or FakeEntra()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls.server_context())
    await site.start()
    port = runner.addresses[0][1]
    fake.base_url = f"https://127.0.0.1:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()


def entra_in_thread(tls: Tls, fake: FakeEntra | None = None) -> AbstractContextManager[FakeEntra]:
    """The fake on a loop in a thread of its own, for tests that drive a browser and a `sobot serve` process."""
    return in_thread(lambda: serve_entra(tls, fake))


@contextmanager
def in_thread(serve: Callable[[], AbstractAsyncContextManager[T]]) -> Iterator[T]:
    """What `serve()` serves, on an event loop in a thread of its own until the block ends."""
    loop = asyncio.new_event_loop()
    started: asyncio.Future[T] = loop.create_future()
    stopping = asyncio.Event()

    async def run() -> None:
        async with serve() as served:
            started.set_result(served)
            await stopping.wait()

    async def wait() -> T:
        return await started

    thread = threading.Thread(target=loop.run_until_complete, args=(run(),), daemon=True)
    thread.start()
    served = asyncio.run_coroutine_threadsafe(wait(), loop).result(timeout=30)
    try:
        yield served
    finally:
        loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout=30)
        loop.close()
