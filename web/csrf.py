"""CSRF protection: a token kept in the signed session, written into every form, checked on every post."""

from __future__ import annotations

import hmac
import secrets

from web.sessions import Session

FIELD = "csrf_token"
_KEY = "csrf"

REFUSED = (
    "This form was not accepted because it did not come from this sobot page (its security token is missing or "
    "out of date, perhaps after signing in again). Nothing was changed: go back, reload the page and send it again."
)


def token(session: Session) -> str:
    """The session's CSRF token, made on first use."""
    value = session.get(_KEY)
    if not isinstance(value, str) or not value:
        value = secrets.token_urlsafe(32)
        session[_KEY] = value
    return value


def valid(session: Session, sent: object) -> bool:
    """Whether a posted token is the session's own (compared in constant time)."""
    expected = session.get(_KEY)
    return (
        isinstance(sent, str)
        and isinstance(expected, str)
        and bool(expected)
        and hmac.compare_digest(sent.encode(), expected.encode())
    )
