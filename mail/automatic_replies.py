"""Outlook's automatic replies, read through Microsoft Graph: each person's mailboxSettings/automaticRepliesSetting.

GET /v1.0/users/{id or userPrincipalName}/mailboxSettings/automaticRepliesSetting, with an app-only token whose app
holds the application permission MailboxSettings.Read, answers the setting: its `status` (disabled, alwaysEnabled
or scheduled) and, when scheduled, `scheduledStartDateTime` and `scheduledEndDateTime`, each a dateTimeTimeZone
({"dateTime": "2026-08-14T08:00:00.0000000", "timeZone": "UTC"}). The zone is UTC, an IANA name, or a Windows one
("GMT Standard Time"); sobot asks for UTC, and reads the others it knows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp

from rules.cover import AutomaticReplies

log = logging.getLogger(__name__)

PERMISSION = "MailboxSettings.Read"
# The Windows zone names Exchange may give, for the councils of England and Wales and their neighbours.
WINDOWS_ZONES = {"GMT Standard Time": "Europe/London", "Greenwich Standard Time": "UTC", "UTC": "UTC",
                 "W. Europe Standard Time": "Europe/Berlin", "Romance Standard Time": "Europe/Paris",
                 "Coordinated Universal Time": "UTC"}  # fmt: skip


class RepliesUnreadable(Exception):
    """Graph would not answer one person's automatic replies; the message says why, and what to do."""


def instant(value: Mapping[str, Any] | None, fallback: ZoneInfo) -> datetime | None:
    """A dateTimeTimeZone as an aware instant; its zone, if Graph names one sobot does not know, is `fallback`."""
    if not value or not value.get("dateTime"):
        return None
    wall = datetime.fromisoformat(str(value["dateTime"])[:26])  # Graph writes seven places of seconds
    name = str(value.get("timeZone") or "UTC")
    try:
        zone = ZoneInfo(WINDOWS_ZONES.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("automatic replies: the time zone %r is not one sobot knows; read as %s", name, fallback)
        zone = fallback
    return wall.replace(tzinfo=zone).astimezone(UTC)


def replies_of(setting: Mapping[str, Any], fallback: ZoneInfo) -> AutomaticReplies:
    """The automaticRepliesSetting resource as sobot's own type."""
    return AutomaticReplies(str(setting.get("status") or "disabled"),
                            instant(setting.get("scheduledStartDateTime"), fallback),
                            instant(setting.get("scheduledEndDateTime"), fallback))  # fmt: skip


@dataclass
class AutomaticRepliesReader:
    """Reads people's automatic replies with an app-only Graph `token`, a few at a time."""

    graph_url: str
    token: Callable[[], str]
    zone: ZoneInfo
    timeout: float = 15.0
    at_once: int = 8

    async def read(self, people: Iterable[tuple[int, str]]) -> dict[int, AutomaticReplies]:
        """The replies of each (person id, Entra object id or user principal name); one that cannot be read is
        logged and left out, so its person's absences stay as they are."""
        token = await asyncio.to_thread(self.token)
        headers = {"Authorization": f"Bearer {token}", "Prefer": 'outlook.timezone="UTC"'}
        gate = asyncio.Semaphore(self.at_once)
        found: dict[int, AutomaticReplies] = {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:

            async def one(person_id: int, user: str) -> None:
                async with gate:
                    try:
                        found[person_id] = await self._one(http, headers, user)
                    except RepliesUnreadable as error:
                        log.warning("person %s: their automatic replies could not be read: %s", person_id, error)

            await asyncio.gather(*(one(person_id, user) for person_id, user in people))
        return found

    async def _one(self, http: aiohttp.ClientSession, headers: Mapping[str, str], user: str) -> AutomaticReplies:
        url = f"{self.graph_url.rstrip('/')}/v1.0/users/{quote(user, safe='@')}/mailboxSettings/automaticRepliesSetting"
        try:
            async with http.get(url, headers=dict(headers)) as answer:
                if answer.status == 403:
                    raise RepliesUnreadable(f"Graph refused (403 Forbidden): grant the bot's app the application "
                                            f"permission {PERMISSION}, with admin consent.")  # fmt: skip
                if answer.status == 404:
                    raise RepliesUnreadable("Graph has no mailbox for them (404): check their email in the directory.")
                if answer.status != 200:
                    raise RepliesUnreadable(f"Graph answered {answer.status}.")
                return replies_of(await answer.json(), self.zone)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise RepliesUnreadable(f"Microsoft Graph could not be asked ({type(error).__name__}).") from None
