"""Reaching someone in Teams who never opened the bot: sobot installs itself for them through Microsoft Graph.

With the application permission TeamsAppInstallation.ReadWriteSelfForUser.All granted to the bot's own app and the
app in the organisation's catalogue, sobot adds itself to the person's personal scope (POST
/users/{id}/teamwork/installedApps; 409 when it is there already), finds that installation, reads the one-to-one
chat it made (GET …/installedApps/{id}/chat), and keeps a conversation reference for that chat, so the notice goes
as a card in Teams rather than by email. Teams also sends the bot a conversationUpdate for the new chat, which
keeps the reference current as any turn does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

from handlers import conversations, reach
from handlers.context import Context

log = logging.getLogger(__name__)

# The global address of Teams' Bot Framework connector, for a chat whose own address Teams has not yet sent.
TEAMS_SERVICE_URL = "https://smba.trafficmanager.net/teams/"


class CannotInstall(Exception):
    """Graph would not install the app for someone; the message says why, and what to do."""


@dataclass
class Installer:
    """Installs the catalogue app `catalog_app_id` for people, with an app-only Graph `token`."""

    ctx: Context
    graph_url: str
    catalog_app_id: str
    bot_app_id: str
    tenant_id: str
    token: Callable[[], str]
    service_url: str = TEAMS_SERVICE_URL
    timeout: float = 15.0
    _locks: dict[int, asyncio.Lock] = field(default_factory=dict, init=False, repr=False)

    async def reach(self, person_id: int) -> tuple[int, dict[str, Any]] | None:
        """This person's chat with the bot (its stored id and reference), installing the app for them if need be;
        None when that cannot be done (why is logged and audited, and not tried again for a day)."""
        lock = self._locks.setdefault(person_id, asyncio.Lock())
        async with lock:  # a batch holds several notices for one person: they install once
            found = await conversations.personal_conversation(self.ctx, person_id)
            if found is not None:
                return found.id, found.reference
            if await reach.failed_lately(self.ctx, person_id) is not None:
                return None
            person = await reach.installee(self.ctx, person_id)
            if person is None:
                return None
            try:
                chat_id = await self.chat_for(person.graph_user)
            except CannotInstall as error:
                log.warning("person %s: sobot could not install itself for them in Teams: %s", person_id, error)
                await reach.not_installed(self.ctx, person_id, str(error))
                return None
            reference: dict[str, Any] = {
                "serviceUrl": self.service_url, "channelId": "msteams",
                "conversation": {"id": chat_id, "conversationType": "personal"},
                "bot": {"id": f"28:{self.bot_app_id}", "name": "sobot"},
            }  # fmt: skip
            if self.tenant_id:
                reference["conversation"]["tenantId"] = self.tenant_id
            if person.entra_id:  # Teams' own id for them comes with the chat's first conversationUpdate
                reference["user"] = {"aadObjectId": person.entra_id}
            await conversations.remember(self.ctx, conversation_id=chat_id, kind="personal",
                                         service_url=self.service_url, reference=reference,
                                         person=person.person)  # fmt: skip
            await reach.installed(self.ctx, person_id, chat_id)
            log.info("person %s: sobot installed itself for them in Teams", person_id)
            kept = await conversations.personal_conversation(self.ctx, person_id)
            return (kept.id, kept.reference) if kept is not None else None

    async def chat_for(self, user: str) -> str:
        """The id of the chat between `user` (an Entra object id or user principal name) and the bot."""
        base = f"{self.graph_url.rstrip('/')}/v1.0/users/{quote(user, safe='@')}/teamwork/installedApps"
        bind = f"{self.graph_url.rstrip('/')}/v1.0/appCatalogs/teamsApps/{self.catalog_app_id}"
        token = await asyncio.to_thread(self.token)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
                async with http.post(base, json={"teamsApp@odata.bind": bind}, headers=headers) as answer:
                    if answer.status not in (201, 409):  # 409: installed already, which is as good
                        raise CannotInstall(await _why(answer))
                query = {"$expand": "teamsApp", "$filter": f"teamsApp/id eq '{self.catalog_app_id}'"}
                async with http.get(base, params=query, headers=headers) as answer:
                    if answer.status != 200:
                        raise CannotInstall(await _why(answer))
                    installations = (await answer.json()).get("value") or []
                if not installations:
                    raise CannotInstall("Teams does not list the app as installed for them yet; it is tried again "
                                        "tomorrow.")  # fmt: skip
                async with http.get(f"{base}/{quote(str(installations[0]['id']))}/chat", headers=headers) as answer:
                    if answer.status != 200:
                        raise CannotInstall(await _why(answer))
                    return str((await answer.json())["id"])
        except (aiohttp.ClientError, TimeoutError, KeyError, ValueError) as error:
            raise CannotInstall(f"Microsoft Graph could not be asked ({type(error).__name__}).") from None


async def _why(answer: aiohttp.ClientResponse) -> str:
    """Graph's refusal as a sentence that says what to do."""
    try:
        error = (await answer.json()).get("error") or {}
    except (aiohttp.ContentTypeError, ValueError):
        error = {}
    code = str(error.get("code", ""))
    if answer.status == 403:
        return ("Graph refused (403 Forbidden): grant the bot's app the application permission "
                "TeamsAppInstallation.ReadWriteSelfForUser.All, with admin consent.")  # fmt: skip
    if answer.status == 404 and "/users/" in str(answer.url) and "catalog" not in str(error.get("message", "")):
        return "Graph does not know this person (404): check their email or Entra object id in the directory."
    if answer.status == 404:
        return ("the app is not in the organisation's catalogue (404): publish it there and set "
                "SOBOT_TEAMS_APP_CATALOG_ID to its catalogue id.")  # fmt: skip
    return f"Graph answered {answer.status} {code}".rstrip() + "."
