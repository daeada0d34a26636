"""The dashboard as people use it, in headless Chromium against `sobot serve` in local mode: choose who you are,
filter the caseload, open an order and read its timeline, record a step done, allocate as the unit, be refused as a
social worker on someone else's order, export the tracker and read it back; and axe-core on every page, at a Teams
tab's widths, in the light and dark themes and with forced colours (high contrast).

With SOBOT_SCREENSHOTS set to a folder, the caseload and an order are saved there as pictures (the README's).
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from openpyxl import load_workbook
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from handlers import absences, orders, people
from handlers.context import CLI
from sobot.app import build_services
from sobot.settings import load_settings
from storage import upgrade
from tests.conftest import run_apart
from tests.e2e import browser, dashboard
from tests.e2e.conftest import free_port, serving
from tests.web import SECRET, STAFF

LONDON = ZoneInfo("Europe/London")
TODAY = date.today()
MADE = TODAY - timedelta(days=90)  # its first steps are overdue by now
SHOWN_WITHIN = 30.0
SCREENSHOTS = Path(os.environ["SOBOT_SCREENSHOTS"]) if os.environ.get("SOBOT_SCREENSHOTS") else None


async def _seed(env: dict[str, str]) -> None:
    await upgrade(env["SOBOT_DATABASE_URL"])
    services = build_services(load_settings(env))
    ctx = services.context()
    try:
        await people.import_people(ctx, STAFF, CLI)
        await orders.create_order(ctx, orders.NewOrder("C1", "Jane Mary Smith", "supervision", MADE,
                                                       social_worker_email="sam@example.gov.uk"), CLI)  # fmt: skip
        await absences.record_absence(
            ctx, CLI, "ian@example.gov.uk", TODAY + timedelta(days=1), TODAY + timedelta(days=10), "Ivy Reviewer"
        )
        await orders.create_order(ctx, orders.NewOrder("C2", "Tom Brown", "supervision", TODAY - timedelta(days=5),
                                                       procedure="camden", social_worker_email="sue@example.gov.uk"),
                                  CLI)  # fmt: skip
    finally:
        await services.database.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`sobot serve` in local mode on a free loopback port, with two orders: its address."""
    folder = tmp_path_factory.mktemp("dashboard")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBOT_", "CONNECTIONS__"))}
    port = free_port()
    env.update({"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'sobot.db'}", "SOBOT_PORT": str(port),
                "SOBOT_MAILBOX_DIR": str(folder / "mailbox"), "SOBOT_DISPATCH_INTERVAL_SECONDS": "86400",
                "SOBOT_WEB_SESSION_SECRET": SECRET})  # fmt: skip
    run_apart(lambda: _seed(env))
    with serving(env):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def driver(downloads: Path) -> Iterator[WebDriver]:
    browser.required()
    with dashboard.chromium(downloads) as chromium:
        dashboard.emulate(chromium, 1024)
        yield chromium


def wait(driver: WebDriver) -> browser.PageWait:
    # A page being replaced leaves elements stale mid-read: read again, from the new page.
    return browser.PageWait(driver, SHOWN_WITHIN)


def be(driver: WebDriver, site: str, name: str) -> None:
    """Choose, on local mode's page, to be the directory's person called `name`."""
    driver.get(f"{site}/local/choose?next=/caseload")
    assert "Local mode:" in driver.find_element(By.CSS_SELECTOR, ".banner").text
    choice = Select(driver.find_element(By.ID, "person"))
    [wanted] = [o for o in choice.options if o.text.startswith(name + " (")]
    choice.select_by_visible_text(wanted.text)
    driver.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.caseload"))
    assert f"Signed in as {name}" in driver.find_element(By.CSS_SELECTOR, ".who").text


def notice(driver: WebDriver) -> str:
    """What the page said of the form just sent: its notice when done, else the whole page's words, to fail on."""
    found = wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".notice"))
    if "refused" in (found[0].get_attribute("class") or "") or "error" in (found[0].get_attribute("class") or ""):
        raise AssertionError(driver.find_element(By.TAG_NAME, "main").text)
    return str(found[0].text)


def rows(driver: WebDriver) -> list[str]:
    return [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table.caseload tbody th a")]


def reference(offset: int = 1) -> str:
    return f"SO-{TODAY.year}-{offset:04d}" if MADE.year == TODAY.year else f"SO-{MADE.year}-{offset:04d}"


def test_the_unit_filters_the_caseload_and_opens_an_order(driver: WebDriver, site: str) -> None:
    be(driver, site, "Una Unit")
    assert len(rows(driver)) == 2
    Select(driver.find_element(By.ID, "team")).select_by_visible_text("North")
    driver.find_element(By.XPATH, "//button[.='Show these orders']").click()
    wait(driver).until(lambda d: len(rows(d)) == 1)
    [first] = rows(driver)
    line = driver.find_element(By.CSS_SELECTOR, "table.caseload tbody tr").text
    assert "J.M.S." in line and "Sam Worker" in line and "overdue" in line, line
    assert "Jane" not in driver.page_source, "the unit is not linked to the order: initials only"
    if SCREENSHOTS is not None:
        driver.get(f"{site}/caseload")
        driver.save_screenshot(str(SCREENSHOTS / "dashboard-caseload.png"))
        driver.get(f"{site}/caseload?team=North")
    driver.find_element(By.LINK_TEXT, first).click()
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg.timeline"))
    assert driver.find_element(By.TAG_NAME, "h1").text == f"Order {first}"


def test_the_timeline_reads_as_marks_with_words(driver: WebDriver, site: str) -> None:
    be(driver, site, "Sam Worker")
    driver.get(f"{site}/orders/{reference()}")
    titles = [t.get_attribute("textContent") or "" for t in
              driver.find_elements(By.CSS_SELECTOR, "svg.timeline g.mark > title")]  # fmt: skip
    assert any(t.startswith("Tell the Safeguarding Unit") and t.endswith(", overdue") for t in titles), titles
    assert driver.find_elements(By.CSS_SELECTOR, "svg.timeline g.mark-overdue polygon"), "overdue is a triangle"
    today = driver.find_element(By.XPATH, "//*[local-name()='svg']//*[local-name()='title'][starts-with(., 'Today')]")
    assert today.get_attribute("textContent") == f"Today, {TODAY:%d %B} {TODAY.year}"
    assert "Jane Mary Smith" in driver.find_element(By.CSS_SELECTOR, ".facts").text, "Sam is its social worker"
    if SCREENSHOTS is not None:
        driver.save_screenshot(str(SCREENSHOTS / "dashboard-order.png"))


def test_the_social_worker_records_a_step_done(driver: WebDriver, site: str) -> None:
    be(driver, site, "Sam Worker")
    driver.get(f"{site}/orders/{reference()}")
    Select(driver.find_element(By.ID, "step-key")).select_by_value("case_summary")
    done_on = TODAY - timedelta(days=1)
    dashboard.type_date(driver, driver.find_element(By.ID, "step-on"), done_on)
    driver.find_element(By.XPATH, "//button[.='Record done']").click()
    said = notice(driver)
    assert said.startswith("Recorded: Rewrite the case summary"), said
    step = driver.find_element(By.XPATH, "//tr[th[starts-with(., 'Rewrite the case summary')]]").text
    assert f"Done {done_on:%d %B} {done_on.year}" in step


def test_the_unit_allocates_an_iro(driver: WebDriver, site: str) -> None:
    be(driver, site, "Una Unit")
    driver.get(f"{site}/orders/{reference()}")
    Select(driver.find_element(By.ID, "allocate-iro")).select_by_visible_text("Ian Reviewer")
    driver.find_element(By.XPATH, "//button[.='Allocate']").click()
    assert notice(driver) == f"Ian Reviewer is now the IRO for {reference()}."
    assert "Ian Reviewer" in driver.find_element(By.CSS_SELECTOR, ".facts").text


def test_a_social_worker_records_their_absence_and_who_covers(driver: WebDriver, site: str) -> None:
    be(driver, site, "Sam Worker")
    driver.find_element(By.LINK_TEXT, "Absences").click()
    wait(driver).until(lambda d: d.find_elements(By.ID, "away-first"))
    assert [o.text for o in Select(driver.find_element(By.ID, "away-person")).options] == ["Sam Worker"]
    first, last = TODAY + timedelta(days=14), TODAY + timedelta(days=20)
    dashboard.type_date(driver, driver.find_element(By.ID, "away-first"), first)
    dashboard.type_date(driver, driver.find_element(By.ID, "away-last"), last)
    Select(driver.find_element(By.ID, "away-cover")).select_by_visible_text("Sue South")
    driver.find_element(By.XPATH, "//button[.='Record the absence']").click()
    said = notice(driver)
    assert said.startswith("Recorded: Sam Worker is away ") and said.endswith("; Sue South covers."), said
    assert "Sue South" in driver.find_element(By.XPATH, "//tr[th[.='Sam Worker']]").text


def test_a_social_worker_is_refused_someone_elses_order(driver: WebDriver, site: str) -> None:
    be(driver, site, "Sue South")
    assert rows(driver) == [reference(2)]
    driver.get(f"{site}/orders/{reference()}")
    alert = driver.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert alert.text.startswith(f"You are not linked to {reference()}")
    assert "J.M.S." not in driver.page_source and "Jane" not in driver.page_source


def test_the_tracker_exports_as_xlsx_and_reads_back(driver: WebDriver, site: str, downloads: Path) -> None:
    be(driver, site, "Lena Legal")
    driver.find_element(By.LINK_TEXT, "Excel (XLSX)").click()
    name = f"sobot-caseload-{TODAY.isoformat()}.xlsx"
    wait(driver).until(lambda _: (downloads / name).exists() and (downloads / name).stat().st_size > 0)
    sheet = load_workbook(downloads / name)["Caseload"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0][:3] == ["Reference", "Child", "Type"]
    assert sorted(row[0] for row in values[1:]) == [reference(), reference(2)]
    assert {row[1] for row in values[1:]} == {"J.M.S.", "T.B."}


def test_a_social_worker_makes_a_calendar_link_that_a_calendar_can_read(driver: WebDriver, site: str) -> None:
    be(driver, site, "Sam Worker")
    driver.find_element(By.LINK_TEXT, "My calendar").click()
    wait(driver).until(lambda d: d.find_elements(By.XPATH, "//button[.='Make my calendar link']")).pop().click()
    field = wait(driver).until(lambda d: d.find_elements(By.ID, "feed-link")).pop()
    link = str(field.get_attribute("value"))
    assert link.startswith(f"{site}/calendar/") and link.endswith(".ics"), link
    assert dashboard.blocking(dashboard.violations(driver)) == [], "the page with the new link"
    # What Outlook does: read the address, with no cookie and nobody signed in.
    with urllib.request.urlopen(link, timeout=SHOWN_WITHIN) as answer:
        assert answer.headers.get_content_type() == "text/calendar"
        calendar = icalendar.Calendar.from_ical(answer.read())
    summaries = [str(event["summary"]) for event in calendar.walk("VEVENT")]
    assert summaries and all(f"{reference()} (J.M.S.): " in s for s in summaries), summaries
    listed = driver.find_elements(By.CSS_SELECTOR, "table tbody th")
    assert len(listed) == len(summaries), "the page lists what the feed holds"


# Every page, as someone who would see it: (person, path).
PAGES = [
    (None, "/local/choose"),
    ("Una Unit", "/caseload"),
    ("Una Unit", "/caseload?due_within=ten"),  # a filter it cannot use, named beside its field
    ("Una Unit", "/orders/{first}"),  # with the forms of the unit
    ("Sam Worker", "/orders/{first}"),
    ("Sue South", "/orders/{first}"),  # refused
    ("Una Unit", "/absences"),  # with an absence listed, and its form
    ("Sam Worker", "/calendar"),
]
MODES = [(320, False, False), (1024, False, False), (320, True, False), (1024, True, False), (1024, False, True),
         (320, False, True)]  # fmt: skip


@pytest.mark.parametrize(
    ("width", "dark", "forced"),
    MODES,
    ids=[f"{w}px{'-dark' if d else ''}{'-forced-colours' if f else ''}" for w, d, f in MODES],
)
def test_no_page_has_a_serious_accessibility_problem(driver: WebDriver, site: str, width: int, dark: bool,
                                                     forced: bool) -> None:  # fmt: skip
    dashboard.emulate(driver, width, dark=dark, forced_colours=forced)
    try:
        problems = []
        for person, path in PAGES:
            if person is not None:
                be(driver, site, person)
            driver.get(site + path.format(first=reference()))
            problems += [f"{path} as {person}: {p}" for p in dashboard.blocking(dashboard.violations(driver))]
            wide = driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth + 1")
            if wide:
                problems.append(f"{path} as {person}: the page scrolls sideways at {width} px")
        assert problems == [], "\n".join(problems)
    finally:
        dashboard.emulate(driver, 1024)
