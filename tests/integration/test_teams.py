"""Teams turns through the real Agents SDK pipeline, answering into a recording connector."""

from __future__ import annotations

import asyncio
import logging
import mailbox
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from handlers import people
from handlers.context import CLI, Context
from handlers.directory import TRUSTED_FOR
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from sobot.app import Services, create_app
from sobot.settings import load_settings
from storage import Database, models
from tests.cards import texts
from tests.connector import RecordingConnector
from tests.teams import Teams as TeamsClient
from tests.teams import teams_app
from tests.vouching import TRUST, vouched

STAFF = """name,email,roles,team,manager_email,entra_id
Tess Manager,tess.manager@example.gov.uk,team_manager,North,,entra-tess
Sam Worker,sam.worker@example.gov.uk,social_worker,North,tess.manager@example.gov.uk,entra-sam
Ian Reviewer,ian.reviewer@example.gov.uk,iro,IRO service,,entra-ian
Ivy Reviewer,ivy.reviewer@example.gov.uk,iro,IRO service,,
Una Unit,una.unit@example.gov.uk,safeguarding_unit,Safeguarding Unit,,entra-una
"""
CHANNEL = "19:unit-channel@thread.tacv2"


class Teams(TeamsClient):
    """The shared client; here every button must be answered with a card."""

    async def click(self, who: str, verb: str, data: dict[str, Any], conversation: str | None = None) -> dict[str, Any]:
        body = await self.invoke(who, verb, data, conversation)
        assert body["statusCode"] == 200 and body["type"] == "application/vnd.microsoft.card.adaptive"
        card: dict[str, Any] = body["value"]
        return card


def card_of(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    cards = [a["content"] for b in bodies for a in b.get("attachments") or []]
    assert cards, bodies
    return cards[-1]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))


@pytest.fixture
async def teams(
    database: Database, database_url: str, connector: RecordingConnector, clock: FixedClock
) -> AsyncIterator[Teams]:
    async with teams_app(database, database_url, connector, clock, STAFF, Teams) as (made, _ctx):
        yield made


NEW_ORDER = {
    "child_local_id": "C1001", "child_name": "Jane Mary Smith", "child_date_of_birth": "2019-06-01",
    "order_type": "supervision", "made": "2026-03-03", "commenced": "", "months": "12", "last_day": "",
    "court": "Liverpool Family Court", "other_orders": "", "conditions": "", "procedure": "wirral",
    "social_worker": "sam.worker@example.gov.uk", "notes": "",
}  # fmt: skip


async def test_a_stranger_gets_one_friendly_sentence(teams: Teams) -> None:
    replies = await teams.say("nobody", "new order")
    assert len(replies) == 1
    assert "ask the Safeguarding Unit" in replies[0]["text"] and not replies[0].get("attachments")


async def test_a_stranger_saying_the_same_again_and_again_is_audited_once(teams: Teams) -> None:
    for _ in range(5):
        assert "ask the Safeguarding Unit" in (await teams.say("nobody", "help"))[0]["text"]
    assert await teams.count(models.AuditEntry, models.AuditEntry.action == "directory.stranger") == 1


async def test_a_strangers_flood_costs_one_audit_row_one_conversation_and_one_lookup_a_while(
    teams: Teams, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    def looked_up() -> int:
        # Teams' member lookup, answered 404 by the test connector, which the SDK logs as an ERROR line.
        return sum(1 for r in caplog.records if r.levelno >= logging.ERROR and "/members/" in r.getMessage())

    caplog.set_level(logging.INFO)
    for n in range(40):
        line = f"line {n} " + "x" * n
        replies = await teams.say("nobody", line, f"a:personal-nobody-{n % 4}")
        assert "ask the Safeguarding Unit" in replies[0]["text"]
    for n in range(20):
        await teams.click("nobody", f"made.up.{n}", {"reference": "SO-2026-0001"})
    stranger = models.AuditEntry.action == "directory.stranger"
    assert await teams.count(models.AuditEntry, stranger) == 1, "lines and buttons sobot does not know: one row"
    assert await teams.count(models.ConversationReference) == 1
    assert looked_up() == 1
    for _ in range(5):
        await teams.say("nobody", "new order please")
        await teams.click("nobody", "step.done", {"reference": "SO-2026-0001", "step": "x"})
    assert await teams.count(models.AuditEntry, stranger) == 3, "each thing sobot knows, asked for: once each"
    clock.advance(TRUSTED_FOR)
    await teams.say("nobody", "new order")
    assert looked_up() == 2, "asked again after a minute: someone added by email is known within it"
    assert await teams.count(models.AuditEntry, stranger) == 3
    clock.advance(timedelta(hours=1))
    await teams.say("nobody", "new order", "a:personal-nobody-9")
    assert await teams.count(models.AuditEntry, stranger) == 4, "audited again each hour"
    assert await teams.count(models.ConversationReference) == 2
    await teams.say("someone-else", "new order")
    assert await teams.count(models.AuditEntry, stranger) == 5, "each stranger is audited"


async def test_someone_leaving_the_directory_is_a_stranger_within_a_minute(teams: Teams, clock: FixedClock) -> None:
    assert "new order" in (await teams.say("sam", "help"))[0]["text"]
    # Sam leaves: another process (the directory's own tools) marks them inactive.
    async with teams.database.session() as session:
        await session.execute(
            update(models.Person).where(models.Person.email == "sam.worker@example.gov.uk").values(active=False)
        )
    clock.advance(TRUSTED_FOR - timedelta(seconds=1))
    assert "new order" in (await teams.say("sam", "help"))[0]["text"], "read a moment ago: still trusted"
    clock.advance(timedelta(seconds=1))
    assert "ask the Safeguarding Unit" in (await teams.say("sam", "help"))[0]["text"]
    # Someone new to the directory is known on their very next turn: strangers are not remembered.
    assert "ask the Safeguarding Unit" in (await teams.say("nina", "help"))[0]["text"]
    ctx = Context(teams.database, load_builtin(), WorkingCalendar(), clock, "wirral")
    await people.import_people(ctx, "name,email,roles,team,manager_email,entra_id\n"
                               "Nina New,nina.new@example.gov.uk,social_worker,North,,entra-nina\n", CLI)  # fmt: skip
    assert "new order" in (await teams.say("nina", "help"))[0]["text"]


async def test_a_channel_chosen_elsewhere_gets_the_cards_within_a_minute(
    teams: Teams, connector: RecordingConnector, clock: FixedClock
) -> None:
    other = "19:other-unit-channel@thread.tacv2"
    await teams.say("una", "hello", other)  # the bot is in both channels
    assert "now gets" in (await teams.say("una", "use this channel for allocations", CHANNEL))[0]["text"]
    connector.clear()
    await teams.click("sam", "order.submit", NEW_ORDER)
    assert len(connector.to(CHANNEL)) == 1, "chosen in this process: used at once"
    # Another replica of sobot is told to use the other channel.
    async with teams.database.session() as session:
        rows = (await session.scalars(select(models.ConversationReference))).all()
        for row in rows:
            row.purpose = "allocations" if row.conversation_id == other else None
    await teams.click("sam", "order.submit", {**NEW_ORDER, "child_local_id": "C1002"})
    assert len(connector.to(CHANNEL)) == 2 and not connector.to(other)
    clock.advance(TRUSTED_FOR)
    await teams.click("sam", "order.submit", {**NEW_ORDER, "child_local_id": "C1003"})
    assert len(connector.to(CHANNEL)) == 2 and len(connector.to(other)) == 1


async def test_help_and_an_unknown_command_are_never_silent(teams: Teams) -> None:
    helped = (await teams.say("sam", "help"))[0]["text"]
    assert "new order" in helped
    assert "make your own calendar link on sobot's [My calendar](http://127.0.0.1:3978/calendar) page" in helped
    unknown = (await teams.say("sam", "wibble wobble"))[0]["text"]
    assert 'didn\'t understand "wibble wobble"' in unknown and "allocate SO-2026-0007 to Jane Smith" in unknown
    typo = (await teams.say("sam", "alocate the thing"))[0]["text"]
    assert "Say which order, e.g. allocate SO-2026-0007 to Jane Smith" in typo


async def test_new_order_form_errors_then_summary(teams: Teams) -> None:
    form = card_of(await teams.say("sam", "New Order please"))
    assert any(e.get("id") == "made" for e in form["body"])
    assert [e.get("value") for e in form["body"] if e.get("id") == "social_worker"] == ["sam.worker@example.gov.uk"]

    again = await teams.click("sam", "order.submit", {**NEW_ORDER, "made": "31/02/2026"})
    words = texts(again)
    assert "February 2026 has 28 days" in words
    # Every value typed comes back.
    assert [e.get("value") for e in again["body"] if e.get("id") == "child_name"] == ["Jane Mary Smith"]
    assert [e.get("value") for e in again["body"] if e.get("id") == "made"] == ["31/02/2026"]

    later = await teams.click("sam", "order.submit", {**NEW_ORDER, "last_day": "2026-03-01", "months": ""})
    assert "before the order commenced" in texts(later)

    summary = await teams.click("sam", "order.submit", NEW_ORDER)
    words = texts(summary)
    assert "Saved SO-2026-0001" in words and "J.M.S." in words and "pending" in words
    assert "Jane Mary Smith" not in words
    assert "Thu 05 Mar 2026" in words  # Wirral §3.1: the unit told within 2 working days of Tue 3 Mar
    async with teams.database.session() as session:
        assert await session.scalar(select(models.Order.reference)) == "SO-2026-0001"


async def test_one_form_saved_twice_saves_one_order(teams: Teams) -> None:
    """A double press, or Teams sending the submit again after its own timeout, must not make two orders."""
    form = card_of(await teams.say("sam", "new order"))
    submit = form["actions"][0]
    assert submit["verb"] == "order.submit" and len(submit["data"]["form"]) == 32
    data = {**NEW_ORDER, **submit["data"]}
    first, second = await asyncio.gather(
        teams.click("sam", "order.submit", data), teams.click("sam", "order.submit", data)
    )
    third = await teams.click("sam", "order.submit", data)
    assert all("Saved SO-2026-0001" in texts(card) for card in (first, second, third))
    # A form with a problem keeps its name, so fixing and saving it is still the one order.
    retry = await teams.click("sam", "order.submit", {**data, "made": "31/02/2026"})
    assert "Saved SO-2026-0001" in texts(retry)
    another = card_of(await teams.say("sam", "new order"))["actions"][0]["data"]
    assert another["form"] != submit["data"]["form"]
    second = {**NEW_ORDER, **another, "child_local_id": "C1002"}
    assert "Saved SO-2026-0002" in texts(await teams.click("sam", "order.submit", second))
    async with teams.database.session() as session:
        references = (await session.scalars(select(models.Order.reference).order_by(models.Order.id))).all()
        created = (
            await session.scalars(select(models.AuditEntry.id).where(models.AuditEntry.action == "order.create"))
        ).all()
    assert references == ["SO-2026-0001", "SO-2026-0002"] and len(created) == 2


async def test_allocation_in_the_units_channel(teams: Teams, connector: RecordingConnector) -> None:
    refusal = await teams.say("sam", "use this channel for allocations", CHANNEL)
    assert "Only members of the Safeguarding Unit" in refusal[0]["text"]
    assert "now gets" in (await teams.say("una", "use this channel for allocations", CHANNEL))[0]["text"]
    await teams.say("ian", "hello")  # the IRO and social worker have chatted with the bot before
    await teams.say("sam", "hello")
    connector.clear()

    await teams.click("sam", "order.submit", NEW_ORDER)
    posted = connector.to(CHANNEL)
    assert len(posted) == 1 and posted[0].card is not None
    request = texts(posted[0].card)
    assert "Allocate an IRO: SO-2026-0001" in request and "Ian Reviewer (0 open)" in request
    card_id = posted[0].activity_id
    # The card is sobot telling the unit of the order: that step of the procedure is done, not left overdue.
    async with teams.database.session() as session:
        told = await session.scalar(select(models.Milestone.state).where(
            models.Milestone.key == "inform_safeguarding_unit"))  # fmt: skip
    assert told == "done"
    connector.clear()

    ian = {"reference": "SO-2026-0001", "iro": "ian.reviewer@example.gov.uk"}
    refused = await teams.click("sam", "order.allocate", ian)
    assert "Only members of the Safeguarding Unit" in texts(refused)
    done = await teams.click("una", "order.allocate", ian, CHANNEL)
    assert "Allocated to Ian Reviewer by Una Unit at 10:00 on 10 Mar 2026" in texts(done)
    updates = [s for s in connector.sent if s.method == "PUT"]
    assert [u.activity_id for u in updates] == [card_id]
    assert updates[0].card is not None and "Allocated to Ian Reviewer" in texts(updates[0].card)
    told = {s.conversation_id: s.text for s in connector.sent if s.method == "POST"}
    assert "Ian Reviewer is the IRO for SO-2026-0001" in told["a:personal-sam"]
    assert "You are now the IRO for SO-2026-0001" in told["a:personal-ian"]

    connector.clear()
    thread = await teams.say("una", "allocate Ivy Reviewer", f"{CHANNEL};messageid={card_id}")
    assert "Ivy Reviewer is now the IRO for SO-2026-0001" in thread[-1]["text"]
    update = next(s for s in connector.sent if s.method == "PUT")
    assert update.card is not None and "(replacing Ian Reviewer)" in texts(update.card)

    async with teams.database.session() as session:
        outcomes = (await session.scalars(select(models.AuditEntry.outcome).where(
            models.AuditEntry.action == "order.allocate"))).all()  # fmt: skip
    assert sorted(outcomes) == ["ok", "ok", "refused"]


async def test_everyday_commands(teams: Teams, clock: FixedClock) -> None:
    await teams.click("sam", "order.submit", NEW_ORDER)
    mine = card_of(await teams.say("sam", "my orders"))
    assert "SO-2026-0001" in texts(mine)
    assert "SO-2026-0001" in texts(card_of(await teams.say("sam", "order so-2026-1")))
    overdue = card_of(await teams.say("sam", "overdue"))
    assert "Tell the Safeguarding Unit of the order" in texts(overdue)  # due Thu 5 Mar, today Tue 10 Mar
    due = card_of(await teams.say("sam", "due next 30 days"))
    assert "First Child in Need meeting" in texts(due)  # due Tue 31 Mar
    done = await teams.say("sam", "done SO-2026-0001 inform safeguarding unit 04/03/2026")
    assert "Recorded for SO-2026-0001" in done[-1]["text"] and "04 March 2026" in done[-1]["text"]
    bad = await teams.say("sam", "done SO-2026-0001 tea party")
    assert "can't tell which step" in bad[-1]["text"]
    extended = await teams.say("sam", "extend SO-2026-0001 to 31/02/2028")
    assert "February 2028 has 29 days" in extended[-1]["text"]
    too_long = await teams.say("sam", "extend SO-2026-0001 to 03/03/2029")
    assert "three years" in too_long[-1]["text"]
    assert "Nothing is overdue" in (await teams.say("ian", "overdue"))[-1]["text"]


async def test_a_database_that_is_down_gets_a_polite_answer(connector: RecordingConnector, clock: FixedClock) -> None:
    settings = load_settings({})
    down = Database.from_url("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    services = Services(settings, clock, down, load_builtin(), WorkingCalendar())
    client = TestClient(TestServer(create_app(services, run_jobs=False, environ={})))
    await client.start_server()
    try:
        teams = Teams(client, connector, down)
        replies = await teams.say("sam", "new order")
        assert replies[-1]["text"] == "I can't reach the records just now, try again in a minute. Nothing was saved."
        card = await teams.click("sam", "order.submit", NEW_ORDER)
        assert "can't reach the records" in texts(card)
    finally:
        await client.close()
        await down.dispose()


async def test_a_body_that_is_not_an_activity_gets_400(teams: Teams) -> None:
    response = await teams.client.post("/api/messages", json={"type": 5, "conversation": "x"})
    assert response.status == 400
    response = await teams.client.post("/api/messages", data=b"not json", headers={"Content-Type": "application/json"})
    assert response.status == 400


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"serviceUrl": None}, "no service URL"),
        ({"serviceUrl": "/relative/path"}, "a relative service URL"),
        ({"serviceUrl": "file:///etc/passwd"}, "a service URL that is not the web"),
        ({"serviceUrl": "https://smba.example/" + "x" * 100_000}, "a 100 kB service URL"),
        ({"text": "help\x00me"}, "a NUL character"),
        ({"id": "m" * 5000}, "an over-long id"),
        ({"from": {"id": "29:" + "x" * 5000, "aadObjectId": "entra-sam"}}, "an over-long sender id"),
        ({"conversation": {"id": ["not", "a", "string"]}}, "an id that is not text"),
    ],
)  # fmt: skip
async def test_a_malformed_activity_gets_400_and_a_reason(teams: Teams, change: dict[str, Any], why: str) -> None:
    activity = {**teams.activity("sam", type="message", text="help"), **change}
    if change.get("serviceUrl", "") is None:
        del activity["serviceUrl"]
    response = await teams.client.post("/api/messages", json=activity)
    assert response.status == 400, why
    assert (await response.json())["error"]
    assert teams.connector.sent == [], "nothing answered, nothing sent"


async def test_an_iro_typed_with_slips_is_allocated_and_two_who_fit_are_offered(teams: Teams) -> None:
    await teams.click("sam", "order.submit", NEW_ORDER)
    [unsure] = await teams.say("una", "allocate SO-2026-0001 to reviewer please")
    buttons = [a["title"] for a in unsure["attachments"][0]["content"]["body"][1]["actions"]]
    assert buttons == ["Ian Reviewer", "Ivy Reviewer"] and "could be" in unsure["text"]
    answers = await teams.say("una", "👍 allocate SO-2026-0001 to ivy reveiwer, thanks!")
    assert any("Ivy Reviewer is now the IRO for SO-2026-0001" in (a.get("text") or "") for a in answers)


async def test_an_unknown_line_is_repeated_back_only_in_part(teams: Teams) -> None:
    [answer] = await teams.say("sam", "gibberish " * 1000)
    assert len(answer["text"]) < 2000 and "…" in answer["text"]


async def test_a_snooze_of_no_number_of_days_is_a_sentence(teams: Teams, clock: FixedClock) -> None:
    await teams.click("sam", "order.submit", NEW_ORDER)
    step = {"reference": "SO-2026-0001", "step": "case_summary", "occurrence": 1}
    answer = await teams.click("sam", "step.snooze", {**step, "days": "soon"})
    assert "Snooze for 1, 2, 5 working days" in texts(answer)


async def test_a_step_marked_done_says_what_was_recorded(teams: Teams, clock: FixedClock) -> None:
    await teams.click("sam", "order.submit", NEW_ORDER)
    step = {"reference": "SO-2026-0001", "step": "case_summary", "occurrence": 1}
    done = texts(await teams.click("sam", "step.done", step))
    assert "Recorded: Rewrite the case summary on Liquidlogic" in done and "done on 10 March 2026" in done


async def test_reminder_card_buttons(teams: Teams, clock: FixedClock) -> None:
    await teams.click("sam", "order.submit", NEW_ORDER)
    step = {"reference": "SO-2026-0001", "step": "inform_safeguarding_unit", "occurrence": 1}
    bad = await teams.click("sam", "step.done_on", {**step, "done_on": "30/02/2026"})
    assert "February 2026 has 28 days" in texts(bad)
    done = await teams.click("sam", "step.done_on", {**step, "done_on": "2026-03-04"})
    assert "SO-2026-0001" in texts(done)
    again = await teams.click("sam", "step.done", step)
    assert "already recorded as done on 04 March 2026" in texts(again)

    case_summary = {"reference": "SO-2026-0001", "step": "case_summary", "occurrence": 1}
    acknowledged = await teams.click("tess", "step.acknowledge", case_summary)
    # Tue 10 Mar + 5 working days = Tue 17 Mar: the hold of an acknowledgement, and of the longest snooze.
    assert "Acknowledged: reminders pause until Tue 17 Mar 2026. Rewrite the case summary" in texts(acknowledged)
    snoozed = await teams.click("sam", "step.snooze", {**case_summary, "days": 5})
    assert "until Tue 17 Mar 2026" in texts(snoozed)
    refused = await teams.click("sam", "step.snooze", {**case_summary, "days": 9})
    assert "Snooze for 1, 2, 5 working days" in texts(refused)
    async with teams.database.session() as session:
        responses = (await session.scalars(select(models.StepResponse).order_by(models.StepResponse.id))).all()
        assert [(r.kind, r.until) for r in responses] == [
            ("acknowledged", date(2026, 3, 17)),
            ("snoozed", date(2026, 3, 17)),
        ]


async def test_snooze_never_runs_past_the_last_day(teams: Teams, clock: FixedClock) -> None:
    order = {**NEW_ORDER, "order_type": "interim_supervision", "months": "", "last_day": "2026-03-12",
             "procedure": "bradford"}  # fmt: skip
    assert "Saved SO-2026-0001" in texts(await teams.click("sam", "order.submit", order))
    snoozed = await teams.click("sam", "step.snooze",
                                {"reference": "SO-2026-0001", "step": "three_way_discussion", "days": 5})  # fmt: skip
    assert "until Thu 12 Mar 2026" in texts(snoozed)  # the order's last day, not Tue 17 Mar


async def test_steps_done_by_another_event_and_outcomes_with_values(teams: Teams, clock: FixedClock) -> None:
    await teams.click("sam", "order.submit", NEW_ORDER)
    # Wirral's allocate_iro is completed by the iro_allocated event, which only an allocation records: Mark done
    # says so, even to the unit, and allocating does it.
    step = {"reference": "SO-2026-0001", "step": "allocate_iro", "occurrence": 1}
    refused = await teams.click("una", "step.done", step)
    assert "is done by allocating an IRO" in texts(refused) and "allocate SO-2026-0001 to NAME" in texts(refused)
    await teams.click("una", "order.allocate", {"reference": "SO-2026-0001", "iro": "Ian Reviewer"})
    async with teams.database.session() as session:
        kinds = (await session.scalars(select(models.Event.kind))).all()
        state = await session.scalar(select(models.Milestone.state).where(models.Milestone.key == "allocate_iro"))
    assert kinds == ["iro_allocated"] and state == "done"
    clock.set(datetime(2026, 12, 14, 10, 0, tzinfo=UTC))
    await teams.say("ian", "hello")
    reply = await teams.say("sam", "event SO-2026-0001 outcome B 10/12/2026")
    assert "Recorded for SO-2026-0001" in reply[-1]["text"] and "(B)" in reply[-1]["text"]
    async with teams.database.session() as session:
        outcome = await session.scalar(select(models.Event).where(models.Event.kind == "outcome"))
    assert outcome is not None and (outcome.value, outcome.occurred_on) == ("B", date(2026, 12, 10))
    missing = await teams.say("sam", "event SO-2026-0001 outcome 11/12/2026")
    assert "one of A, B" in missing[-1]["text"]


async def test_install_greets_and_remembers_the_conversation(teams: Teams, connector: RecordingConnector) -> None:
    added = teams.activity("sam", type="conversationUpdate", membersAdded=[{"id": "28:sobot"}])
    response = await teams.client.post("/api/messages", json=added)
    assert response.status in (200, 202)
    assert "Hello Sam Worker" in connector.sent[-1].text
    async with teams.database.session() as session:
        stored = await session.scalar(
            select(models.ConversationReference).where(models.ConversationReference.conversation_id == "a:personal-sam")
        )
    assert stored is not None and stored.kind == "personal" and stored.person_id is not None
    assert stored.reference["serviceUrl"] == connector.url and "activityId" not in stored.reference


async def test_a_channel_the_bot_is_added_to_is_not_greeted(teams: Teams, connector: RecordingConnector) -> None:
    added = teams.activity("una", "19:general@thread.tacv2", type="conversationUpdate",
                           membersAdded=[{"id": "28:sobot"}])  # fmt: skip
    response = await teams.client.post("/api/messages", json=added)
    assert response.status in (200, 202)
    assert connector.sent == [], "a greeting in a channel goes to the whole team"


async def test_a_user_without_an_entra_id_in_the_directory_is_matched_by_email(
    teams: Teams, connector: RecordingConnector
) -> None:
    # Ivy has no Entra object id in the directory: Teams' member lookup gives her email.
    ivy_email = "ivy.reviewer@example.gov.uk"
    connector.members["29:ivy"] = {"id": "29:ivy", "name": "Ivy Reviewer", "email": ivy_email,
                                   "userPrincipalName": ivy_email, "aadObjectId": "entra-ivy"}  # fmt: skip
    replies = await teams.say("ivy", "my orders")
    assert replies[-1]["text"] == "You have no open orders."
    async with teams.database.session() as session:
        ivy = await session.scalar(select(models.Person).where(models.Person.email == "ivy.reviewer@example.gov.uk"))
    assert ivy is not None and ivy.entra_id == "entra-ivy"  # remembered for next time


async def test_an_allocation_by_email_updates_the_teams_card_and_tells_both(
    teams: Teams, connector: RecordingConnector, tmp_path: Path
) -> None:
    from bot.app import BOT
    from mail.backends.maildir import MaildirMailbox
    from mail.poller import Notices, Poller

    await teams.say("una", "use this channel for allocations", CHANNEL)
    await teams.say("ian", "hello")
    await teams.say("sam", "hello")
    await teams.click("sam", "order.submit", NEW_ORDER)
    card_id = connector.to(CHANNEL)[-1].activity_id
    connector.clear()

    agent = teams.client.app[BOT].agent
    box = MaildirMailbox(tmp_path / "mailbox", "safeguarding.unit@example.gov.uk")
    reply = Path(__file__).parent.parent / "unit" / "mail_corpus" / "23_reply_chain_allocation_gmail_quoted.eml"
    raw = reply.read_bytes().replace(b"SO-2026-0007", b"SO-2026-0001").replace(b"priya.patel@", b"una.unit@")
    raw = raw.replace(b"Jane Smith\n\nThanks", b"Ian Reviewer\n\nThanks")
    mailbox.Maildir(box.root).add(mailbox.MaildirMessage(vouched(raw)))
    poller = Poller(agent.ctx, box, "safeguarding.unit@example.gov.uk", ["example.gov.uk"],
                    Notices(allocated=agent.announce_allocation), TRUST)  # fmt: skip
    report = await poller.poll_once()

    assert report.allocations == ["SO-2026-0001"]
    update = next(s for s in connector.sent if s.method == "PUT")
    assert update.activity_id == card_id and update.card is not None
    assert "Allocated to Ian Reviewer by Una Unit" in texts(update.card)
    told = {s.conversation_id: s.text for s in connector.sent if s.method == "POST"}
    assert "Ian Reviewer is the IRO for SO-2026-0001" in told["a:personal-sam"]
    assert "You are now the IRO for SO-2026-0001" in told["a:personal-ian"]


async def test_turns_and_proactive_sends_share_one_pair_of_outbound_clients(
    teams: Teams, connector: RecordingConnector
) -> None:
    from bot.app import BOT

    await teams.say("una", "use this channel for allocations", CHANNEL)
    for who in ("sam", "ian", "tess"):
        await teams.say(who, "help")
    await teams.click("sam", "order.submit", NEW_ORDER)  # posts the allocation card to the channel, proactively
    assert len(connector.to(CHANNEL)) == 2
    # One connector client and one user-token client, where the SDK alone would make two per turn.
    assert teams.client.app[BOT].messenger.factory.made == 2


OPEN = "Open in sobot"  # every card about an order links to its page


def buttons(card: dict[str, Any]) -> list[str]:
    """The titles of the buttons a person can press on a card (its refresh is no button)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Action."):
                found.append(node["title"])
            for key, value in node.items():
                if key != "refresh":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return found


async def test_allocation_cards_refresh_to_the_allocation_as_it_stands(
    teams: Teams, connector: RecordingConnector
) -> None:
    await teams.say("una", "use this channel for allocations", CHANNEL)
    await teams.say("sam", "hello")  # the social worker has a chat with the bot; the IRO not yet
    connector.clear()
    await teams.click("sam", "order.submit", NEW_ORDER)
    [posted] = connector.to(CHANNEL)
    assert posted.card is not None
    assert posted.card["refresh"]["userIds"] == ["29:sam"], "it refreshes for the people on the order"
    opened = posted.card["refresh"]["action"]
    assert opened["verb"] == "card.refresh"

    # Opened by the social worker: the card as it is, with no buttons but the link to the order; by the unit: the
    # IRO buttons.
    for_sam = await teams.click("sam", opened["verb"], opened["data"], CHANNEL)
    assert buttons(for_sam) == [OPEN] and "Waiting for the Safeguarding Unit" in texts(for_sam)
    for_una = await teams.click("una", opened["verb"], opened["data"], CHANNEL)
    assert "Ian Reviewer (0 open)" in buttons(for_una)
    # Someone in the channel not linked to the order learns no more of it than the card showed, and gets no button.
    for_ian = await teams.click("ian", opened["verb"], opened["data"], CHANNEL)
    assert buttons(for_ian) == [] and "You are not linked to SO-2026-0001" in texts(for_ian)
    assert "S.T." not in texts(for_ian) and "Sam Worker" not in texts(for_ian)

    await teams.say("ian", "hello")
    await teams.click("una", "order.allocate", {"reference": "SO-2026-0001", "iro": "ian.reviewer@example.gov.uk"},
                      CHANNEL)  # fmt: skip
    update = next(s for s in connector.sent if s.method == "PUT")
    assert update.card is not None and update.card["refresh"]["userIds"] == ["29:sam", "29:ian"]
    for_ian = await teams.click("ian", opened["verb"], opened["data"], CHANNEL)
    assert "Allocated to Ian Reviewer by Una Unit at 10:00 on 10 Mar 2026" in texts(for_ian)
    assert buttons(for_ian) == [OPEN]
    assert buttons(await teams.click("una", opened["verb"], opened["data"], CHANNEL)) == [
        "Reallocate to Ivy Reviewer (0 open)",
        OPEN,
    ]


async def test_reminder_cards_refresh_to_who_did_the_step_and_when(teams: Teams, clock: FixedClock) -> None:
    await teams.click("sam", "order.submit", NEW_ORDER)
    summary = {"card": "reminder", "reference": "SO-2026-0001", "step": "case_summary", "occurrence": 1}
    before = await teams.click("tess", "card.refresh", summary)
    assert "Mark done" in buttons(before) and "Due " in texts(before)
    assert before["refresh"]["userIds"] == ["29:tess"]
    await teams.click("tess", "step.acknowledge", summary)
    held = "Acknowledged: reminders pause until Tue 17 Mar 2026."
    assert held in texts(await teams.click("tess", "card.refresh", summary))
    assert held not in texts(await teams.click("sam", "card.refresh", summary)), "only one's own"

    stranger_to_it = await teams.click("ian", "card.refresh", summary)
    assert buttons(stranger_to_it) == [] and "You are not linked to SO-2026-0001" in texts(stranger_to_it)

    await teams.click("sam", "step.done", summary)
    after = await teams.click("tess", "card.refresh", summary)
    assert "Done on Tue 10 Mar 2026, recorded by Sam Worker." in texts(after)
    assert buttons(after) == [OPEN]


async def test_the_reminder_to_allocate_offers_the_iros_to_the_unit_only(teams: Teams) -> None:
    await teams.click("sam", "order.submit", NEW_ORDER)
    allocate = {"card": "reminder", "reference": "SO-2026-0001", "step": "allocate_iro", "occurrence": 1}
    for_una = await teams.click("una", "card.refresh", allocate)
    assert "Choose the IRO" in buttons(for_una) and "Mark done" not in buttons(for_una)
    chosen = await teams.click("una", "order.choose_iro", {"reference": "SO-2026-0001"})
    assert "Ian Reviewer (0 open)" in buttons(chosen)
    for_tess = await teams.click("tess", "card.refresh", allocate)
    assert "Choose the IRO" not in buttons(for_tess) and "Mark done" not in buttons(for_tess)
    refused = await teams.click("tess", "order.choose_iro", {"reference": "SO-2026-0001"})
    assert "Only members of the Safeguarding Unit" in texts(refused)
    await teams.click("una", "order.allocate", {"reference": "SO-2026-0001", "iro": "ivy.reviewer@example.gov.uk"})
    done = await teams.click("tess", "card.refresh", allocate)
    assert "Done on Tue 10 Mar 2026, recorded by Una Unit." in texts(done) and buttons(done) == [OPEN]


LONG = "x" * 10_000


def answered(replies: list[dict[str, Any]]) -> str:
    """Every sentence of what the bot answered: its text, and its cards' text (not the form's kept values)."""
    lines = [r.get("text") or "" for r in replies]
    for reply in replies:
        for attachment in reply.get("attachments") or []:
            lines.append(texts({k: v for k, v in attachment["content"].items() if k != "body"}))
            lines += [texts(block) for block in attachment["content"]["body"] if block["type"] == "TextBlock"]
    return "\n".join(lines)


@pytest.mark.parametrize(
    "line",
    [
        LONG,
        f"done SO-2026-0001 {LONG}",
        f"done SO-2026-0001 case summary 12/{LONG}/2026",
        f"event SO-2026-0001 {LONG} 12/03/2026",
        f"allocate SO-2026-0001 to {LONG}",
        f"extend SO-2026-0001 to {LONG}",
        f"order SO-2026-{'1' * 5000}",
        f"due next {'9' * 5000} days",
        f"allocate {LONG}",
    ],
)
async def test_a_line_of_any_length_is_answered_without_being_repeated_whole(teams: Teams, line: str) -> None:
    await teams.click("sam", "order.submit", NEW_ORDER)
    answer = answered(await teams.say("una", line))
    assert answer.strip() and "Something went wrong" not in answer
    assert "x" * 200 not in answer and "1" * 200 not in answer and "9" * 200 not in answer, answer[:300]
    assert len(answer) < 5_000


@pytest.mark.parametrize(
    ("verb", "data"),
    [
        ("step.done", {"reference": "SO-2026-0001", "step": LONG}),
        ("step.done_on", {"reference": "SO-2026-0001", "step": "case_summary", "done_on": LONG}),
        ("step.snooze", {"reference": "SO-2026-0001", "step": "case_summary", "days": "1" * 5000}),
        ("step.acknowledge", {"reference": "SO-2026-0001", "step": LONG}),
        ("order.allocate", {"reference": "SO-2026-0001", "iro": LONG}),
        ("order.allocate", {"reference": "SO-" + LONG, "iro": "ian.reviewer@example.gov.uk"}),
        ("card.refresh", {"card": LONG, "reference": "SO-2026-0001"}),
        ("card.refresh", {"card": "reminder", "reference": "SO-2026-0001", "step": LONG, "occurrence": 1}),
        ("order.choose_iro", {"reference": LONG}),
    ],
)
async def test_a_button_of_any_length_is_answered_without_being_repeated_whole(
    teams: Teams, verb: str, data: dict[str, Any]
) -> None:
    await teams.click("sam", "order.submit", NEW_ORDER)
    answer = texts(await teams.click("una", verb, data))
    assert answer.strip() and "Something went wrong" not in answer
    assert "x" * 200 not in answer and "1" * 200 not in answer, answer[:300]
    assert len(answer) < 5_000


@pytest.mark.parametrize("field", ["made", "child_local_id", "months", "last_day", "social_worker", "procedure"])
async def test_a_form_answer_of_any_length_is_kept_but_not_repeated_in_its_sentences(teams: Teams, field: str) -> None:
    form = await teams.click("sam", "order.submit", {**NEW_ORDER, field: "1" * 300 + LONG})
    sentences = "\n".join(texts(block) for block in form["body"] if block["type"] == "TextBlock")
    assert sentences.strip() and "x" * 200 not in sentences and "1" * 200 not in sentences, sentences[:300]
