"""A signed session cookie (HttpOnly, SameSite, Secure where it must be), read and written around each web request.

The cookie holds a small JSON mapping signed with the dashboard's secret (itsdangerous), never anything a person
typed about a child: who is signed in, and the session's CSRF token. A cookie that was altered, or is older than
the session's lifetime, is treated as no session at all.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "sobot_session"
# A working day and a little more: a session begun in the morning lasts the day.
LIFETIME_SECONDS = 12 * 60 * 60


class Session(MutableMapping[str, Any]):
    """One request's session values; changing them sends the cookie again with the response."""

    def __init__(self, values: dict[str, Any] | None = None) -> None:
        self._values = dict(values or {})
        self.changed = False

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._values[key] = value
        self.changed = True

    def __delitem__(self, key: str) -> None:
        del self._values[key]
        self.changed = True

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        """Forget everything (signing out): the cookie is sent again, empty."""
        self._values = {}
        self.changed = True

    def values_to_keep(self) -> dict[str, Any]:
        return dict(self._values)


SESSION = web.RequestKey("sobot_session", Session)


@dataclass(frozen=True)
class Sessions:
    """How sessions are signed and what their cookie says of itself.

    `same_site` is "Lax" for a browser tab of its own; a Teams tab is a frame inside Teams' own site, where only
    "None" (which browsers accept with Secure alone) sends the cookie. `secure` is forced on where it is None.
    """

    secret: str
    same_site: Literal["Lax", "Strict", "None"] = "Lax"
    secure: bool = False
    lifetime_seconds: int = LIFETIME_SECONDS
    cookie: str = COOKIE
    _signer: URLSafeTimedSerializer = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.secret) < 32:
            raise ValueError("the session secret must be at least 32 characters")
        object.__setattr__(self, "_signer", URLSafeTimedSerializer(self.secret, salt="sobot.web.session"))

    @staticmethod
    def random_secret() -> str:
        """A secret of this process alone: sessions end when it stops (set one for several replicas)."""
        return secrets.token_urlsafe(48)

    def load(self, request: web.Request) -> Session:
        text = request.cookies.get(self.cookie)
        if not text:
            return Session()
        try:
            values = self._signer.loads(text, max_age=self.lifetime_seconds)
        except BadSignature:  # altered, signed with another secret, or expired (SignatureExpired is one)
            return Session()
        return Session(values if isinstance(values, dict) else None)

    def save(self, session: Session, response: web.StreamResponse) -> None:
        if not session.changed or response.prepared:
            return
        secure = self.secure or self.same_site == "None"
        if not len(session):
            response.del_cookie(self.cookie, path="/", secure=secure, httponly=True, samesite=self.same_site)
            return
        response.set_cookie(self.cookie, self._signer.dumps(session.values_to_keep()), max_age=self.lifetime_seconds,
                            path="/", secure=secure, httponly=True, samesite=self.same_site)  # fmt: skip


def session_of(request: web.Request) -> Session:
    """The request's session (the dashboard's middleware loaded it)."""
    return request[SESSION]
