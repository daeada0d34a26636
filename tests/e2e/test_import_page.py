"""The import page as the Safeguarding Unit uses it, in headless Chromium against `sobot serve` in local mode: upload
the council's spreadsheet, watch the dry run finish, read it, import the good rows, and confirm a step the import
brought in; axe-core on each page, at a Teams tab's narrow width and at a desktop's, light and dark."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from handlers import people
from handlers.context import CLI
from rules.procedures import load_builtin
from sobot.app import build_services
from sobot.settings import load_settings
from storage import upgrade
from tests.caseload_sheet import STAFF, caseload
from tests.conftest import run_apart
from tests.e2e import browser, dashboard
from tests.e2e.conftest import free_port, serving
from tests.web import SECRET

SHOWN_WITHIN = 60.0
# The server runs on the real clock: the sheet is made for the day it runs, in London.
TODAY = datetime.now(ZoneInfo("Europe/London")).date()


async def _seed(env: dict[str, str]) -> None:
    await upgrade(env["SOBOT_DATABASE_URL"])
    services = build_services(load_settings(env))
    try:
        await people.import_people(services.context(), STAFF, CLI)
    finally:
        await services.database.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`sobot serve` in local mode on a free loopback port, with the directory and no orders; and the spreadsheet."""
    folder = tmp_path_factory.mktemp("imports")
    sheet = folder / "legal-tracker.csv"
    sheet.write_bytes(caseload(load_builtin(), TODAY, count=30).csv())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBOT_", "CONNECTIONS__"))}
    port = free_port()
    env.update({"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'sobot.db'}", "SOBOT_PORT": str(port),
                "SOBOT_MAILBOX_DIR": str(folder / "mailbox"), "SOBOT_DISPATCH_INTERVAL_SECONDS": "86400",
                "SOBOT_WEB_SESSION_SECRET": SECRET})  # fmt: skip
    run_apart(lambda: _seed(env))
    with serving(env):
        yield f"http://127.0.0.1:{port}", sheet


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    browser.required()
    with dashboard.chromium(tmp_path_factory.mktemp("downloads")) as chromium:
        dashboard.emulate(chromium, 1024)
        yield chromium


def wait(driver: WebDriver) -> browser.PageWait:
    return browser.PageWait(driver, SHOWN_WITHIN)


def shown(driver: WebDriver, element_id: str) -> None:
    """Wait for the element to be on the page; if it never is, fail with what the page says instead."""
    try:
        wait(driver).until(lambda d: d.find_elements(By.ID, element_id))
    except TimeoutException:
        raise AssertionError(f"{driver.current_url}: {driver.find_element(By.TAG_NAME, 'body').text}") from None


def accessible(driver: WebDriver, what: str) -> None:
    """No serious axe-core problem on the page shown, at a Teams tab's width and a desktop's, light and dark."""
    problems = []
    try:
        for width, dark in ((320, False), (1024, True), (1024, False)):
            dashboard.emulate(driver, width, dark=dark)
            problems += [f"{what} at {width} px: {p}" for p in dashboard.blocking(dashboard.violations(driver))]
    finally:
        dashboard.emulate(driver, 1024)
    assert problems == [], "\n".join(problems)


def test_the_unit_imports_the_councils_spreadsheet(driver: WebDriver, site: tuple[str, Path]) -> None:
    address, sheet = site
    driver.get(f"{address}/local/choose?next=/imports")
    choice = Select(driver.find_element(By.ID, "person"))
    [una] = [o for o in choice.options if o.text.startswith("Una Unit (")]
    choice.select_by_visible_text(una.text)
    driver.find_element(By.CSS_SELECTOR, "form.form button[type=submit]").click()
    wait(driver).until(lambda d: "Signed in as Una Unit" in d.find_element(By.CSS_SELECTOR, ".who").text)
    driver.get(f"{address}/imports")
    assert "Nothing to confirm." in driver.find_element(By.TAG_NAME, "main").text
    accessible(driver, "the import page")

    driver.find_element(By.ID, "sheet").send_keys(str(sheet))
    driver.find_element(By.XPATH, "//button[normalize-space()='Check it (dry run)']").click()
    # The progress page's script shows the preview once the dry run is done.
    shown(driver, "rows-caption")
    main = driver.find_element(By.TAG_NAME, "main").text
    assert "Dry run of legal-tracker.csv: 30 new orders, 0 updated, 0 unchanged, 6 rows with problems" in main
    assert "0 escalations" in main and "is not a date (February 2026 has 28 days)" in main
    accessible(driver, "the dry run")

    driver.find_element(By.NAME, "skip_bad").click()
    driver.find_element(By.XPATH, "//button[normalize-space()='Import legal-tracker.csv']").click()
    wait(driver).until(lambda d: "Imported legal-tracker.csv" in d.find_element(By.TAG_NAME, "main").text)
    assert "30 new orders" in driver.find_element(By.CSS_SELECTOR, ".notice").text
    accessible(driver, "the import done")

    driver.get(f"{address}/imports")
    caption = driver.find_element(By.ID, "to-confirm-caption").text
    accessible(driver, "the checklist")
    before = int(caption.split()[0])
    driver.find_element(By.CSS_SELECTOR, "#to-confirm ~ .table-wrap tbody tr th a, .table-wrap tbody th a").click()
    wait(driver).until(lambda d: d.find_elements(By.ID, "confirm-step"))
    accessible(driver, "an imported order's page")
    Select(driver.find_element(By.ID, "confirm-step")).select_by_index(1)
    driver.find_element(By.XPATH, "//button[normalize-space()='Confirm outstanding']").click()
    found = wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".notice"))
    assert found[0].text.startswith("Confirmed outstanding:"), driver.find_element(By.TAG_NAME, "main").text
    driver.get(f"{address}/imports")
    after = driver.find_element(By.ID, "to-confirm-caption").text if before > 1 else "0 steps"
    assert int(after.split()[0]) == before - 1
