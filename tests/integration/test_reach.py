"""Reaching people who never opened the bot, on SQLite and PostgreSQL: with Microsoft Graph set up, sobot installs
itself for them (against a Graph fake speaking Graph's wire format) and tells them in Teams; where Graph will not,
by email; `sobot people reach` says which, and why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers import orders, reach
from handlers.context import CLI, Actor
from storage import Database, models
from tests.fakes.teams_graph import FakeTeamsGraph, teams_graph
from tests.outbox_rig import Rig, rig, sent_to

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOi.graph.token"
CATALOG_APP = "b1c5353a-7aca-41b3-830f-27d5218fe0e5"
MADE = date(2026, 3, 3)
UNA = Actor("Una Unit", "una@example.gov.uk")


@pytest.fixture
async def graph() -> AsyncIterator[FakeTeamsGraph]:
    async with teams_graph(TOKEN, CATALOG_APP) as fake:
        fake.user("5b649834-7412-4cce-9e69-176e95a394f5", "ian@example.gov.uk")
        fake.user("97a5a533-833d-494b-b543-c0afe026cb96", "sam@example.gov.uk")
        yield fake


@pytest.fixture
async def r(database: Database, database_url: str, tmp_path: Path, graph: FakeTeamsGraph) -> AsyncIterator[Rig]:
    async with rig(database, database_url, tmp_path / "mail", datetime(2026, 3, 5, 9, 0, tzinfo=UTC),
                   graph_token=lambda: TOKEN, teams_app_catalog_id=CATALOG_APP,
                   graph_url=graph.base_url) as made:  # fmt: skip
        await orders.create_order(made.ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", MADE,
                                                            social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
        yield made


def chat_of(graph: FakeTeamsGraph, upn: str) -> str:
    user = next(u for u in graph.users if u.upn == upn)
    assert user.chat_id is not None, f"nothing installed for {upn}"
    return user.chat_id


async def test_an_iro_who_never_opened_the_bot_is_told_in_teams_once_sobot_installs_itself(
    r: Rig, graph: FakeTeamsGraph
) -> None:
    await r.in_teams("sam@example.gov.uk")
    await r.agent.announce_allocation(await orders.allocate_iro(r.ctx, "SO-2026-0001", "Ian Reviewer", UNA))
    await r.tick()
    chat = chat_of(graph, "ian@example.gov.uk")
    [told] = [s.text for s in sent_to(r.connector.sent, chat)]
    assert told == ("You are now the IRO for SO-2026-0001 (J.M.S.); the social worker is Sam Worker.\n\n"
                    "[Open in sobot](http://127.0.0.1:3978/orders/SO-2026-0001)")  # fmt: skip
    assert not [m for m in r.emails() if m["To"] == "ian@example.gov.uk"]
    # The install, as Graph documents it: the catalogue app bound by its URL.
    ian = next(u for u in graph.users if u.upn == "ian@example.gov.uk")
    assert graph.installs[0] == (ian.id, {"teamsApp@odata.bind": f"{graph.base_url}/v1.0/appCatalogs/teamsApps/"
                                                                 f"{CATALOG_APP}"})  # fmt: skip
    asked = [path for _, path in graph.requests if "/users/ian@example.gov.uk/" in path]
    assert any("$filter=teamsApp/id" in p.replace("%24", "$").replace("%2F", "/") for p in asked), asked
    assert any(p.endswith("/chat") for p in asked), asked
    async with r.database.session() as session:
        kept = await session.scalar(select(models.ConversationReference)
                                    .where(models.ConversationReference.conversation_id == chat))  # fmt: skip
        assert kept is not None and kept.kind == "personal" and kept.person_id == (await r.person(ian.upn)).id


async def test_a_reminder_for_someone_who_never_opened_the_bot_comes_as_its_card_in_teams(
    r: Rig, graph: FakeTeamsGraph
) -> None:
    report = await r.tick()
    assert report.sent == {"teams": 2}
    chat = chat_of(graph, "sam@example.gov.uk")
    cards = [s.card for s in sent_to(r.connector.sent, chat)]
    assert all(c is not None and [a["title"] for a in c["actions"]][:2] == ["Mark done", "Done on a date"]
               for c in cards) and len(cards) == 2  # fmt: skip
    assert r.emails() == []
    installs = [path for method, path in graph.requests if method == "POST"]
    assert len(installs) == 1, "installed once for the two reminders"


async def test_an_app_installed_already_is_found_and_used(r: Rig, graph: FakeTeamsGraph) -> None:
    sam = next(u for u in graph.users if u.upn == "sam@example.gov.uk")
    sam.installed, sam.chat_id = "c2FtIyNhcHA=", "19:sam_existing@unq.gbl.spaces"  # installed by hand, long ago
    await r.tick()
    assert len(sent_to(r.connector.sent, "19:sam_existing@unq.gbl.spaces")) == 2
    assert r.emails() == []


async def test_graph_refusing_sends_email_says_why_and_is_not_asked_again_that_day(
    r: Rig, graph: FakeTeamsGraph
) -> None:
    graph.roles = ("User.Read.All",)  # the installation permission was never granted
    await r.tick()
    assert sorted(m["To"] for m in r.emails()) == ["sam@example.gov.uk"] * 2
    why = await reach.failed_lately(r.ctx, (await r.person("sam@example.gov.uk")).id)
    assert why is not None and "TeamsAppInstallation.ReadWriteSelfForUser.All" in why
    asked = len(graph.requests)
    r.clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))  # Monday: the manager's escalations; Sam's new reminders
    await r.tick()
    assert len([p for _, p in graph.requests[asked:] if "sam@example.gov.uk" in p]) == 0
    r.clock.advance(timedelta(days=1))
    graph.roles = ("TeamsAppInstallation.ReadWriteSelfForUser.All",)  # granted since
    assert await reach.failed_lately(r.ctx, (await r.person("sam@example.gov.uk")).id) is None


async def test_the_reach_report_says_who_is_told_how_and_why(r: Rig, graph: FakeTeamsGraph) -> None:
    await r.in_teams("tess@example.gov.uk")
    graph.roles = ()
    await r.tick()  # Sam's reminders: Graph refuses, email
    found = {one.person.email: one for one in await reach.reach_report(r.ctx, None)}
    assert found["tess@example.gov.uk"].channel == "teams"
    assert "a personal chat with the bot (they opened it" in found["tess@example.gov.uk"].why
    assert found["sam@example.gov.uk"].channel == "email"
    assert "installing sobot for them failed on 05 Mar 2026: Graph refused (403 Forbidden)" in (
        found["sam@example.gov.uk"].why
    )
    assert found["ian@example.gov.uk"].channel == "teams"
    assert "sobot installs itself for them the first time" in found["ian@example.gov.uk"].why
    without = {
        one.person.email: one for one in await reach.reach_report(r.ctx, "SOBOT_TEAMS_APP_CATALOG_ID is not set.")
    }
    assert without["ian@example.gov.uk"].channel == "email"
    assert without["ian@example.gov.uk"].why == (
        "no chat with the bot, and sobot cannot install itself for them: SOBOT_TEAMS_APP_CATALOG_ID is not set."
    )
