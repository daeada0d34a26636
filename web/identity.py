"""Who is looking at the dashboard: the one place that says so, whatever signs people in.

An Identity admits or refuses a request before any page runs, says who the viewer is (a person of the directory,
or None when nobody is signed in yet), where to send someone to sign in, and adds the routes that signing in
needs. web/local.py has local mode's (no Teams app id); the Entra sign-in implements the same protocol.
"""

from __future__ import annotations

import ipaddress
from typing import Protocol

from aiohttp import web

from handlers.directory import PersonView


class Identity(Protocol):
    """What the dashboard asks of whatever signs people in."""

    @property
    def banner(self) -> str | None:
        """A sentence every page shows above everything else (local mode's warning), or None."""

    def add_routes(self, app: web.Application) -> None:
        """Add the routes signing in and out needs (named "web.…" so the dashboard's middleware guards them)."""

    def refusal(self, request: web.Request) -> web.Response | None:
        """A response refusing this caller before any page runs (for example 403 with a sentence), or None."""

    async def viewer(self, request: web.Request) -> PersonView | None:
        """The directory's person this request comes from; None when nobody is signed in."""

    def sign_in_url(self, request: web.Request) -> str:
        """Where to send someone not signed in, to come back to this request's page afterwards."""


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def back_to(request: web.Request) -> str:
    """This request's own path and query, as a sign-in page's `next`: a path on this site only."""
    return request.rel_url.path_qs if request.method == "GET" else "/"


def safe_next(value: object) -> str:
    """A `next` a form sent, if it is a path on this site (never another site: //host or a scheme); else the home."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"
