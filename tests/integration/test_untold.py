"""Nobody is left untold, on SQLite and PostgreSQL: every kind of message sobot sends unasked reaches its reader in
Teams where the bot has a conversation with them, by email otherwise, and the unit is told when neither works;
and when Teams is down (connections refused, no answer, no token), what it cannot carry goes by email."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.notify import TeamsChannel
from handlers import orders
from handlers.context import CLI, Actor
from scheduler.dispatch import Dispatcher
from sobot.delivery import Delivery
from storage import Database, models
from tests.connector import EntraRefuses, RefusedTokenClients, refusing_url
from tests.outbox_rig import STAFF, UNIT_ADDRESS, Rig, rig, sent_to

MADE = date(2026, 3, 3)  # a Tuesday
UNA = Actor("Una Unit", "una@example.gov.uk")
TWO_IROS = STAFF + "Iris Other,iris@example.gov.uk,iro,IROs,\n"


async def _order(made: Rig) -> None:
    await orders.create_order(made.ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", MADE,
                                                        social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip


@pytest.fixture
async def r(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    # Thursday 5 March 2026, 09:00 London (GMT): two days after the order was made.
    async with rig(database, database_url, tmp_path / "mail", datetime(2026, 3, 5, 9, 0, tzinfo=UTC),
                   TWO_IROS) as made:  # fmt: skip
        await _order(made)
        yield made


def mail_to(r: Rig, address: str) -> list[str]:
    """The plain text of each email sent to `address`, subject first."""
    found = []
    for mail in r.emails():
        if mail["To"] == address:
            body = mail.get_body(("plain",))
            found.append(f"{mail['Subject']}\n{body.get_content() if body else ''}")
    return found


def teams_only(r: Rig) -> Dispatcher:
    """The service's dispatcher as it is with no mailbox (mail_backend none): Teams is all there is."""
    return r.dispatcher(
        channels=Delivery(TeamsChannel(r.sobot.teams.messenger, r.sobot.teams.links), None, links=r.sobot.teams.links)
    )


async def allocate(r: Rig, iro: str) -> None:
    """The unit allocates in Teams (or by email): sobot tells the social worker and the IRO."""
    await r.agent.announce_allocation(await orders.allocate_iro(r.ctx, "SO-2026-0001", iro, UNA))


# Allocation notices ------------------------------------------------------------------------------------------


async def test_an_iro_who_never_chatted_with_the_bot_is_told_of_the_allocation_by_email(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    await allocate(r, "Ian Reviewer")
    # Sam has a chat: told there at once, with the order's card.
    [told] = [s for s in sent_to(r.connector.sent, chat) if "is the IRO" in s.text]
    assert told.text == "Ian Reviewer is the IRO for SO-2026-0001 (J.M.S.)." and told.card is not None
    # Ian has none: the note waits in the outbox and goes by email.
    [row] = [row for row in await r.rows() if row.kind == "note"]
    assert (row.state, row.person_id) == ("queued", (await r.person("ian@example.gov.uk")).id)
    await r.tick()
    [mail] = mail_to(r, "ian@example.gov.uk")
    assert "You are now the IRO for SO-2026-0001 (J.M.S.); the social worker is Sam Worker." in mail
    assert "Jane" not in mail
    [row] = [row for row in await r.rows() if row.kind == "note"]
    assert (row.state, row.channel) == ("sent", "email")
    await r.tick()
    assert len(mail_to(r, "ian@example.gov.uk")) == 1, "told once"


async def test_an_allocation_note_still_waiting_when_the_iro_changes_is_not_sent(r: Rig) -> None:
    await allocate(r, "Ian Reviewer")
    await allocate(r, "Iris Other")
    await r.tick()
    assert mail_to(r, "ian@example.gov.uk") == []
    [iris] = mail_to(r, "iris@example.gov.uk")
    assert "You are now the IRO for SO-2026-0001 (J.M.S.)" in iris
    sam = [m for m in mail_to(r, "sam@example.gov.uk") if "is the IRO" in m]
    assert len(sam) == 1 and "Iris Other is the IRO for SO-2026-0001 (J.M.S.) (replacing Ian Reviewer)." in sam[0]
    states = {(row.person_id, row.state, row.last_error) for row in await r.rows() if row.kind == "note"}
    ian = (await r.person("ian@example.gov.uk")).id
    assert (ian, "cancelled", "the order has another IRO now") in states


async def test_an_allocation_note_teams_refuses_goes_by_email_after_its_tries(r: Rig) -> None:
    await r.in_teams("sam@example.gov.uk", refusing_url())
    await allocate(r, "Ian Reviewer")  # Teams refuses the connection: the note is queued, not lost
    await r.tick(r.dispatcher(attempts=1))
    told = [m for m in mail_to(r, "sam@example.gov.uk") if "is the IRO" in m]
    assert len(told) == 1 and "Ian Reviewer is the IRO for SO-2026-0001 (J.M.S.)." in told[0]


async def test_an_allocation_while_teams_fails_still_tells_the_social_worker_and_the_iro(r: Rig) -> None:
    channel = await r.unit_channel()
    await r.in_teams("sam@example.gov.uk")
    await r.agent.ask_for_allocation(await orders.get_order(r.ctx, "SO-2026-0001", CLI))  # the unit's card
    assert [s for s in sent_to(r.connector.sent, channel) if s.card is not None]
    r.connector.fail_with = 502  # Teams fails from here on: the card cannot be updated, nor Sam told in Teams
    await allocate(r, "Ian Reviewer")
    r.connector.fail_with = None
    assert [row.person_id for row in await r.rows() if row.kind == "note"] == [
        (await r.person("sam@example.gov.uk")).id, (await r.person("ian@example.gov.uk")).id,
    ]  # fmt: skip
    await r.tick()
    told = [s.text for s in r.connector.sent if s.text.startswith("Ian Reviewer is the IRO")]
    # Teams is back: Sam's chat, with the link to the order.
    assert told == ["Ian Reviewer is the IRO for SO-2026-0001 (J.M.S.).\n\n"
                    "[Open in sobot](http://127.0.0.1:3978/orders/SO-2026-0001)"]  # fmt: skip
    assert [m for m in mail_to(r, "ian@example.gov.uk") if "You are now the IRO" in m]


async def test_an_allocation_note_nobody_can_carry_tells_the_unit(r: Rig) -> None:
    channel = await r.unit_channel()
    await allocate(r, "Ian Reviewer")
    dispatcher = teams_only(r)
    await r.tick(dispatcher)  # no chat with Ian, no mailbox: it fails, and the unit is told
    await r.tick(dispatcher)
    notes = [s.text for s in sent_to(r.connector.sent, channel) if "could not be delivered" in s.text]
    assert [n for n in notes if "a note to Ian Reviewer" in n] == [
        "SO-2026-0001 (J.M.S.): a note to Ian Reviewer (“You are now the IRO for SO-2026-0001 (J.M.S.); the social "
        "worker is Sam Worker.”) could not be delivered after 1 try (no way to reach them: no Teams conversation "
        "and no email). Please make sure Ian Reviewer knows.\n\n"
        "[Open in sobot](http://127.0.0.1:3978/orders/SO-2026-0001)"
    ]


# Notes to the unit -------------------------------------------------------------------------------------------

UNREADABLE = "A message from ann@example.gov.uk (“New order”) could not be read: it is in Needs attention."


async def test_a_note_to_a_unit_with_no_channel_goes_to_its_mailbox(r: Rig) -> None:
    await r.agent.tell_unit(UNREADABLE)
    await r.tick()
    [mail] = [m for m in mail_to(r, UNA.email) if "could not be read" in m]
    assert mail.startswith("sobot: " + UNREADABLE)
    # Not to the shared mailbox itself: its poller would file sobot's own mail, unread, in Processed.
    assert not mail_to(r, UNIT_ADDRESS)


async def test_a_note_to_a_unit_nobody_is_known_to_be_in_goes_to_the_shared_mailbox(r: Rig) -> None:
    async with r.database.session() as session:
        una = await session.scalar(select(models.Person).where(models.Person.email == UNA.email))
        assert una is not None
        una.active = False  # nobody left with the safeguarding_unit role, and no allocation_request_to
    await r.agent.tell_unit(UNREADABLE)
    await r.tick()
    assert [m for m in mail_to(r, UNIT_ADDRESS) if "could not be read" in m]
    assert not mail_to(r, UNA.email)


async def test_a_note_to_the_unit_goes_to_its_channel_when_it_has_one(r: Rig) -> None:
    channel = await r.unit_channel()
    await r.agent.tell_unit(UNREADABLE)
    assert [s.text for s in sent_to(r.connector.sent, channel)] == [UNREADABLE]
    assert not [row for row in await r.rows() if row.kind == "note"]


async def test_a_note_to_the_unit_teams_refuses_goes_to_its_mailbox(r: Rig) -> None:
    await r.unit_channel(refusing_url())
    await r.agent.tell_unit(UNREADABLE)
    await r.tick(r.dispatcher(attempts=1))
    assert [m for m in mail_to(r, UNA.email) if "could not be read" in m]


# Reminders, escalations, digests -----------------------------------------------------------------------------


async def test_a_reminder_goes_by_email_to_someone_with_no_teams_chat(r: Rig) -> None:
    await r.tick()
    mails = mail_to(r, "sam@example.gov.uk")
    headlines = sorted(m.splitlines()[1] for m in mails)  # the first line of each body
    assert len(headlines) == 2
    assert headlines[0].startswith("SO-2026-0001 (J.M.S.): Rewrite the case summary on Liquidlogic")
    assert headlines[0].endswith("is due Tuesday 17 March 2026 (in 8 working days).")
    assert headlines[1].startswith("SO-2026-0001 (J.M.S.): Tell the Safeguarding Unit of the order")
    assert headlines[1].endswith("is due Thursday 5 March 2026 (today).")


async def test_an_escalation_goes_by_email_to_a_manager_with_no_teams_chat(r: Rig) -> None:
    r.clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    await r.tick()
    [mail] = mail_to(r, "tess@example.gov.uk")
    headline = mail.splitlines()[1]
    assert headline.startswith("Overdue: SO-2026-0001 (J.M.S.): Tell the Safeguarding Unit of the order")
    assert headline.endswith("was due Thursday 5 March 2026, 2 working days ago.")


async def test_a_digest_goes_by_email_to_someone_with_no_teams_chat(r: Rig) -> None:
    r.clock.set(datetime(2026, 3, 17, 8, 30, tzinfo=UTC))
    await r.tick(digest=True)
    digests = [m for m in mail_to(r, "tess@example.gov.uk") if m.startswith("sobot: Good morning")]
    assert len(digests) == 1 and "SO-2026-0001 (J.M.S.)" in digests[0]


async def test_a_reminder_nobody_can_carry_tells_the_unit(r: Rig) -> None:
    channel = await r.unit_channel()
    dispatcher = teams_only(r)
    await r.tick(dispatcher)
    await r.tick(dispatcher)
    notes = [s.text for s in sent_to(r.connector.sent, channel) if "could not be delivered" in s.text]
    assert len(notes) == 2 and all("a reminder to the social worker (Sam Worker)" in n for n in notes), notes


# Notes about notices -----------------------------------------------------------------------------------------


async def test_a_note_that_nobody_holds_a_role_goes_to_the_units_mailbox(r: Rig) -> None:
    async with r.database.session() as session:
        manager = await session.scalar(select(models.Person).where(models.Person.email == "tess@example.gov.uk"))
        assert manager is not None
        manager.active = False
    r.clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))  # the team manager's escalation day
    await r.tick()
    [note] = [m for m in mail_to(r, UNA.email) if "nobody is the team manager" in m]
    assert "SO-2026-0001 (J.M.S.): an escalation about “Tell the Safeguarding Unit of the order" in note
    assert "” (due Thursday 5 March 2026) is due but nobody is the team manager for this order." in note


async def test_a_could_not_be_delivered_note_goes_to_the_units_mailbox_when_teams_cannot_carry_it(r: Rig) -> None:
    await r.in_teams("sam@example.gov.uk")
    await r.unit_channel(refusing_url())  # the unit's channel is out of reach
    r.connector.answer(*([500] * 2))
    no_email = teams_only(r)
    await r.tick(r.dispatcher(attempts=1, channels=no_email.channels))  # Sam's reminders fail: the unit is told
    failed = [row for row in await r.rows() if row.kind == "failed"]
    assert len(failed) == 2 and {row.state for row in failed} == {"queued"}
    await r.tick(r.dispatcher(attempts=1))  # Teams refuses the unit's note: it goes to the unit's mailbox
    notes = [m for m in mail_to(r, UNA.email) if "could not be delivered after 1 try (Teams answered 500)" in m]
    assert len(notes) == 2, mail_to(r, UNA.email)


# Teams down --------------------------------------------------------------------------------------------------


async def test_teams_refusing_connections_gives_way_to_email_after_the_retries(r: Rig) -> None:
    await r.in_teams("sam@example.gov.uk", refusing_url())
    dispatcher = r.dispatcher(attempts=2, backoff=60)
    report = await r.tick(dispatcher)
    assert report.retried == 2 and not report.sent and r.emails() == []
    reminders = [row for row in await r.rows() if row.kind == "reminder"]
    assert all("Teams could not be reached (ClientConnectorError)" in (row.last_error or "") for row in reminders)
    r.clock.set(max(row.not_before for row in reminders))
    report = await r.tick(dispatcher)
    assert report.sent == {"email": 2} and not report.failed
    assert len(mail_to(r, "sam@example.gov.uk")) == 2
    assert not [row for row in await r.rows() if row.kind == "failed"]


async def test_teams_that_never_answers_gives_way_to_email_after_the_retries(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    r.connector.answer("hang")
    dispatcher = r.dispatcher(attempts=2, timeout=0.5, concurrency=1)
    await r.tick(dispatcher)  # one reminder hangs and is retried, the other goes
    [row] = [row for row in await r.rows() if row.state == "queued"]
    assert row.last_error == "no answer within 0.5 s"
    r.clock.set(row.not_before)
    r.connector.answer("hang")
    report = await r.tick(dispatcher)  # it hangs again on its last try: email
    assert r.connector.hung == 2 and report.sent == {"email": 1}
    assert len(sent_to(r.connector.sent, chat)) == 1 and len(mail_to(r, "sam@example.gov.uk")) == 1


async def test_a_token_entra_will_not_give_gives_way_to_email_after_the_retries(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    entra = EntraRefuses()
    async with rig(database, database_url, tmp_path / "mail", datetime(2026, 3, 5, 9, 0, tzinfo=UTC),
                   client_factory=RefusedTokenClients(entra)) as made:  # fmt: skip
        await _order(made)
        channel = await made.unit_channel()
        await made.in_teams("sam@example.gov.uk")
        dispatcher = made.dispatcher(attempts=2, backoff=60)
        report = await made.tick(dispatcher)
        assert report.retried == 2 and entra.token_requests >= 1
        assert {row.last_error for row in await made.rows()} == {"ValueError"}
        made.clock.set(max(row.not_before for row in await made.rows()))
        report = await made.tick(dispatcher)
        assert report.sent == {"email": 2}
        assert made.connector.sent == [] and not sent_to(made.connector.sent, channel)
        assert len(mail_to(made, "sam@example.gov.uk")) == 2


# Notes whose cause has gone ----------------------------------------------------------------------------------


async def test_a_back_dated_order_does_not_tell_the_unit_nobody_is_the_iro_and_the_iro_allocated_is_told(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    # Camden: the first review is the IRO's. An order made in January and recorded in September is overdue with it.
    async with rig(database, database_url, tmp_path / "mail", datetime(2026, 9, 7, 9, 0, tzinfo=UTC),
                   procedure="camden") as made:  # fmt: skip
        await orders.create_order(made.ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", date(2026, 1, 6),
                                                            social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
        channel = await made.unit_channel()
        report = await made.tick()
        notes = [s.text for s in sent_to(made.connector.sent, channel)]
        assert not [n for n in notes if "nobody is the IRO" in n], notes  # the unit is asked to allocate instead
        [waiting] = [row for row in await made.rows() if row.kind == "nobody"]
        assert waiting.state == "queued" and report.deferred == 1
        assert waiting.not_before == datetime(2026, 9, 7, 10, 0, tzinfo=UTC)  # looked at again in an hour

        await made.agent.announce_allocation(await orders.allocate_iro(made.ctx, "SO-2026-0001", "Ian Reviewer", UNA))
        made.clock.set(waiting.not_before)
        await made.tick()  # the note's cause is gone: it is dropped, and the IRO's own reminder queued
        [dropped] = [row for row in await made.rows() if row.kind == "nobody"]
        assert (dropped.state, dropped.last_error) == ("cancelled", "somebody is the IRO now: they are told instead")
        await made.tick()
        reminders = [m for m in mail_to(made, "ian@example.gov.uk") if m.startswith("SO-2026-0001 (J.M.S.): ")]
        assert len(reminders) == 1 and "is due" in reminders[0], mail_to(made, "ian@example.gov.uk")
        assert not [s.text for s in sent_to(made.connector.sent, channel) if "nobody is the" in s.text]


async def test_a_note_that_nobody_holds_a_role_says_which_occurrence_of_a_repeated_step(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    async with rig(database, database_url, tmp_path / "mail", datetime(2026, 9, 7, 9, 0, tzinfo=UTC),
                   procedure="camden") as made:  # fmt: skip
        await orders.create_order(made.ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", date(2026, 1, 6),
                                                            social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
        await orders.allocate_iro(made.ctx, "SO-2026-0001", "Ian Reviewer", UNA)
        # The first review was held; the second and third (the team manager's to chair) are overdue by September.
        await orders.record_event(made.ctx, "SO-2026-0001", "review", date(2026, 2, 5), CLI)
        async with made.database.session() as session:
            tess = await session.scalar(select(models.Person).where(models.Person.email == "tess@example.gov.uk"))
            assert tess is not None
            tess.active = False  # the team manager has left
        await made.tick()
        notes = [m.splitlines()[1] for m in mail_to(made, UNA.email) if "nobody is the team manager" in m]
        reviews = [n for n in notes if "about “Supervision support plan review” (occurrence" in n]
        assert any("(occurrence 2, due " in n for n in reviews) and any("(occurrence 3, due " in n for n in reviews)
        assert len({n.split("(occurrence ")[1].split(")")[0] for n in reviews}) == 2, reviews
