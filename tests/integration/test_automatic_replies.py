"""Outlook's automatic replies as absences, read from a Graph fake that speaks the real format, on SQLite and
PostgreSQL: where nobody recorded one, the replies are the absence; their days follow the replies; a recorded
absence wins; and what would go to the person goes to their team manager meanwhile."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers import absences, orders
from handlers.absences import Synced
from handlers.context import CLI, Actor
from storage import Database, models
from tests.fakes.teams_graph import FakeTeamsGraph, GraphUser, teams_graph
from tests.integration.test_cover import STAFF, about_the_review
from tests.outbox_rig import Rig, rig

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOi.graph.token"
MONDAY = datetime(2026, 11, 16, 7, 30, tzinfo=UTC)  # Mon 16 Nov 2026, as the job runs, before working hours


@pytest.fixture
async def graph() -> AsyncIterator[FakeTeamsGraph]:
    async with teams_graph(TOKEN, "catalog-app") as fake:
        for upn in ("megan", "jane", "rita", "tess", "sam", "una", "nell", "hope"):
            fake.user(f"object-{upn}", f"{upn}@example.gov.uk")
        yield fake


@pytest.fixture
async def r(database: Database, database_url: str, tmp_path: Path, graph: FakeTeamsGraph) -> AsyncIterator[Rig]:
    async with rig(database, database_url, tmp_path / "mail", datetime(2026, 3, 3, 10, 0, tzinfo=UTC), staff=STAFF,
                   graph_token=lambda: TOKEN, graph_url=graph.base_url, automatic_replies=True) as made:  # fmt: skip
        await orders.create_order(made.ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", date(2026, 3, 3),
                                                            social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
        await orders.allocate_iro(made.ctx, "SO-2026-0001", "Megan Bowen", Actor("Una Unit", "una@example.gov.uk"))
        made.clock.set(MONDAY)
        yield made


def user(graph: FakeTeamsGraph, name: str) -> GraphUser:
    return next(u for u in graph.users if u.upn == f"{name}@example.gov.uk")


async def away(r: Rig) -> list[tuple[str, date, date, str]]:
    return [(a.name, a.first_day, a.last_day, a.source) for a in await absences.absences(r.ctx)]


async def test_scheduled_and_always_on_replies_become_absences_that_follow_them(r: Rig, graph: FakeTeamsGraph) -> None:
    assert "automatic_replies" in r.sobot.jobs.names
    # Megan's replies run from Mon 23 Nov 08:00 to Mon 7 Dec 09:00 (UK time): away 23 Nov to Sun 6 Dec.
    user(graph, "megan").away("2026-11-23T08:00:00", "2026-12-07T09:00:00")
    user(graph, "jane").replies = "alwaysEnabled"
    assert await r.sobot.read_automatic_replies() == Synced(recorded=2)
    assert await away(r) == [
        ("Jane Smith", date(2026, 11, 16), date(2026, 11, 17), "automatic_replies"),  # to the next working day
        ("Megan Bowen", date(2026, 11, 23), date(2026, 12, 6), "automatic_replies"),
    ]
    assert await r.sobot.read_automatic_replies() == Synced(), "read again: nothing changes"
    assert ("GET", "/v1.0/users/megan@example.gov.uk/mailboxSettings/automaticRepliesSetting") in graph.requests

    # Tue 17 Nov: Jane's are still on, her absence runs on; Megan's now end a week sooner, at 17:30 on Fri 27 Nov.
    r.clock.set(datetime(2026, 11, 17, 7, 30, tzinfo=UTC))
    user(graph, "megan").away("2026-11-23T08:00:00", "2026-11-27T17:30:00")
    assert await r.sobot.read_automatic_replies() == Synced(changed=2)
    assert [(name, last) for name, _, last, _ in await away(r)] == [("Jane Smith", date(2026, 11, 18)),
                                                                    ("Megan Bowen", date(2026, 11, 27))]  # fmt: skip
    # Wed 18 Nov: Jane turned hers off; her absence ended yesterday. Megan turned hers off before it began.
    r.clock.set(datetime(2026, 11, 18, 7, 30, tzinfo=UTC))
    user(graph, "jane").replies = "disabled"
    user(graph, "megan").replies = "disabled"
    assert await r.sobot.read_automatic_replies() == Synced(ended=2)
    assert await away(r) == []
    async with r.database.read() as session:
        jane = await session.scalar(select(models.Absence).where(models.Absence.first_day == date(2026, 11, 16)))
        assert jane is not None and (jane.last_day, jane.cancelled_at) == (date(2026, 11, 17), None)
        entries = (await session.scalars(select(models.AuditEntry).where(
            models.AuditEntry.action.like("absence.%")))).all()  # fmt: skip
    assert sorted((e.action, e.details["person"], e.actor) for e in entries) == [
        ("absence.cancel", "megan@example.gov.uk", "system"),
        ("absence.change", "jane@example.gov.uk", "system"),  # runs on to Wed 18 Nov
        ("absence.change", "jane@example.gov.uk", "system"),  # ends Tue 17 Nov
        ("absence.change", "megan@example.gov.uk", "system"),
        ("absence.record", "jane@example.gov.uk", "system"),
        ("absence.record", "megan@example.gov.uk", "system"),
    ]


async def test_an_absence_someone_recorded_wins_over_the_replies(r: Rig, graph: FakeTeamsGraph) -> None:
    await absences.record_absence(r.ctx, CLI, "Megan Bowen", date(2026, 11, 23), date(2026, 12, 4), "Jane Smith")
    user(graph, "megan").away("2026-11-20T08:00:00", "2026-12-11T17:00:00", zone="UTC")
    assert await r.sobot.read_automatic_replies() == Synced()
    [only] = await absences.absences(r.ctx)
    assert (only.first_day, only.last_day, only.cover_name, only.source) == (date(2026, 11, 23), date(2026, 12, 4),
                                                                             "Jane Smith", "recorded")  # fmt: skip


async def test_with_replies_on_and_nobody_named_the_iro_s_reminders_go_to_her_team_manager(
    r: Rig, graph: FakeTeamsGraph
) -> None:
    user(graph, "megan").away("2026-11-30T08:00:00", "2026-12-14T09:00:00")
    await r.sobot.read_automatic_replies()
    r.clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    await r.tick()
    # The tick's reminder is the one of Tue 1 Dec: hers, sent to Rita, her team manager, since Outlook names no cover.
    assert about_the_review(r.delivered()) == [("rita@example.gov.uk", "For Megan Bowen, away until Sun 13 Dec.")]


async def test_replies_graph_will_not_give_change_nothing_and_say_why(
    r: Rig, graph: FakeTeamsGraph, caplog: pytest.LogCaptureFixture
) -> None:
    await r.sobot.read_automatic_replies()
    user(graph, "megan").replies = "alwaysEnabled"
    graph.roles = ("TeamsAppInstallation.ReadWriteSelfForUser.All",)  # MailboxSettings.Read was never granted
    with caplog.at_level(logging.WARNING):
        assert await r.sobot.read_automatic_replies() == Synced()
    assert await away(r) == []
    assert "grant the bot's app the application permission MailboxSettings.Read" in caplog.text
