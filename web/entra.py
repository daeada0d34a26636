"""Entra ID's tokens checked: signature against the tenant's published keys, then expiry, audience, tenant, issuer.

Both kinds of token the dashboard is given pass through here: the access token Teams hands its tab (TeamsJS
`authentication.getAuthToken()`, audience `api://<host>/<app id>` or the app id, v1 or v2) and the id_token of the
browser's OpenID Connect sign-in (audience the app id). The keys come from the discovery document's `jwks_uri`;
they are kept, and read again when a token names a key not among them (Entra rolls its keys). Every refusal is a
`TokenRefused` whose sentence says what was wrong and what to do. The signature is checked before anything the token
says is believed, so a forged token learns nothing but "bad signature".
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiohttp
import jwt

from rules.clock import Clock

# How far a token's times may be off the server's clock (Entra's and ours drift a little).
LEEWAY = timedelta(seconds=60)
# A token naming a key we do not hold makes us read the keys again, but not more often than this: a stream of
# tokens with made-up key ids cannot make sobot hammer Entra.
KEYS_REREAD_AFTER = timedelta(minutes=5)
FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)
V1_ISSUER = "https://sts.windows.net/{tenant}/"
# The scope the app registration exposes for Teams' single sign-on, which the tab's token must carry: a token for
# the same app but another of its scopes, or one with roles only (an app's own token), is not a person's sign-in.
TAB_SCOPE = "access_as_user"

Reason = Literal["none", "malformed", "unknown_kid", "bad_signature", "expired", "not_yet_valid", "wrong_audience",
                 "wrong_tenant", "wrong_issuer", "wrong_scope", "no_oid", "not_in_directory",
                 "keys_unavailable"]  # fmt: skip

SENTENCES: dict[Reason, str] = {
    "none": "No sign-in token came with the request. Open sobot from its tab in Teams, or sign in with Microsoft.",
    "malformed": "The sign-in token is not a token Entra ID issues (it could not be read as a signed JSON Web "
    "Token). Close the tab and open it again; if this goes on, tell the council's IT team.",
    "unknown_kid": "The sign-in token was signed with a key that Entra ID does not publish for this tenant. Sign in "
    "again; if this goes on, tell the council's IT team.",
    "bad_signature": "The sign-in token's signature is not Entra ID's: it was altered or forged. Sign in again.",
    "expired": "The sign-in token has expired. Reload the page to sign in again.",
    "not_yet_valid": "The sign-in token is not valid yet (this computer's clock or sobot's may be wrong). Try again "
    "in a minute; if this goes on, tell the council's IT team.",
    "wrong_audience": "The sign-in token was issued for another application, not sobot. Open sobot from its own tab "
    "or sign in on its own page.",
    "wrong_tenant": "The sign-in token is from another organisation's directory: sobot admits only the council's "
    "own accounts. Sign in with your council account.",
    "wrong_issuer": "The sign-in token was not issued by the council's Entra ID. Sign in with your council account.",
    "wrong_scope": "The sign-in token does not let sobot act for you (it was not issued for sobot's "
    "access_as_user scope). Close the tab and open it again; if this goes on, tell the council's IT team.",
    "no_oid": "The sign-in token does not say which person it is for (it has no object id). Sign in with your own "
    "council account, not a guest or service account.",
    "not_in_directory": "You signed in, but your account is not in sobot's directory. Ask the Safeguarding Unit to "
    "add you (with your Entra object id) to the people sobot knows.",
    "keys_unavailable": "sobot could not read Entra ID's signing keys, so it cannot check who you are just now. Try "
    "again in a few minutes; if this goes on, tell the council's IT team.",
}


class TokenRefused(Exception):
    """A token sobot will not accept; `sentence` is what to tell the person, `reason` a short name for logs."""

    def __init__(self, reason: Reason, detail: str = "", *, more: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.sentence = f"{SENTENCES[reason]} {more}" if more else SENTENCES[reason]


@dataclass(frozen=True)
class EntraApp:
    """The council's tenant and the app registration the dashboard signs people in with."""

    tenant_id: str
    client_id: str
    client_secret: str
    authority_host: str = "https://login.microsoftonline.com"
    app_id_uri: str = ""
    """The Application ID URI Teams asks tokens for (`api://<host>/<app id>`); tokens for it or the app id pass."""

    @property
    def authority(self) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.tenant_id}"

    @property
    def discovery_url(self) -> str:
        return f"{self.authority}/v2.0/.well-known/openid-configuration"

    @property
    def tab_audiences(self) -> tuple[str, ...]:
        return tuple(a for a in (self.app_id_uri, self.client_id) if a)


@dataclass(frozen=True)
class Claims:
    """What a checked token says of the person: their object id and, for the page, their name and sign-in name."""

    oid: str
    name: str
    username: str
    raw: Mapping[str, Any] = field(repr=False)


class EntraKeys:
    """The tenant's discovery document and signing keys, read over HTTPS and kept."""

    def __init__(self, app: EntraApp, clock: Clock, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._app = app
        self._clock = clock
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._session: aiohttp.ClientSession | None = None
        self._issuer: str | None = None
        self._jwks_uri: str | None = None
        self._keys: dict[str, jwt.PyJWK] = {}
        self._read_at: datetime | None = None
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _json(self, url: str) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=FETCH_TIMEOUT)
        async with self._session.get(url, ssl=self._ssl) as response:
            response.raise_for_status()
            body = json.loads(await response.text())
        if not isinstance(body, dict):
            raise ValueError(f"{url} did not answer with a JSON object")
        return body

    async def issuer(self) -> str:
        """The v2 issuer the discovery document names for the tenant."""
        if self._issuer is None:
            await self._read(force=True)
        assert self._issuer is not None
        return self._issuer

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The published key with this id, reading the keys again (now and then) when it is not among those kept."""
        if kid not in self._keys:
            await self._read(force=False)
        return self._keys.get(kid)

    async def _read(self, *, force: bool) -> None:
        async with self._lock:
            now = self._clock.now()
            if not force and self._read_at is not None and now - self._read_at < KEYS_REREAD_AFTER:
                return
            try:
                if self._jwks_uri is None or self._issuer is None:
                    document = await self._json(self._app.discovery_url)
                    self._issuer, self._jwks_uri = str(document["issuer"]), str(document["jwks_uri"])
                keys = jwt.PyJWKSet.from_dict(await self._json(self._jwks_uri))
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, jwt.PyJWKSetError) as error:
                raise TokenRefused("keys_unavailable", f"{self._app.discovery_url}: {error!r}") from error
            self._keys = {key.key_id: key for key in keys.keys if key.key_id}
            self._read_at = now


class TokenChecker:
    """Checks Entra tokens for one app and tenant, on sobot's clock."""

    def __init__(self, app: EntraApp, keys: EntraKeys, clock: Clock) -> None:
        self.app = app
        self._keys = keys
        self._clock = clock

    async def check(self, token: str | None, audiences: tuple[str, ...], *, scope: str | None = None) -> Claims:
        """The token's claims once it passes every check; TokenRefused saying which failed otherwise.

        With `scope` (an access token, as the tab's), the token's `scp` must grant it; an id_token has no scopes.
        """
        if not token or not token.strip():
            raise TokenRefused("none")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as error:
            raise TokenRefused("malformed", str(error)) from None
        if header.get("alg") != "RS256":
            raise TokenRefused("malformed", f"alg {header.get('alg')!r}, not RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRefused("unknown_kid", "no kid in the header")
        key = await self._keys.key(kid)
        if key is None:
            raise TokenRefused("unknown_kid", kid)
        try:
            # Times, audience and issuer are checked below, on sobot's clock and with a sentence each.
            claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"], options={
                "verify_signature": True, "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                "verify_aud": False, "verify_iss": False, "require": []})  # fmt: skip
        except jwt.InvalidSignatureError:
            raise TokenRefused("bad_signature", kid) from None
        except jwt.DecodeError as error:
            raise TokenRefused("malformed", str(error)) from None
        await self._check_claims(claims, audiences)
        if scope is not None and scope not in str(claims.get("scp") or "").split():
            raise TokenRefused("wrong_scope", f"scp {claims.get('scp')!r}")
        oid = claims.get("oid")
        if not isinstance(oid, str) or not oid:
            raise TokenRefused("no_oid")
        username = claims.get("preferred_username") or claims.get("upn") or claims.get("unique_name") or ""
        return Claims(oid, str(claims.get("name") or username), str(username), claims)

    async def _check_claims(self, claims: Mapping[str, Any], audiences: tuple[str, ...]) -> None:
        now = self._clock.now()
        expires, starts = _instant(claims.get("exp")), _instant(claims.get("nbf"))
        if expires is None or now > expires + LEEWAY:
            raise TokenRefused("expired", f"exp {claims.get('exp')!r}")
        if starts is not None and now < starts - LEEWAY:
            raise TokenRefused("not_yet_valid", f"nbf {claims.get('nbf')!r}")
        audience = claims.get("aud")
        given = audience if isinstance(audience, list) else [audience]
        if not any(a in audiences for a in given):
            raise TokenRefused("wrong_audience", f"aud {audience!r}")
        if claims.get("tid") != self.app.tenant_id:
            raise TokenRefused("wrong_tenant", f"tid {claims.get('tid')!r}")
        issuers = {await self._keys.issuer(), V1_ISSUER.format(tenant=self.app.tenant_id)}
        if claims.get("iss") not in issuers:
            raise TokenRefused("wrong_issuer", f"iss {claims.get('iss')!r}")


def _instant(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, UTC)
