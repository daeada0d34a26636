"""The outbox's dispatcher on SQLite and PostgreSQL: each notification sent once, by the right channel,
retried when the channel says so, and never lost when a dispatcher dies."""

from __future__ import annotations

import asyncio
import json
import mailbox
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from random import Random

import pytest
from sqlalchemy import select

from bot.notify import TeamsChannel
from handlers import orders
from handlers.context import CLI, Actor
from handlers.reminders import acknowledge, snooze
from mail.poller import Notices, Poller
from scheduler.dispatch import Dispatcher, Message, Report
from sobot.delivery import Delivery
from storage import Database, models
from tests.cards import texts
from tests.outbox_rig import UNIT_ADDRESS, Rig, rig, sent_to
from tests.vouching import TRUST, vouched

UNIT_PEOPLE = "una@example.gov.uk"  # the one person with the safeguarding_unit role in the rig's directory
MADE = date(2026, 3, 3)  # a Tuesday


@pytest.fixture
async def r(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    # Thursday 5 March 2026, 09:00 London (GMT): two days after the order was made.
    async with rig(database, database_url, tmp_path / "mail", datetime(2026, 3, 5, 9, 0, tzinfo=UTC)) as made:
        await orders.create_order(made.ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", MADE,
                                                            child_date_of_birth=date(2019, 6, 1),
                                                            social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
        yield made


async def test_a_reminder_goes_by_teams_where_the_bot_can_reach_them_and_by_email_otherwise(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    report = await r.tick()
    # On Thu 5 Mar the social worker is reminded to tell the unit (due today) and of the case summary.
    posts = sent_to(r.connector.sent, chat)
    assert report.sent == {"teams": 2}
    steps = sorted(p.card["actions"][0]["data"]["step"] for p in posts if p.card)
    assert steps == ["case_summary", "inform_safeguarding_unit"]
    assert all(p.card and p.card["body"][0]["text"].startswith("SO-2026-0001 (J.M.S.): ") for p in posts)
    assert all(p.card and [a["title"] for a in p.card["actions"]][:3] == ["Mark done", "Done on a date", "Acknowledge"]
               for p in posts)  # fmt: skip
    assert r.emails() == []
    assert await r.tick() == type(report)()  # the same day again: nothing twice

    # Monday 9 Mar: the unit was not told; its escalation goes to the team manager, who has no Teams chat.
    r.clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    await r.tick()
    mails = [m for m in r.emails() if m["To"] != UNIT_PEOPLE]  # the unit hears of allocating the IRO
    assert [m["To"] for m in mails] == ["tess@example.gov.uk"]
    assert mails[0]["Subject"].startswith("Overdue: SO-2026-0001 (J.M.S.): Tell the Safeguarding Unit of the order")
    assert "You are told as the team manager" in mails[0].get_body(("plain",)).get_content()
    rows = {(row.kind, row.role, row.channel) for row in await r.rows() if row.state == "sent"}
    assert ("escalation", "team_manager", "email") in rows


async def test_nothing_goes_out_at_night_or_at_the_weekend(r: Rig) -> None:
    await r.in_teams("sam@example.gov.uk")
    r.clock.set(datetime(2026, 3, 5, 7, 0, tzinfo=UTC))  # 07:00: before working hours
    report = await r.tick()
    assert not report.sent and r.connector.sent == []
    assert {row.not_before for row in await r.rows()} == {datetime(2026, 3, 5, 8, 30, tzinfo=UTC)}
    r.clock.set(datetime(2026, 3, 5, 8, 30, tzinfo=UTC))
    assert (await r.tick()).sent == {"teams": 2}
    r.clock.set(datetime(2026, 3, 7, 10, 0, tzinfo=UTC))  # Saturday
    assert not (await r.tick()).sent


async def test_a_role_with_nobody_in_it_tells_the_unit_and_is_audited_once(r: Rig) -> None:
    async with r.database.session() as session:
        manager = await session.scalar(select(models.Person).where(models.Person.email == "tess@example.gov.uk"))
        assert manager is not None
        manager.active = False
    channel = await r.unit_channel()
    r.clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))  # the team manager's escalation day
    await r.tick()
    await r.tick()
    notes = [s.text for s in sent_to(r.connector.sent, channel)]
    assert any("nobody is the team manager for this order" in n for n in notes), notes
    async with r.database.session() as session:
        audits = await session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == "notify.nobody"))
        assert [a.details["role"] for a in audits.all()] == ["team_manager"]


async def test_a_teams_chat_the_bot_was_removed_from_falls_back_to_email(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    r.connector.answer(403, 404)
    report = await r.tick()
    assert report.sent == {"email": 2}
    assert [m["To"] for m in r.emails()] == ["sam@example.gov.uk"] * 2
    async with r.database.session() as session:
        stored = await session.scalar(
            select(models.ConversationReference).where(models.ConversationReference.conversation_id == chat)
        )
        assert stored is not None and stored.stale


async def test_429_is_retried_after_the_time_teams_asks_for(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    r.connector.answer((429, {"Retry-After": "120"}), (429, {"Retry-After": "120"}))
    report = await r.tick()
    assert report.retried == 2 and not report.sent
    rows = [row for row in await r.rows() if row.state == "queued"]
    assert {row.not_before for row in rows} == {datetime(2026, 3, 5, 9, 2, tzinfo=UTC)}
    assert {row.attempts for row in rows} == {1}
    r.clock.advance(timedelta(seconds=119))
    assert not (await r.tick()).sent  # not before Teams said
    r.clock.advance(timedelta(seconds=1))
    assert (await r.tick()).sent == {"teams": 2}
    assert len(sent_to(r.connector.sent, chat)) == 2


async def _back_off_three_times(r: Rig, dispatcher: Dispatcher) -> Report:
    waits = []
    for _ in range(3):
        before = r.clock.now()
        report = await r.tick(dispatcher)
        queued = [row for row in await r.rows() if row.state == "queued" and row.kind == "reminder"]
        if queued:
            waits.append((min(row.not_before for row in queued) - before).total_seconds())
            r.clock.set(max(row.not_before for row in queued))
    # Exponential back-off with jitter: within [half, all] of 60 s, then of 120 s.
    assert 30 <= waits[0] <= 60 and 60 <= waits[1] <= 120, waits
    return report


async def test_500s_back_off_then_go_by_email_after_the_last_try(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    r.connector.answer(*([500] * 6))
    report = await _back_off_three_times(r, r.dispatcher(attempts=3, backoff=60, random=Random(7)))
    assert report.sent == {"email": 2} and not report.failed
    reminders = [row for row in await r.rows() if row.kind == "reminder"]
    assert {(row.state, row.attempts, row.channel) for row in reminders} == {("sent", 3, "email")}
    assert sent_to(r.connector.sent, chat) == []
    assert sorted(m["To"] for m in r.emails()) == ["sam@example.gov.uk"] * 2


async def test_500s_with_no_mailbox_fail_and_the_unit_is_told(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    channel = await r.unit_channel()
    r.connector.answer(*([500] * 6))
    teams_only = Delivery(
        TeamsChannel(r.sobot.teams.messenger, r.sobot.teams.links), None, links=r.sobot.teams.links
    )  # mail_backend none: Teams is all there is
    dispatcher = r.dispatcher(attempts=3, backoff=60, random=Random(7), channels=teams_only)
    report = await _back_off_three_times(r, dispatcher)
    assert report.failed == 2
    failed = [row for row in await r.rows() if row.kind == "reminder"]
    assert {(row.state, row.attempts, row.channel) for row in failed} == {("failed", 3, "teams")}
    assert report.failed_by == {"teams": 2}
    assert all("Teams answered 500" in (row.last_error or "") for row in failed)
    assert sent_to(r.connector.sent, chat) == []
    await r.tick(dispatcher)
    notes = [s.text for s in sent_to(r.connector.sent, channel)]
    assert len(notes) == 2 and all("could not be delivered after 3 tries" in n for n in notes), notes
    assert all("a reminder to the social worker (Sam Worker) about" in n for n in notes), notes


async def test_a_connector_that_never_answers_is_timed_out_and_retried(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    r.connector.answer("hang")
    report = await r.tick(r.dispatcher(timeout=0.5, concurrency=1))
    assert r.connector.hung == 1
    assert report.retried == 1 and report.sent == {"teams": 1}
    row = next(row for row in await r.rows() if row.state == "queued")
    assert row.last_error == "no answer within 0.5 s"
    r.clock.set(row.not_before)
    assert (await r.tick()).sent == {"teams": 1}
    assert len(sent_to(r.connector.sent, chat)) == 2


async def test_done_acknowledge_and_snooze_stop_what_they_should(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    sam = Actor("Sam Worker", "sam@example.gov.uk")
    await r.tick()
    assert len(sent_to(r.connector.sent, chat)) == 2
    # Sam snoozes the case summary for 2 working days (to Mon 9 Mar) and acknowledges telling the unit.
    await snooze(r.ctx, "SO-2026-0001", "case_summary", 1, 2, sam)
    await acknowledge(r.ctx, "SO-2026-0001", "inform_safeguarding_unit", 1, sam)
    # Fri 6 Mar: the allocation reminder is the unit's; Sam hears nothing.
    r.clock.set(datetime(2026, 3, 6, 9, 0, tzinfo=UTC))
    r.connector.clear()
    await r.tick()
    assert sent_to(r.connector.sent, chat) == []
    # Mon 9 Mar: the escalation about telling the unit goes to the manager (acknowledging stops Sam's own
    # notices only); the case summary is still snoozed today.
    r.clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    await r.tick()
    assert sent_to(r.connector.sent, chat) == []
    assert "tess@example.gov.uk" in [m["To"] for m in r.emails()]
    # The case summary is done: its reminder of Fri 13 Mar (two working days before) never comes.
    r.clock.set(datetime(2026, 3, 13, 9, 0, tzinfo=UTC))
    await orders.record_event(r.ctx, "SO-2026-0001", "case_summary", date(2026, 3, 10), CLI)
    await r.tick()
    assert not any("case summary" in s.text for s in sent_to(r.connector.sent, chat))


def case_summary_reminders(r: Rig, chat: str) -> int:
    return sum("Rewrite the case summary" in s.text for s in sent_to(r.connector.sent, chat))


async def test_an_acknowledgement_holds_for_five_working_days_then_the_reminders_resume(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    sam = Actor("Sam Worker", "sam@example.gov.uk")
    await r.tick()
    assert case_summary_reminders(r, chat) == 1  # Thu 5 Mar: the first reminder of the case summary, due Tue 17 Mar
    held = await acknowledge(r.ctx, "SO-2026-0001", "case_summary", 1, sam)
    assert held.until == date(2026, 3, 12)  # five working days from Thu 5 Mar
    # Fri 13 Mar, the hold over: the reminder two working days before is sent, as if nothing had been acknowledged.
    r.clock.set(datetime(2026, 3, 13, 9, 0, tzinfo=UTC))
    await r.tick()
    assert case_summary_reminders(r, chat) == 2
    # The chain's own reminder told Sam again: no second word besides it.
    assert not [row for row in await r.rows() if ":resumed:" in row.dedupe_key]
    r.clock.set(datetime(2026, 3, 17, 9, 0, tzinfo=UTC))
    await r.tick()
    assert case_summary_reminders(r, chat) == 3


def told_to_tell_the_unit(r: Rig, chat: str) -> int:
    return sum("Tell the Safeguarding Unit" in s.text for s in sent_to(r.connector.sent, chat))


async def test_when_a_hold_ends_with_nothing_more_due_to_them_the_person_is_told_again_once(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    sam = Actor("Sam Worker", "sam@example.gov.uk")
    await r.tick()
    assert told_to_tell_the_unit(r, chat) == 1  # Thu 5 Mar: due today; the chain goes on to managers only
    held = await acknowledge(r.ctx, "SO-2026-0001", "inform_safeguarding_unit", 1, sam)
    assert held.until == date(2026, 3, 12)
    r.clock.set(datetime(2026, 3, 12, 9, 0, tzinfo=UTC))
    await r.tick()
    assert told_to_tell_the_unit(r, chat) == 1, "held"
    # Fri 13 Mar, the hold over and the step still not done: Sam hears of it again, as it stands, once.
    r.clock.set(datetime(2026, 3, 13, 9, 0, tzinfo=UTC))
    await r.tick()
    await r.tick()
    again = [s.text for s in sent_to(r.connector.sent, chat) if "Tell the Safeguarding Unit" in s.text]
    assert len(again) == 2 and "(6 working days ago)" in again[-1], again
    r.clock.set(datetime(2026, 3, 16, 9, 0, tzinfo=UTC))
    await r.tick()
    assert told_to_tell_the_unit(r, chat) == 2
    # Acknowledged again: another hold, then once more.
    await acknowledge(r.ctx, "SO-2026-0001", "inform_safeguarding_unit", 1, sam)  # to Mon 23 Mar
    r.clock.set(datetime(2026, 3, 24, 9, 0, tzinfo=UTC))
    await r.tick()
    assert told_to_tell_the_unit(r, chat) == 3


async def test_a_procedure_may_set_its_own_hold_over_the_settings(r: Rig) -> None:
    sam = Actor("Sam Worker", "sam@example.gov.uk")
    wirral = replace(r.ctx.procedures["wirral"], acknowledge_days=2)
    own = replace(r.ctx, procedures={**r.ctx.procedures, "wirral": wirral}, acknowledge_days=9)
    held = await acknowledge(own, "SO-2026-0001", "case_summary", 1, sam)
    assert held.until == date(2026, 3, 9)  # Thu 5 Mar + 2 working days: the procedure's, not the settings' nine


async def test_a_notice_due_while_an_acknowledgement_holds_waits_for_its_end(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    sam = Actor("Sam Worker", "sam@example.gov.uk")
    await r.tick()
    # A hold of seven working days (as a procedure or the settings may set): to Mon 16 Mar.
    held = await acknowledge(replace(r.ctx, acknowledge_days=7), "SO-2026-0001", "case_summary", 1, sam)
    assert held.until == date(2026, 3, 16)
    r.clock.set(datetime(2026, 3, 13, 9, 0, tzinfo=UTC))
    report = await r.tick()
    assert case_summary_reminders(r, chat) == 1 and report.deferred == 1
    waiting = next(row for row in await r.rows() if row.state == "queued" and row.kind == "reminder")
    assert waiting.not_before == datetime(2026, 3, 17, 8, 30, tzinfo=UTC)  # the first opening after the hold
    # Tue 17 Mar: the due day's reminder replaces the one that waited; Sam hears once, not twice.
    r.clock.set(datetime(2026, 3, 17, 8, 30, tzinfo=UTC))
    await r.tick()
    assert case_summary_reminders(r, chat) == 2


async def test_a_step_done_is_closed_once_for_everyone_it_was_escalated_to(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    await r.tick()
    # Mon 9 Mar: telling the unit is overdue; its escalation goes to Tess, the team manager, by email.
    r.clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    await r.tick()
    assert [m["To"] for m in r.emails() if m["Subject"].startswith("Overdue:")] == ["tess@example.gov.uk"]
    await orders.record_event(r.ctx, "SO-2026-0001", "inform_safeguarding_unit", date(2026, 3, 9), CLI)
    # Saving the order again (another step done) closes nothing twice.
    await orders.record_event(r.ctx, "SO-2026-0001", "case_summary", date(2026, 3, 9), CLI)
    await r.tick()
    await r.tick()
    closed = [m for m in r.emails() if m["Subject"].startswith("Closed:")]
    assert [m["To"] for m in closed] == ["tess@example.gov.uk"]
    assert closed[0]["Subject"].startswith("Closed: SO-2026-0001 (J.M.S.): Tell the Safeguarding Unit of the order")
    body = closed[0].get_body(("plain",)).get_content()
    assert "is recorded done on Mon 9 Mar 2026" in body and "nothing more is needed from you" in body
    assert "Jane" not in body and "Smith" not in body, "the order by reference and initials only"
    # Sam was reminded, never escalated to: the closing note is not his.
    assert not any(s.text.startswith("Closed:") for s in sent_to(r.connector.sent, chat))
    notes = [row for row in await r.rows() if row.kind == "note" and row.dedupe_key.startswith("note:closed:")]
    assert [(row.state, row.channel) for row in notes] == [("sent", "email")]


async def test_the_closing_note_goes_in_teams_to_whoever_chats_with_sobot(r: Rig) -> None:
    tess = await r.in_teams("tess@example.gov.uk")
    await r.tick()
    r.clock.set(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    await r.tick()
    assert any(s.text.startswith("Overdue: SO-2026-0001") for s in sent_to(r.connector.sent, tess))
    await orders.record_event(r.ctx, "SO-2026-0001", "inform_safeguarding_unit", date(2026, 3, 9), CLI)
    await r.tick()
    await r.tick()
    closed = [s.text for s in sent_to(r.connector.sent, tess) if s.text.startswith("Closed:")]
    assert closed == [
        "Closed: SO-2026-0001 (J.M.S.): Tell the Safeguarding Unit of the order (child's details, ID, commencement), "
        "due Thu 5 Mar 2026, is recorded done on Mon 9 Mar 2026. You were told it was overdue; nothing more is "
        "needed from you for it.\n\n[Open in sobot](http://127.0.0.1:3978/orders/SO-2026-0001)"
    ]
    assert not any(m["Subject"].startswith("Closed:") for m in r.emails()), "Teams carried it: no email besides"


async def test_a_snoozed_reminder_comes_back_after_the_snooze(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    sam = Actor("Sam Worker", "sam@example.gov.uk")
    await snooze(r.ctx, "SO-2026-0001", "inform_safeguarding_unit", 1, 1, sam)  # until Fri 6 Mar
    report = await r.tick()
    assert report.deferred == 1 and report.sent == {"teams": 1}
    row = next(row for row in await r.rows() if row.state == "queued")
    assert row.not_before == datetime(2026, 3, 9, 8, 30, tzinfo=UTC)  # the first opening after the snooze
    r.clock.set(datetime(2026, 3, 9, 8, 30, tzinfo=UTC))
    await r.tick()
    assert sum("Tell the Safeguarding Unit" in s.text for s in sent_to(r.connector.sent, chat)) == 1


async def test_a_dispatcher_killed_after_claiming_loses_nothing(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    await r.planner.plan()
    dead = r.dispatcher()
    assert len(await dead.claim()) == 2  # ... and the process dies before sending anything
    other = r.dispatcher()
    assert not (await other.tick()).sent  # the claims are leased: not taken while the lease runs
    r.clock.advance(dead.lease + timedelta(seconds=1))
    assert (await other.tick()).sent == {"teams": 2}
    texts = [s.text for s in sent_to(r.connector.sent, chat)]
    assert len(texts) == len(set(texts)) == 2


class Killed(BaseException):
    """The process dying: nothing in the dispatcher catches it."""


async def test_a_dispatcher_killed_after_sending_sends_nothing_twice_and_says_so(r: Rig) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    channel = await r.unit_channel()
    teams = r.channels.teams

    async def send_then_die(reference: dict[str, object], message: Message) -> None:
        await teams(reference, message)
        raise Killed

    dying = r.dispatcher(concurrency=1)
    r.channels.teams = send_then_die  # type: ignore[method-assign]
    with pytest.raises(Killed):
        await r.tick(dying)
    r.channels.teams = teams  # type: ignore[method-assign]
    assert len(sent_to(r.connector.sent, chat)) == 1
    r.clock.advance(dying.lease + timedelta(seconds=1))
    report = await r.tick()
    assert report.unconfirmed == 1
    # The one caught mid-send is not sent again; the other, still only claimed, goes now.
    texts = [s.text for s in sent_to(r.connector.sent, chat)]
    assert len(texts) == len(set(texts)) == 2
    states = sorted(row.state for row in await r.rows() if row.kind == "reminder")
    assert states == ["sent", "unconfirmed"]
    note = [s.text for s in sent_to(r.connector.sent, channel)]
    assert len(note) == 1 and "may not have been delivered" in note[0]


async def test_the_unit_and_legal_are_reached_as_the_unit_and_by_address(r: Rig) -> None:
    r.clock.set(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))  # allocation of the IRO is due (the unit's step)
    await r.tick()
    # No unit channel yet: its people by email (not the shared mailbox, whose poller would file sobot's own mail).
    assert UNIT_PEOPLE in [m["To"] for m in r.emails()] and UNIT_ADDRESS not in [m["To"] for m in r.emails()]
    channel = await r.unit_channel()
    r.clock.set(datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
    await r.tick()
    assert not sent_to(r.connector.sent, channel)  # the unit's reminder was sent yesterday; escalations go up


async def test_two_dispatchers_on_one_database_never_send_one_notification_twice(r: Rig, database_url: str) -> None:
    chat = await r.in_teams("sam@example.gov.uk")
    for number in range(2, 41):
        await orders.create_order(r.ctx, orders.NewOrder(f"C{number}", "Ann Other", "supervision", MADE,
                                                         social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
    await r.planner.plan()
    second = Database.from_url(database_url)  # another process's engine and connections
    try:
        one = r.dispatcher(batch=7, concurrency=3)
        other = replace(one, database=second, name="other", random=Random(2))
        reports = await asyncio.gather(one.tick(), other.tick())
    finally:
        await second.dispose()
    rows = await r.rows()
    assert {row.state for row in rows} == {"sent"} and len(rows) == 80
    shares = [sum(report.sent.values()) for report in reports]
    assert sum(shares) == 80 and min(shares) > 0  # both took work, neither took the other's
    posts = sent_to(r.connector.sent, chat)
    texts = Counter(p.text for p in posts)
    assert len(posts) == 80 and max(texts.values()) == 1


async def test_the_morning_digest_goes_once_to_those_with_something_to_read(r: Rig) -> None:
    chat = await r.in_teams("tess@example.gov.uk")
    # Tue 17 Mar, 08:30: the order's first steps are overdue; the case summary is due today.
    r.clock.set(datetime(2026, 3, 17, 8, 30, tzinfo=UTC))
    await r.tick(digest=True)
    digests = [p for p in sent_to(r.connector.sent, chat) if p.text.startswith("Good morning")]
    assert len(digests) == 1
    card = digests[0].card
    assert card is not None and "overdue" in card["body"][0]["text"]
    assert "SO-2026-0001" in json.dumps(card) and "Jane" not in json.dumps(card)
    readers = sorted(m["To"] for m in r.emails() if m["Subject"].startswith("sobot: Good morning"))
    # Nell (service manager) and Hope (Head of Service) of the North team by email; Ian, the IRO, has no
    # order allocated yet, and Lena (Legal) is not a digest reader: nothing for them.
    assert readers == ["hope@example.gov.uk", "nell@example.gov.uk"]
    r.clock.set(datetime(2026, 3, 17, 11, 0, tzinfo=UTC))
    await r.tick(digest=True)
    assert len([p for p in sent_to(r.connector.sent, chat) if p.text.startswith("Good morning")]) == 1
    # Saturday: no digest; Good Friday (a bank holiday): none either.
    for day in (datetime(2026, 3, 21, 9, 0, tzinfo=UTC), datetime(2026, 4, 3, 8, 45, tzinfo=UTC)):
        r.clock.set(day)
        r.connector.clear()
        await r.tick(digest=True)
        assert not [p for p in sent_to(r.connector.sent, chat) if p.text.startswith("Good morning")]


async def test_a_quiet_morning_sends_no_digest(r: Rig) -> None:
    await orders.end_order(r.ctx, "SO-2026-0001", "discharged", date(2026, 3, 5), CLI)
    r.clock.set(datetime(2026, 3, 17, 8, 30, tzinfo=UTC))
    report = await r.tick(digest=True)
    assert not report.sent and r.emails() == [] and r.connector.sent == []


async def test_a_long_digest_lists_the_most_pressing_and_says_how_many_more(r: Rig) -> None:
    for number in range(2, 16):
        await orders.create_order(r.ctx, orders.NewOrder(f"C{number}", "Ann Other", "supervision", MADE,
                                                         social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
    r.clock.set(datetime(2026, 3, 17, 8, 30, tzinfo=UTC))
    await r.tick(digest=True)
    mail = next(m for m in r.emails() if m["To"] == "tess@example.gov.uk")
    text = mail.get_body(("plain",)).get_content()
    lines = [line for line in text.splitlines() if "SO-2026-" in line]
    assert len(lines) == 40
    assert "… and 20 more: type “overdue” or “due”" in text  # 15 orders, four steps each in the window
    # Each order: telling the unit (5 Mar) and allocating the IRO (10 Mar) overdue; the case summary (today)
    # and the first CIN meeting (31 Mar, ten working days ahead) due.
    assert "Good morning: 30 steps overdue, 30 due in the next 10 working days." in text


async def test_an_order_made_in_teams_asks_the_unit_by_email_too_and_a_reply_allocates(r: Rig) -> None:
    sam = await r.person("sam@example.gov.uk")
    form = {"child_local_id": "C2", "child_name": "Ann Lee", "order_type": "supervision", "made": "04/03/2026",
            "months": "12", "procedure": "wirral", "social_worker": "sam@example.gov.uk"}  # fmt: skip
    saved = await r.agent.submit_order(sam, form)
    assert saved.card is not None and "Saved SO-2026-0002" in texts(saved.card)
    [asking] = [row for row in await r.rows() if row.kind == "allocation"]
    assert (asking.state, asking.address, asking.dedupe_key) == ("queued", UNIT_ADDRESS, "allocation:SO-2026-0002")

    await r.tick()
    [request] = [m for m in r.emails() if "Allocate an IRO" in str(m["Subject"])]
    # To the unit's people (Una), not the shared mailbox that sobot reads.
    assert (request["Subject"], request["To"]) == ("[SO-2026-0002] Allocate an IRO", "una@example.gov.uk")
    body = request.get_body(("plain",))
    assert body is not None and "Ian Reviewer (0 open orders)" in body.get_content()
    assert "Ann Lee" not in body.get_content()
    await r.tick()
    assert len([m for m in r.emails() if "Allocate an IRO" in str(m["Subject"])]) == 1, "asked once"

    # Una answers from the unit's mailbox, as she would any allocation request.
    reply = EmailMessage()
    reply["From"], reply["To"] = "Una Unit <una@example.gov.uk>", UNIT_ADDRESS
    reply["Subject"], reply["Message-ID"] = "RE: [SO-2026-0002] Allocate an IRO", "<una-reply-1@example.gov.uk>"
    reply["In-Reply-To"] = str(request["Message-ID"])
    reply.set_content("Ian Reviewer\n\nUna")
    mailbox.Maildir(r.mailbox.root).add(mailbox.MaildirMessage(vouched(reply.as_bytes())))
    report = await Poller(r.ctx, r.mailbox, UNIT_ADDRESS, ["example.gov.uk"], Notices(), TRUST).poll_once()
    assert report.allocations == ["SO-2026-0002"]
    assert (await orders.get_order(r.ctx, "SO-2026-0002", CLI)).iro == "Ian Reviewer"


async def test_an_allocation_request_is_not_emailed_once_an_iro_is_allocated(r: Rig) -> None:
    sam = await r.person("sam@example.gov.uk")
    form = {"child_local_id": "C3", "child_name": "Bo Day", "order_type": "supervision", "made": "04/03/2026",
            "months": "12", "procedure": "wirral", "social_worker": "sam@example.gov.uk"}  # fmt: skip
    await r.agent.submit_order(sam, form)
    # The unit allocated from the Teams card before the dispatcher's next tick.
    await orders.allocate_iro(r.ctx, "SO-2026-0002", "Ian Reviewer", Actor("Una Unit", "una@example.gov.uk"))
    await r.tick()
    assert not [m for m in r.emails() if "Allocate an IRO" in str(m["Subject"])]
    [asking] = [row for row in await r.rows() if row.kind == "allocation"]
    assert asking.state == "cancelled" and asking.last_error == "an IRO is allocated already"
