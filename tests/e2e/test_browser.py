"""The cards as people see them: the Playground's web page in headless Chromium, typed into and clicked.

The API-level test cannot see what only the Adaptive Cards renderer decides (a blank number box that shows 0 and
stops its form from being sent); these tests type and click where a person would. With SOBOT_SCREENSHOTS set to a
folder, each card is also saved there as a picture (`make screenshots` makes the README's).

A card's refresh (the allocation and reminder cards' user-specific views) is not tried here: the Playground does
not run refreshes ("User specific view is not supported yet", its log says), so the refresh's invoke is tested
against the bot itself (tests/integration/test_teams.py).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from rules.calendar import WorkingCalendar
from rules.clock import FixedClock
from rules.dates import add_months
from sobot.app import build_sobot
from sobot.settings import load_settings
from tests.e2e import browser
from tests.e2e.conftest import Bot

LONDON = ZoneInfo("Europe/London")
# Made three months back: the order is open, and its first steps are already overdue.
MADE = datetime.now(LONDON).date() - timedelta(days=90)
LAST_DAY = add_months(MADE, 12) - timedelta(days=1)
# The date picker reads a typed day as JavaScript's Date.parse does, month first whatever the locale; it then
# shows the day with the month by name.
MADE_TYPED = f"{MADE:%m/%d/%Y}"
MADE_SHOWN = f"{MADE:%B} {MADE.day}, {MADE.year}"
SCREENSHOTS = Path(os.environ["SOBOT_SCREENSHOTS"]) if os.environ.get("SOBOT_SCREENSHOTS") else None


def picture(page: browser.PlaygroundPage, card: object, name: str) -> None:
    if SCREENSHOTS is not None:
        page.screenshot(card, SCREENSHOTS / name)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def driver() -> Iterator[browser.webdriver.Chrome]:
    browser.required()
    with browser.chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def unit_channel(driver: browser.webdriver.Chrome, playground_port: int) -> None:
    """The Playground's General channel, made the unit's allocation channel as a unit member does it: in the
    channel's page, @mentioning the bot from the list that typing @ opens."""
    page = browser.PlaygroundPage(driver, f"http://127.0.0.1:{playground_port}/")
    page.open_chat("My Team - General")
    page.say("use this channel for allocations", mention=browser.BOT)
    assert "now gets" in page.message('This channel now gets an "Allocate an IRO" card').text


@pytest.fixture
def page(driver: browser.webdriver.Chrome, playground_port: int, unit_channel: None) -> browser.PlaygroundPage:
    return browser.PlaygroundPage(driver, f"http://127.0.0.1:{playground_port}/")


def test_a_blank_form_is_filled_in_saved_and_allocated_by_clicking_an_iro(page: browser.PlaygroundPage) -> None:
    page.open_chat("Personal Chat")
    page.say("new order")
    form = page.card("New Supervision Order")
    length = page.field(form, "Length in months")
    assert length.get_attribute("value") == "", "a blank length must show blank, not 0"
    assert "* *" not in form.text, "a required field's label is starred once"
    page.type_into(form, "Child's local ID", "C77")
    page.type_into(form, "Child's name", "Sam Taylor")
    page.type_into(form, "Date made", MADE_TYPED)
    assert page.field(form, "Date made").get_attribute("value") == MADE_SHOWN
    page.type_into(form, "Court", "Leeds Family Court")
    picture(page, form, "new-order-form.png")
    page.press(form, "Save the order")

    summary = page.card("Saved SO-")
    reference = re.search(r"SO-\d{4}-\d{4}", summary.text)
    assert reference is not None
    assert "S.T." in summary.text and "Sam Taylor" not in summary.text, "the card names the child by initials"
    assert f"{LAST_DAY:%a %d %b %Y}" in summary.text, "a blank length is a year beginning with the day made"
    picture(page, summary, "order-summary.png")

    page.open_chat("My Team - General")
    request = page.card(f"Allocate an IRO: {reference.group(0)}")
    assert "Megan Bowen (0 open)" in page.buttons(request)
    picture(page, request, "allocation-request.png")
    page.press(request, "Megan Bowen (0 open)")
    allocated = page.card(f"{reference.group(0)}: IRO allocated")
    assert "Allocated to Megan Bowen by Alex Wilber" in allocated.text


def next_working_morning(after: datetime) -> datetime:
    """10:00 in London on the first working day whose 10:00 is after `after`: inside working hours."""
    calendar = WorkingCalendar()
    day = after.astimezone(LONDON).date()
    while True:
        at = datetime.combine(day, time(10), LONDON)
        if calendar.is_working_day(day) and at > after:
            return at.astimezone(UTC)
        day += timedelta(days=1)


def dispatch(bot: Bot, at: datetime) -> int:
    """One turn of the dispatch job on the bot's own records, on a clock set to `at`: how many notices went out."""

    async def once() -> int:
        sobot = build_sobot(load_settings(bot.env), clock=FixedClock(at), environ=bot.env, run_jobs=False)
        try:
            _, report = await sobot.dispatch()
            return int(report.sent.get("teams", 0))
        finally:
            await sobot.close()

    return asyncio.run(once())


def test_a_reminder_card_is_snoozed_and_marked_done_by_its_buttons(page: browser.PlaygroundPage, bot: Bot) -> None:
    page.open_chat("Personal Chat")
    page.say("new order")
    form = page.card("New Supervision Order")
    page.type_into(form, "Child's local ID", "C88")
    page.type_into(form, "Child's name", "Robin Lee")
    page.type_into(form, "Date made", MADE_TYPED)
    page.press(form, "Save the order")
    reference = re.search(r"SO-\d{4}-\d{4}", page.card("R.L.").text)
    assert reference is not None

    # Made months back, the order's early steps are overdue: the next dispatch in working hours reminds Alex.
    assert dispatch(bot, next_working_morning(datetime.now(UTC))) > 0
    reminder = page.card(f"{reference.group(0)} (R.L.)")
    assert {"Mark done", "Done on a date", "Acknowledge", "Snooze"} <= set(page.buttons(reminder))
    picture(page, reminder, "reminder.png")
    step = reminder.text.splitlines()[0].split(": ", 1)[1]

    page.press(reminder, "Snooze")
    page.press(reminder, "1 working day")
    assert f"Snoozed: {step} on {reference.group(0)}" in page.card("Snoozed:").text

    other = [card for card in page.cards() if f"{reference.group(0)} (R.L.)" in card.text and "Mark done" in card.text]
    assert other, "the order has more than one overdue step, each with its own card"
    title = other[-1].text.splitlines()[0].split(": ", 1)[1]
    page.press(other[-1], "Mark done")
    done = page.card(f"Recorded: {title}")
    assert reference.group(0) in done.text
