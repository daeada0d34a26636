"""Cover for absence, driven by the clock on SQLite and PostgreSQL: an absent IRO's reminders go to their cover
(or, with none, their team manager) saying for whom, the unit is told ahead of a review they would miss, and the
IRO back gets one summary of what happened meanwhile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers import absences, orders
from handlers.context import CLI, Actor
from handlers.order_page import order_page
from storage import Database, models
from tests.outbox_rig import Delivered, Rig, rig, sent_to

STAFF = """name,email,roles,team,manager_email
Tess Manager,tess@example.gov.uk,team_manager;iro,North,
Sam Worker,sam@example.gov.uk,social_worker,North,tess@example.gov.uk
Rita Lead,rita@example.gov.uk,team_manager,IROs,
Megan Bowen,megan@example.gov.uk,iro,IROs,rita@example.gov.uk
Jane Smith,jane@example.gov.uk,iro,IROs,rita@example.gov.uk
Ivy Reed,ivy@example.gov.uk,iro,IROs,rita@example.gov.uk
Una Unit,una@example.gov.uk,safeguarding_unit,Safeguarding,
Nell North,nell@example.gov.uk,service_manager,North,
Hope Head,hope@example.gov.uk,head_of_service,North,
"""
MEGAN = Actor("Megan Bowen", "megan@example.gov.uk")
# The unit's notes go to its members by email in the rig (it has no Teams channel), here Una alone.
UNIT_PEOPLE = "una@example.gov.uk"
REVIEW = "IRO review meeting: plan, progress, and whether to seek an extension"


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


@pytest.fixture
async def r(database: Database, database_url: str, tmp_path: Path) -> AsyncIterator[Rig]:
    # Made Tue 3 Mar 2026 and allocated to Megan Bowen: its 9-month review is due Thu 3 Dec 2026, reminded on
    # Thu 19 Nov, Tue 1 Dec and the day itself.
    async with rig(database, database_url, tmp_path / "mail", at(date(2026, 3, 3)), staff=STAFF) as made:
        await orders.create_order(made.ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", date(2026, 3, 3),
                                                            social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
        await orders.allocate_iro(made.ctx, "SO-2026-0001", "Megan Bowen", Actor("Una Unit", "una@example.gov.uk"))
        made.clock.set(at(date(2026, 11, 16)))
        yield made


async def tick_on(r: Rig, day: date) -> list[Delivered]:
    """Move the clock to `day`, run the dispatch job, and return what it delivered that day."""
    before = len(r.delivered())
    r.clock.set(at(day))
    await r.tick()
    return r.delivered()[before:]


def about_the_review(delivered: list[Delivered]) -> list[tuple[str, str]]:
    return [(d.to, d.text.splitlines()[0]) for d in delivered if "IRO review meeting" in d.text and d.to != UNIT_PEOPLE]


async def audited(r: Rig, action: str) -> list[dict[str, object]]:
    async with r.database.session() as session:
        rows = await session.scalars(select(models.AuditEntry).where(models.AuditEntry.action == action)
                                     .order_by(models.AuditEntry.id))  # fmt: skip
        return [row.details for row in rows]


async def test_an_absent_iro_s_reminders_go_to_their_cover_and_the_unit_is_told_before_the_review(r: Rig) -> None:
    await absences.record_absence(r.ctx, MEGAN, "Megan Bowen", date(2026, 11, 23), date(2026, 12, 4), "Jane Smith")

    # Thu 19 Nov, the review's first reminder: Megan is still here, so it is hers; the unit hears she will be
    # away on the day it is due, while there is time to reallocate.
    first = await tick_on(r, date(2026, 11, 19))
    assert about_the_review(first) == [("megan@example.gov.uk", f"SO-2026-0001 (J.M.S.): {REVIEW} is due "
                                        "Thursday 3 December 2026 (in 10 working days).")]  # fmt: skip
    flags = [d for d in first if d.to == UNIT_PEOPLE and "is away on" in d.text]
    assert len(flags) == 1
    assert flags[0].text.startswith("SO-2026-0001: its IRO, Megan Bowen, is away on Thu 3 Dec 2026, the day “IRO "
                                    "review meeting")  # fmt: skip
    assert "(away Mon 23 Nov to Fri 4 Dec 2026; Jane Smith covers)" in flags[0].text
    assert "allocate SO-2026-0001 to NAME" in flags[0].text
    assert [d["step"] for d in await audited(r, "notify.iro_away")] == ["nine_month_review"]

    # Tue 1 Dec and Thu 3 Dec: Megan is away; her reminders go to Jane, saying for whom.
    for day in (date(2026, 12, 1), date(2026, 12, 3)):
        sent = about_the_review(await tick_on(r, day))
        assert [to for to, _ in sent] == ["jane@example.gov.uk"], day
    mails = [m for m in r.emails() if m["To"] == "jane@example.gov.uk"]
    assert mails[-1]["Subject"].startswith("For Megan Bowen, away until Fri 4 Dec: SO-2026-0001 (J.M.S.): IRO review")
    assert mails[-1].get_body(("plain",)).get_content().startswith("For Megan Bowen, away until Fri 4 Dec.\n")
    covered = await audited(r, "notify.covered")
    assert {(d["name"], d["kind"], d["role"]) for d in covered} == {("Megan Bowen", "reminder", "iro")}
    assert len([d for d in covered if "nine_month_review" in str(d["notice"])]) == 2
    assert not [d for d in r.delivered() if d.to == "megan@example.gov.uk" and d.text.startswith("For ")]
    # The order's page lists each as sent to Jane, covering for Megan.
    page = await order_page(r.ctx, "SO-2026-0001", Actor("Una Unit", "una@example.gov.uk"))
    covers = [(n.person, n.covering) for n in page.notifications if n.step == REVIEW and n.kind == "reminder"]
    assert covers == [("Jane Smith", "Megan Bowen"), ("Jane Smith", "Megan Bowen"), ("Megan Bowen", None)]
    # The flag is said once however many reminders follow.
    assert len([d for d in r.delivered() if d.to == UNIT_PEOPLE and "is away on" in d.text]) == 1

    # Mon 7 Dec, her first working day back: one summary of what went to Jane, and of where the step is.
    back = await tick_on(r, date(2026, 12, 7))
    summaries = [d for d in back if d.to == "megan@example.gov.uk" and d.text.startswith("Welcome back")]
    assert len(summaries) == 1
    text = summaries[0].text
    assert text.startswith("Welcome back. While you were away (Mon 23 Nov to Fri 4 Dec 2026), ")
    assert (f"- SO-2026-0001 (J.M.S.): {REVIEW}: a reminder went to Jane Smith; still open, due Thu 3 Dec 2026."
            in text)  # fmt: skip
    assert text.count(REVIEW) == 2  # the reminders of 1 and 3 Dec
    later = await tick_on(r, date(2026, 12, 8))
    assert not [d for d in later if d.text.startswith("Welcome back")]  # never twice
    assert len(await audited(r, "absence.summary")) == 1


async def test_with_no_cover_named_the_team_manager_is_sent_what_the_absent_iro_would_be(r: Rig) -> None:
    await absences.record_absence(r.ctx, CLI, "megan@example.gov.uk", date(2026, 11, 30), date(2026, 12, 11))
    sent = about_the_review(await tick_on(r, date(2026, 12, 1)))
    assert sent == [("rita@example.gov.uk", "For Megan Bowen, away until Fri 11 Dec.")]
    rita = [m for m in r.emails() if m["To"] == "rita@example.gov.uk"]
    assert rita[-1]["Subject"].startswith("For Megan Bowen, away until Fri 11 Dec: SO-2026-0001 (J.M.S.): IRO review")
    assert (
        f"{REVIEW} is due Thursday 3 December 2026 (in 2 working days)." in rita[-1].get_body(("plain",)).get_content()
    )
    assert [d["named"] for d in await audited(r, "notify.covered") if "nine_month_review" in str(d["notice"])] == [
        False
    ]


async def test_a_cancelled_absence_sends_the_iro_their_own_reminders_again(r: Rig) -> None:
    away = await absences.record_absence(r.ctx, MEGAN, "Megan Bowen", date(2026, 11, 30), date(2026, 12, 11),
                                         "Jane Smith")  # fmt: skip
    await absences.cancel_absence(r.ctx, MEGAN, away.id)
    sent = about_the_review(await tick_on(r, date(2026, 12, 1)))
    assert [to for to, _ in sent] == ["megan@example.gov.uk"]
    assert await audited(r, "notify.covered") == []
    assert not [d for d in await tick_on(r, date(2026, 12, 14)) if d.text.startswith("Welcome back")]


async def test_in_the_unit_s_channel_the_flag_reallocates_in_one_press(r: Rig) -> None:
    channel = await r.unit_channel()
    await absences.record_absence(r.ctx, MEGAN, "Megan Bowen", date(2026, 11, 30), date(2026, 12, 4), "Jane Smith")
    # Ivy is away on the review's day too; Tess is an IRO but manages the order's social worker.
    await absences.record_absence(r.ctx, CLI, "ivy@example.gov.uk", date(2026, 12, 3), date(2026, 12, 3))
    await tick_on(r, date(2026, 11, 19))
    [flag] = [s for s in sent_to(r.connector.sent, channel) if "is away on" in s.text]
    assert flag.card is not None
    assert flag.card["body"][0]["text"].startswith("SO-2026-0001: its IRO, Megan Bowen, is away on Thu 3 Dec 2026")
    [buttons] = [b["actions"] for b in flag.card["body"] if b["type"] == "ActionSet"]
    # The card itself names the one IRO free that day and independent of the social worker: one press.
    assert [(b["type"], b["title"], b["verb"], b["data"]) for b in buttons] == [
        ("Action.Execute", "Reallocate to Jane Smith", "order.allocate",
         {"reference": "SO-2026-0001", "iro": "jane@example.gov.uk"})]  # fmt: skip
    [_open] = flag.card["actions"]
    assert _open["title"] == "Open in sobot" and _open["url"].endswith("SO-2026-0001")
    # The press is the allocate operation's: the unit's Una reallocates, and the order has Jane now.
    reply = await r.agent.allocate(await r.person(UNIT_PEOPLE), buttons[0]["data"]["reference"],
                                   buttons[0]["data"]["iro"])  # fmt: skip
    assert reply.text == "Jane Smith is now the IRO for SO-2026-0001."
    async with r.database.session() as session:
        order = await session.scalar(select(models.Order).where(models.Order.reference == "SO-2026-0001"))
        assert order is not None
        active = await session.scalar(select(models.Person.name).join(
            models.Allocation, models.Allocation.iro_id == models.Person.id).where(
            models.Allocation.order_id == order.id, models.Allocation.active.is_(True)))  # fmt: skip
    assert active == "Jane Smith"


async def test_with_no_other_iro_free_the_flag_offers_the_list(r: Rig) -> None:
    channel = await r.unit_channel()
    await absences.record_absence(r.ctx, MEGAN, "Megan Bowen", date(2026, 11, 30), date(2026, 12, 4))
    for email in ("jane@example.gov.uk", "ivy@example.gov.uk"):
        await absences.record_absence(r.ctx, CLI, email, date(2026, 12, 1), date(2026, 12, 3))
    await tick_on(r, date(2026, 11, 19))
    [flag] = [s for s in sent_to(r.connector.sent, channel) if "is away on" in s.text]
    assert flag.card is not None
    assert not [b for b in flag.card["body"] if b["type"] == "ActionSet"]
    [choose, _open] = flag.card["actions"]
    assert (choose["title"], choose["verb"], choose["data"]) == (
        "Choose another IRO", "order.choose_iro", {"reference": "SO-2026-0001"})  # fmt: skip


async def test_a_flag_still_waiting_when_the_unit_reallocates_is_dropped(r: Rig) -> None:
    await absences.record_absence(r.ctx, MEGAN, "Megan Bowen", date(2026, 11, 30), date(2026, 12, 4), "Jane Smith")
    r.clock.set(datetime(2026, 11, 19, 7, 0, tzinfo=UTC))  # before working hours: planned, not yet sent
    await r.planner.plan()
    await orders.allocate_iro(r.ctx, "SO-2026-0001", "Jane Smith", Actor("Una Unit", "una@example.gov.uk"))
    r.clock.set(at(date(2026, 11, 19)))
    await r.tick()
    async with r.database.session() as session:
        row = await session.scalar(select(models.Notification).where(
            models.Notification.dedupe_key.like("note:iro-away:%")))  # fmt: skip
    assert row is not None and (row.state, row.last_error) == ("cancelled", "the order has another IRO now")
    assert not [d for d in r.delivered() if "is away on" in d.text]


async def test_an_absent_iro_s_morning_digest_goes_to_their_cover(r: Rig) -> None:
    await absences.record_absence(r.ctx, MEGAN, "Megan Bowen", date(2026, 11, 30), date(2026, 12, 4), "Jane Smith")
    r.clock.set(datetime(2026, 12, 1, 8, 30, tzinfo=UTC))  # the digest's time, Tue 1 Dec
    await r.tick(digest=True)
    digests = {str(m["To"]): m for m in r.emails() if "Good morning" in str(m["Subject"])}
    assert "megan@example.gov.uk" not in digests
    assert str(digests["jane@example.gov.uk"]["Subject"]).startswith(
        "sobot: For Megan Bowen, away until Fri 4 Dec: Good morning: "
    )
    assert "SO-2026-0001" in digests["jane@example.gov.uk"].get_body(("plain",)).get_content()
    covered = [d for d in await audited(r, "notify.covered") if d["kind"] == "digest"]
    assert [(d["name"], d["cover_id"]) for d in covered] == [
        ("Megan Bowen", (await r.person("jane@example.gov.uk")).id)
    ]


async def test_allocating_an_iro_who_is_away_tells_their_cover_too(r: Rig) -> None:
    await orders.create_order(r.ctx, orders.NewOrder("C2", "Tom Brown", "supervision", date(2026, 11, 16),
                                                     social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
    await absences.record_absence(r.ctx, CLI, "Jane Smith", date(2026, 11, 16), date(2026, 11, 27))
    # The unit allocates as the Teams agent does (a card's button, "allocate … to …"), then the outbox sends.
    reply = await r.agent.allocate(await r.person("una@example.gov.uk"), "SO-2026-0002", "Jane Smith")
    assert reply.text == "Jane Smith is now the IRO for SO-2026-0002."
    await r.tick()
    told = {d.to: d.text for d in r.delivered() if "SO-2026-0002" in d.text and "IRO for" in d.text}
    assert told["jane@example.gov.uk"].startswith("You are now the IRO for SO-2026-0002 (T.B.)")
    # No cover named: her team manager, Rita, is told for her.
    assert told["rita@example.gov.uk"].splitlines()[0] == (
        "For Jane Smith, away until Fri 27 Nov: Jane Smith is now the IRO for "
        "SO-2026-0002 (T.B.); the social worker is Sam Worker."
    )
    assert [d["kind"] for d in await audited(r, "notify.covered")] == ["allocation"]


async def test_a_notice_planned_after_hours_goes_to_whoever_covers_on_the_day_it_is_sent(r: Rig) -> None:
    await absences.record_absence(r.ctx, MEGAN, "Megan Bowen", date(2026, 11, 20), date(2026, 12, 4), "Jane Smith")
    r.clock.set(datetime(2026, 11, 19, 18, 0, tzinfo=UTC))  # Thu 19 Nov after hours: the reminder waits for Friday
    await r.planner.plan()
    rows = [row for row in await r.rows() if row.kind == "reminder" and "nine_month_review" in row.dedupe_key]
    jane = await r.person("jane@example.gov.uk")
    assert [(row.person_id, row.payload["covering"]["name"]) for row in rows] == [(jane.id, "Megan Bowen")]
    assert rows[0].not_before == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


async def test_the_summary_back_says_which_steps_were_done_meanwhile(r: Rig) -> None:
    await absences.record_absence(r.ctx, MEGAN, "Megan Bowen", date(2026, 11, 30), date(2026, 12, 4), "Jane Smith")
    await tick_on(r, date(2026, 12, 1))
    r.clock.set(at(date(2026, 12, 3)))
    await orders.record_event(r.ctx, "SO-2026-0001", "nine_month_review", date(2026, 12, 3),
                              Actor("Una Unit", "una@example.gov.uk"))  # fmt: skip
    [summary] = [d.text for d in await tick_on(r, date(2026, 12, 7)) if d.text.startswith("Welcome back")]
    assert f"- SO-2026-0001 (J.M.S.): {REVIEW}: a reminder went to Jane Smith; done Thu 3 Dec." in summary
    assert summary.split("\n", 1)[1].startswith("- SO-2026-0001")
    assert ("Steps done meanwhile on your orders:\n"
            f"- SO-2026-0001 (J.M.S.): {REVIEW}: done Thu 3 Dec (recorded by Una Unit).") in summary  # fmt: skip


async def test_a_notice_queued_before_someone_called_in_sick_goes_to_their_cover(r: Rig) -> None:
    r.clock.set(datetime(2026, 12, 1, 7, 0, tzinfo=UTC))  # Tue 1 Dec, before hours: Megan's reminder is queued
    await r.planner.plan()
    r.clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))  # she is off sick today; her manager says so
    await absences.record_absence(r.ctx, Actor("Rita Lead", "rita@example.gov.uk"), "Megan Bowen", date(2026, 12, 1),
                                  date(2026, 12, 1), "Jane Smith")  # fmt: skip
    r.clock.set(at(date(2026, 12, 1)))
    await r.tick()  # Megan's row is cancelled, and Jane's queued in its place ...
    r.clock.advance(timedelta(minutes=1))
    await r.tick()  # ... and sent at the next tick
    assert about_the_review(r.delivered()) == [("jane@example.gov.uk", "For Megan Bowen, away until Tue 1 Dec.")]
    [hers] = [row for row in await r.rows() if row.person_id == (await r.person("megan@example.gov.uk")).id
              and "nine_month_review" in row.dedupe_key]  # fmt: skip
    assert (hers.state, hers.last_error) == ("cancelled", "away today: sent to whoever covers them instead")
    assert [d["kind"] for d in await audited(r, "notify.covered") if "nine_month_review" in str(d["notice"])] == [
        "reminder"]  # fmt: skip
