"""A rig for the outbox: the whole service from the composition root, with a directory, a moved clock, Teams
through the SDK to a recording connector, and email into a real Maildir."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from microsoft_agents.hosting.core import ChannelServiceClientFactoryBase
from sqlalchemy import select

from bot.agent import SobotAgent
from handlers import conversations, people
from handlers.context import CLI, Context
from handlers.directory import PersonView, identify
from mail.backends.maildir import MaildirMailbox
from rules.clock import FixedClock
from rules.notices import WorkingHours
from scheduler.digest import Digest
from scheduler.dispatch import Channels, Dispatcher, Report
from scheduler.outbox import Planner
from sobot.app import Sobot, build_sobot
from sobot.settings import load_settings
from storage import Database, models
from tests.connector import RecordingConnector, Sent, TokenlessClients, recording_connector
from tests.vouching import TRUST_SETTINGS

STAFF = """name,email,roles,team,manager_email
Tess Manager,tess@example.gov.uk,team_manager,North,
Sam Worker,sam@example.gov.uk,social_worker,North,tess@example.gov.uk
Ian Reviewer,ian@example.gov.uk,iro,IROs,
Una Unit,una@example.gov.uk,safeguarding_unit,Safeguarding,
Nell North,nell@example.gov.uk,service_manager,North,
Hope Head,hope@example.gov.uk,head_of_service,North,
Lena Legal,lena@example.gov.uk,legal,Legal,
"""
UNIT_ADDRESS = "safeguarding.unit@example.gov.uk"


@dataclass
class Delivered:
    """One notification as its recipient saw it: by Teams (a conversation) or by email (an address)."""

    channel: str
    to: str
    text: str
    body: dict[str, Any] | None = None


@dataclass
class Rig:
    sobot: Sobot
    clock: FixedClock
    connector: RecordingConnector
    mailbox: MaildirMailbox
    # Activity ids of what the bot posted outside the outbox (allocation cards and notices).
    announced: set[str] = field(default_factory=set)

    @property
    def database(self) -> Database:
        return self.sobot.database

    @property
    def ctx(self) -> Context:
        return self.sobot.context

    @property
    def planner(self) -> Planner:
        return self.sobot.planner

    @property
    def digest(self) -> Digest:
        return self.sobot.digest

    @property
    def channels(self) -> Channels:
        return self.sobot.channels

    @property
    def hours(self) -> WorkingHours:
        return self.sobot.hours

    @property
    def agent(self) -> SobotAgent:
        return self.sobot.teams.agent

    def dispatcher(self, **options: Any) -> Dispatcher:
        """The service's dispatcher, or one like it with some of its settings changed."""
        return replace(self.sobot.dispatcher, **options) if options else self.sobot.dispatcher

    async def tick(self, dispatcher: Dispatcher | None = None, *, digest: bool = False) -> Report:
        """One turn of the dispatch job (the morning digest only when asked: most tests are about steps)."""
        await self.planner.plan()
        if digest:
            await self.digest.plan()
        return await (dispatcher or self.dispatcher()).tick()

    async def person(self, email: str) -> PersonView:
        found = await identify(self.ctx, None, email)
        assert found is not None
        return found

    async def in_teams(self, email: str, service_url: str | None = None) -> str:
        """Give this person a personal chat with the bot, as installing the app does; its conversation id.

        `service_url` is where Teams' connector is for it (the recording connector unless another is given).
        """
        person = await self.person(email)
        conversation_id = f"a:personal-{person.id}"
        url = service_url or self.connector.url
        await conversations.remember(self.ctx, conversation_id=conversation_id, kind="personal", service_url=url,
                                     reference=_reference(url, conversation_id, f"29:{person.id}"),
                                     person=person)  # fmt: skip
        return conversation_id

    async def unit_channel(self, service_url: str | None = None) -> str:
        conversation_id = "19:unit@thread.tacv2"
        unit = await self.person("una@example.gov.uk")
        url = service_url or self.connector.url
        await conversations.remember(self.ctx, conversation_id=conversation_id, kind="channel", service_url=url,
                                     reference=_reference(url, conversation_id, "29:una"), person=unit)  # fmt: skip
        await conversations.use_for_allocations(self.ctx, conversation_id, unit)
        return conversation_id

    def emails(self) -> list[EmailMessage]:
        return self.mailbox.sent()

    def delivered(self, *, everything: bool = False) -> list[Delivered]:
        """What the outbox delivered (or, with `everything`, all the bot sent): Teams posts, then emails."""
        found = [Delivered("teams", s.conversation_id, s.text, s.body) for s in self.connector.sent
                 if everything or (s.method == "POST" and s.activity_id not in self.announced)]  # fmt: skip
        for mail in self.emails():
            body = mail.get_body(("plain",))
            found.append(Delivered("email", str(mail["To"]), body.get_content() if body else "", None))
        return found

    async def rows(self) -> list[models.Notification]:
        async with self.database.session() as session:
            return list((await session.scalars(select(models.Notification).order_by(models.Notification.id))).all())


def _reference(service_url: str, conversation_id: str, user: str) -> dict[str, Any]:
    return {"serviceUrl": service_url, "channelId": "msteams", "conversation": {"id": conversation_id},
            "bot": {"id": "28:sobot", "name": "sobot"}, "user": {"id": user}}  # fmt: skip


def sent_to(sent: list[Sent], conversation_id: str) -> list[Sent]:
    return [s for s in sent if s.conversation_id == conversation_id and s.method == "POST"]


@asynccontextmanager
async def rig(database: Database, database_url: str, maildir: Path, at: datetime, staff: str = STAFF,
              procedure: str = "wirral", client_factory: ChannelServiceClientFactoryBase | None = None,
              graph_token: Callable[[], str] | None = None, **more: Any) -> AsyncIterator[Rig]:  # fmt: skip
    """The rig; `more` are further settings, and `graph_token` the Graph token the bot installs itself with."""
    async with recording_connector() as connector:
        clock = FixedClock(at)
        more.setdefault("teams_service_url", connector.url)  # chats sobot makes are reached where Teams' is
        settings = load_settings({}, database_url=database_url, procedure=procedure, unit_address=UNIT_ADDRESS,
                                 mailbox_dir=maildir, allowed_sender_domains=["example.gov.uk"], **TRUST_SETTINGS,
                                 legal_address="legal.cases@example.gov.uk", notify_timeout_seconds=5.0,
                                 **more)  # fmt: skip
        sobot = build_sobot(settings, clock=clock, database=database, environ={},
                            client_factory=client_factory or TokenlessClients(), graph_token=graph_token)  # fmt: skip
        await people.import_people(sobot.context, staff, CLI)
        assert isinstance(sobot.services.mailbox, MaildirMailbox)
        try:
            yield Rig(sobot, clock, connector, sobot.services.mailbox)
        finally:
            await sobot.teams.messenger.close()
