"""One order reader for every channel: the same values give the same sentences by Teams, email and the CLI."""

from __future__ import annotations

import asyncio
import itertools
import mailbox
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from handlers import orders, people
from handlers.context import CLI, Actor, Context
from handlers.errors import InvalidInput
from handlers.views import OrderView
from mail.backends import NEEDS_ATTENTION, PROCESSED
from mail.backends.maildir import MaildirMailbox
from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.procedures import load_builtin
from sobot import cli_records
from sobot.app import Services, create_app
from sobot.cli import build_parser
from sobot.settings import load_settings
from storage import Database, models
from tests import mailing
from tests.cards import texts
from tests.connector import RecordingConnector
from tests.teams import Teams
from tests.vouching import vouched

STAFF = """name,email,roles,team,manager_email,entra_id
Tess Manager,tess.manager@example.gov.uk,team_manager,North,,entra-tess
Sam Worker,sam.worker@example.gov.uk,social_worker,North,tess.manager@example.gov.uk,entra-sam
Una Unit,una.unit@example.gov.uk,safeguarding_unit,Safeguarding Unit,,entra-una
Vic Other,vic.other@example.gov.uk,social_worker,West,,entra-vic
"""
UNIT = "safeguarding.unit@example.gov.uk"
SAM = "sam.worker@example.gov.uk"
MESSAGE_NUMBERS = itertools.count(1)
# Every channel is asked on Tuesday 10 March 2026.
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
GOOD = {"child_local_id": "C1", "child_name": "Jane Smith", "order_type": "supervision", "made": "03/03/2026"}
# The email's labels and the CLI's flags for each field the cases below fill in.
EMAIL_LABELS = {"child_local_id": "Child ID", "child_name": "Child name", "child_date_of_birth": "Date of birth",
                "order_type": "Order type", "made": "Date made", "months": "Length",
                "last_day": "Last day", "social_worker": "Social worker"}  # fmt: skip
CLI_FLAGS = {"child_local_id": "--child-id", "child_name": "--child-name", "child_date_of_birth": "--dob",
             "order_type": "--type", "made": "--made", "months": "--months", "last_day": "--last-day",
             "social_worker": "--social-worker"}  # fmt: skip

BAD = [
    ({"made": "2026-03-11"}, "Date made: 11 March 2026 is in the future: record an order once the court has made it"),
    ({"made": "1989-12-31"}, "Date made: the order was made before 1990 (31 December 1989): check the year."),
    ({"made": "0001-01-01"}, "Date made: the order was made before 1990 (01 January 0001): check the year."),
    ({"made": "9999-12-31"}, "Date made: 31 December 9999 is in the future"),
    ({"made": "31/02/2026"}, "Date made: '31/02/2026' is not a date (February 2026 has 28 days)."),
    ({"child_date_of_birth": "2008-03-02"}, "Date of birth: 02 March 2008 is more than 18 years before the order"),
    ({"child_date_of_birth": "0001-01-01"}, "Date of birth: 01 January 0001 is more than 18 years before the order"),
    ({"child_date_of_birth": "9999-12-31"}, "Date of birth: the child's date of birth is after the order was made"),
    ({"order_type": "s38"}, "Last day: an interim supervision order lasts as long as the court set: give its last day"),
    ({"order_type": "ISO"}, "Last day: an interim supervision order lasts as long as the court set: give its last day"),
    ({"order_type": "care order"}, "Order type: 'care order' is not a supervision order"),
    ({"months": "40"}, "Length: no order may run past three years: give a length of at most 36 months."),
    ({"last_day": "2026-03-01"}, "Last day: the last day (01 March 2026) is before the order commenced"),
    ({"social_worker": "Dev Sharma"}, "Social worker: there is no social worker called 'Dev Sharma' in the directory"),
    ({"social_worker": "sam.worker@"}, "Social worker: 'sam.worker@' is not an email address I can read"),
]  # fmt: skip


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def ctx(database: Database, clock: FixedClock) -> Context:
    context = Context(database, load_builtin(), WorkingCalendar(), clock, "wirral")
    await people.import_people(context, STAFF, CLI)
    return context


@pytest.fixture
async def teams(
    ctx: Context, database: Database, database_url: str, connector: RecordingConnector, clock: FixedClock
) -> AsyncIterator[Teams]:
    services = Services(load_settings({}, database_url=database_url), clock, database, load_builtin(),
                        WorkingCalendar())  # fmt: skip
    client = TestClient(TestServer(create_app(services, run_jobs=False, environ={})))
    await client.start_server()
    yield Teams(client, connector, database)
    await client.close()


@pytest.fixture
def box(tmp_path: Path) -> MaildirMailbox:
    return MaildirMailbox(tmp_path / "mailbox", UNIT)


async def by_teams(teams: Teams, values: dict[str, str]) -> str:
    card = await teams.click("sam", "order.submit", {"procedure": "wirral", **values})
    return texts(card)


async def by_email(ctx: Context, box: MaildirMailbox, values: dict[str, str]) -> str:
    before = len(box.sent())
    body = "".join(f"{EMAIL_LABELS[field]}: {value}\n" for field, value in values.items())
    raw = (f"From: Sam Worker <sam.worker@example.gov.uk>\nTo: {UNIT}\nSubject: New supervision order\n"
           f"Message-ID: <{next(MESSAGE_NUMBERS)}@example.gov.uk>\n\n{body}")  # fmt: skip
    mailbox.Maildir(box.root).add(mailbox.MaildirMessage(vouched(raw.encode())))
    await mailing.poller(ctx, box, UNIT, ["example.gov.uk"]).poll_once()
    [reply] = box.sent()[before:]
    text = reply.get_body(preferencelist=("plain",))
    assert text is not None
    return " ".join(str(text.get_content()).split())


async def by_cli(ctx: Context, values: dict[str, str]) -> str:
    args = ["orders", "new", *(item for field, value in values.items() for item in (CLI_FLAGS[field], value))]
    try:
        await cli_records.orders_new(ctx, build_parser().parse_args(args))
    except InvalidInput as error:
        return str(error)
    raise AssertionError("the CLI saved an order from bad values")


async def order_count(ctx: Context) -> int:
    async with ctx.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(models.Order)) or 0)


@pytest.mark.parametrize(("changes", "sentence"), BAD)
async def test_the_same_bad_values_get_the_same_sentence_by_every_channel(
    ctx: Context, teams: Teams, box: MaildirMailbox, changes: dict[str, str], sentence: str
) -> None:
    values = {**GOOD, **changes}
    answers = {"teams": await by_teams(teams, values), "email": await by_email(ctx, box, values),
               "cli": await by_cli(ctx, values)}  # fmt: skip
    for channel, answer in answers.items():
        assert sentence in answer, (channel, answer)
        assert "Traceback" not in answer
    assert await order_count(ctx) == 0


async def test_an_order_already_open_gets_its_reference_by_every_channel(
    ctx: Context, teams: Teams, box: MaildirMailbox, capsys: pytest.CaptureFixture[str]
) -> None:
    first = await orders.create_order(ctx, orders.NewOrder("C1", "Jane Smith", "supervision", NOW.date(),
                                                           social_worker_email=SAM), CLI)  # fmt: skip
    assert first.reference == "SO-2026-0001"
    again = {**GOOD, "made": "10 March 2026", "order_type": "Supervision Order"}
    sentence = ("Already recorded as SO-2026-0001: the supervision order for child ID C1 made on 10 March 2026 is "
                "open under that reference, so nothing new was saved.")  # fmt: skip
    assert sentence in await by_teams(teams, again)
    assert sentence in await by_email(ctx, box, again)
    capsys.readouterr()
    await cli_records.orders_new(ctx, build_parser().parse_args(
        ["orders", "new", "--child-id", "C1", "--child-name", "Jane Smith", "--made", "2026-03-10"]
    ))  # fmt: skip
    assert sentence in capsys.readouterr().out
    assert await order_count(ctx) == 1
    # Another type, or another day made, is another order; so is the same order once the first has ended.
    interim = await orders.create_order(ctx, orders.NewOrder("C1", "Jane Smith", "interim", NOW.date(), months=2), CLI)
    assert interim.reference == "SO-2026-0002"
    await orders.end_order(ctx, first.reference, "discharged", NOW.date(), CLI)
    assert (await orders.create_order(
        ctx, orders.NewOrder("C1", "Jane Smith", "supervision", NOW.date()), CLI
    )).reference == "SO-2026-0003"  # fmt: skip


async def test_a_repeated_order_by_email_is_answered_and_filed_not_sent_back(ctx: Context, box: MaildirMailbox) -> None:
    await orders.create_order(ctx, orders.NewOrder("C1", "Jane Smith", "supervision", NOW.date(),
                                                   social_worker_email=SAM), CLI)  # fmt: skip
    answer = await by_email(ctx, box, {**GOOD, "made": "10/03/2026"})
    assert "Already recorded as SO-2026-0001" in answer and "could not record" not in answer
    assert len(box.folder(PROCESSED)) == 1 and not box.folder(NEEDS_ATTENTION)


async def test_someone_not_linked_to_the_open_order_learns_its_reference_and_nothing_more(
    ctx: Context, teams: Teams
) -> None:
    await orders.create_order(ctx, orders.NewOrder("C1", "Jane Smith", "supervision", NOW.date(),
                                                   social_worker_email=SAM), CLI)  # fmt: skip
    answer = texts(await teams.click("vic", "order.submit", {"procedure": "wirral", **GOOD, "made": "10/03/2026",
                                                            "social_worker": "vic.other@example.gov.uk"}))  # fmt: skip
    assert "Already recorded as SO-2026-0001" in answer and "You are not linked to it" in answer
    # The form comes back with the sentence; nothing of the order itself (its social worker, say) is shown.
    assert "Save the order" in answer and "Sam Worker" not in answer
    assert await order_count(ctx) == 1


@pytest.mark.parametrize("written", ["s38", "S.38", "ISO", "interim supervision order", "Interim", "section 38 ISO"])
async def test_an_interim_order_is_read_the_same_however_it_is_written(
    ctx: Context, teams: Teams, written: str
) -> None:
    values = {**GOOD, "order_type": written, "last_day": "09/03/2026"}
    assert "Saved SO-2026-0001" in await by_teams(teams, values)
    assert (await orders.get_order(ctx, "SO-2026-0001", CLI)).order_type == "interim_supervision"


async def test_the_same_order_from_two_channels_at_once_is_one_order(ctx: Context) -> None:
    new = orders.NewOrder(
        "C1", "Jane Smith", "supervision", NOW.date(), social_worker_email="sam.worker@example.gov.uk"
    )
    by_mail = Actor("Sam Worker", "sam.worker@example.gov.uk")
    results = await asyncio.gather(
        orders.create_order(ctx, new, CLI), orders.create_order(ctx, replace(new, form_id="f1"), by_mail),
        return_exceptions=True,
    )  # fmt: skip
    saved = [r for r in results if isinstance(r, OrderView)]
    repeated = [r for r in results if isinstance(r, orders.AlreadyRecorded)]
    assert len(saved) == 1 and len(repeated) == 1, results
    assert repeated[0].view.reference == saved[0].reference
    assert await order_count(ctx) == 1
