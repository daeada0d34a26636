"""The oversight page in a real browser (Debian's headless Chromium): chosen as a Head of Service in local mode, its
charts are drawn, named for screen readers and in the page's text colour in the light, dark and forced-colours
themes; the team manager's view is their team's; Legal finds the orders ending soon and their decisions, and
follows them into the caseload. The picture of it in docs/screenshots comes from here."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from storage import Database, upgrade
from tests.e2e import browser
from tests.e2e import dashboard as in_browser
from tests.oversight_orders import STAFF, TODAY, add_orders
from tests.web import dashboard

SCREENSHOTS = Path(os.environ["SOBOT_SCREENSHOTS"]) if os.environ.get("SOBOT_SCREENSHOTS") else None


class Served:
    """The whole service's web app in local mode on a loopback port, its clock stopped on the fixture's day, run on
    an event loop of its own in a thread while the browser is driven from the test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = f"sqlite+aiosqlite:///{folder / 'sobot.db'}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.stack = AsyncExitStack()
        self.port = 0

    def run(self, work: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=120)

    async def _start(self) -> int:
        await upgrade(self.url)
        database = Database.from_url(self.url)
        self.stack.push_async_callback(database.dispose)
        made = await self.stack.enter_async_context(dashboard(database, self.url, TODAY, self.folder / "mail", STAFF))
        await add_orders(made.ctx)
        port: int = made.client.server.port  # type: ignore[union-attr]
        return port

    def __enter__(self) -> Served:
        self.thread.start()
        self.port = self.run(self._start())
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self.run(self.stack.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with Served(tmp_path_factory.mktemp("oversight")) as running:
        yield running


@pytest.fixture(scope="module")
def driver() -> Iterator[browser.webdriver.Chrome]:
    browser.required()
    with browser.chromium() as chromium:
        yield chromium


def be(driver: browser.webdriver.Chrome, served: Served, name: str, then: str = "/oversight") -> None:
    """Choose, on local mode's page, to be this directory person, and go on to `then`."""
    driver.get(f"http://127.0.0.1:{served.port}/local/choose?next={then}")

    def chosen(d: browser.webdriver.Chrome) -> bool:
        try:
            choice = Select(d.find_element(By.ID, "person"))
            choice.select_by_visible_text(next(o.text for o in choice.options if o.text.startswith(name + " (")))
        except WebDriverException:  # the page was still being laid out anew (a theme or width just changed)
            return False
        return True

    WebDriverWait(driver, browser.SHOWN_WITHIN).until(chosen)
    button = driver.find_element(By.CSS_SELECTOR, "form.form button[type=submit]")
    button.click()
    # The choosing page is gone once its button is; then the page asked for has its heading. A node read while the
    # next page replaces the document belongs to neither: that read is tried again, not taken as an answer.
    settling = WebDriverWait(driver, browser.SHOWN_WITHIN, ignored_exceptions=(WebDriverException,))
    settling.until(staleness_of(button))
    settling.until(lambda d: d.find_element(By.TAG_NAME, "h1").text != "")


def theme(driver: browser.webdriver.Chrome, **features: str) -> None:
    """Emulate the user's theme: prefers-color-scheme (Teams' dark) and forced-colors (its high contrast)."""
    wanted = [{"name": name.replace("_", "-"), "value": value} for name, value in features.items()]
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": wanted})


CHART_COLOURS = """
const body = getComputedStyle(document.body).color;
return [...document.querySelectorAll('svg[role=img]')].map(svg => ({
  name: svg.querySelector('title').textContent,
  described: svg.querySelector('desc').textContent.length,
  height: svg.getBoundingClientRect().height,
  text: getComputedStyle(svg.querySelector('text')).fill,
  bar: getComputedStyle(svg.querySelector('rect')).fill,
  body,
}));
"""


def test_a_head_of_service_reads_the_charts_in_every_theme(driver: browser.webdriver.Chrome, served: Served) -> None:
    be(driver, served, "Hana Head")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Oversight"
    assert driver.find_element(By.CSS_SELECTOR, "nav a[aria-current=page]").text == "Oversight"
    for features in ({"prefers_color_scheme": "light"}, {"prefers_color_scheme": "dark"},
                     {"forced_colors": "active", "prefers_color_scheme": "dark"}):  # fmt: skip
        theme(driver, **features)
        charts = driver.execute_script(CHART_COLOURS)
        assert [c["name"] for c in charts] == [
            "Steps done on time, by team", "Steps done on time, by procedure",
            "Working days from order made to IRO allocated", "Overdue steps by how long they have waited",
            "Orders ending in the next 3 months: is their decision recorded?",
        ], features  # fmt: skip
        for chart in charts:
            assert chart["described"] > 40 and chart["height"] > 50, chart
            assert chart["text"] == chart["bar"] == chart["body"], (features, chart)
        if features.get("prefers_color_scheme") == "dark" and "forced_colors" not in features:
            assert charts[0]["body"] != "rgb(27, 27, 27)", "the dark theme's text is light"
    theme(driver)
    row = driver.find_element(By.XPATH, "//caption[text()='Steps done on time, by team']/..//tbody/tr[1]")
    assert row.text.split() == ["North", "8", "2", "25.0%"]
    # At a narrow Teams tab's width each chart keeps its size (its words readable) and scrolls sideways (keyboard too).
    driver.set_window_size(400, 900)
    narrow = driver.execute_script(
        "return [...document.querySelectorAll('figure.chart')].map(f => [f.tabIndex, f.scrollWidth > f.clientWidth,"
        " f.querySelector('svg').getBoundingClientRect().width])"
    )
    assert narrow == [[0, True, 900]] * 5, narrow
    if SCREENSHOTS is not None:
        driver.set_window_size(1280, 3500)
        driver.save_screenshot(str(SCREENSHOTS / "oversight.png"))


def test_a_team_manager_narrows_by_procedure_within_their_team(
    driver: browser.webdriver.Chrome, served: Served
) -> None:
    be(driver, served, "Tess Manager")
    assert "North (yours)" in driver.find_element(By.CSS_SELECTOR, "form.filters").text
    Select(driver.find_element(By.ID, "procedure")).select_by_value("wirral")
    button = driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]")
    button.click()
    WebDriverWait(driver, browser.SHOWN_WITHIN).until(staleness_of(button))
    assert "procedure=wirral" in driver.current_url
    rows = driver.find_elements(By.XPATH, "//caption[text()='Steps done on time, by procedure']/..//tbody/tr")
    assert [r.text for r in rows] == ["Wirral Supervision Order procedure 7 1 14.3%"]


def test_legal_finds_the_orders_ending_soon_and_their_decisions_then_opens_them_in_the_caseload(
    driver: browser.webdriver.Chrome, served: Served
) -> None:
    be(driver, served, "Lee Legal")
    decisions = driver.find_elements(By.XPATH, "//caption[@id='ending-decisions-table']/..//tbody/tr")
    counts = {row.find_element(By.TAG_NAME, "th").text: int(row.find_element(By.TAG_NAME, "td").text)
              for row in decisions}  # fmt: skip
    assert set(counts) == {"Recorded", "Not recorded", "The procedure names none"}
    ending = sum(counts.values())
    assert ending > 0, "the fixture's orders include some ending within three months"
    link = driver.find_element(By.LINK_TEXT, "See every order ending by then in the caseload")
    link.click()
    WebDriverWait(driver, browser.SHOWN_WITHIN).until(staleness_of(link))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Caseload"
    count = driver.find_element(By.ID, "count").text
    assert count.startswith(f"{ending} order"), count
    rows = driver.find_elements(By.CSS_SELECTOR, "table.caseload tbody tr")
    assert len(rows) == ending or (": page 1 of" in count and len(rows) < ending), (count, len(rows))


def test_a_social_worker_is_refused_and_not_shown_the_way_in(driver: browser.webdriver.Chrome, served: Served) -> None:
    be(driver, served, "Sam Worker", then="/caseload")
    assert driver.find_elements(By.CSS_SELECTOR, "nav a[href='/oversight']") == []
    driver.get(f"http://127.0.0.1:{served.port}/oversight")
    assert "The oversight figures are for team managers" in driver.find_element(By.CSS_SELECTOR, "[role=alert]").text


PAGES = [
    ("Hana Head", "/oversight"),
    ("Hana Head", "/oversight?procedure=camden"),
    ("Tess Manager", "/oversight"),
    ("Lee Legal", "/oversight?procedure=atlantis"),  # the form with its problem
    ("Sam Worker", "/oversight"),  # refused
]
MODES = [(320, False, False), (1024, False, False), (320, True, False), (1024, True, False), (1024, False, True),
         (320, False, True)]  # fmt: skip


@pytest.mark.parametrize(
    ("width", "dark", "forced"),
    MODES,
    ids=[f"{w}px{'-dark' if d else ''}{'-forced-colours' if f else ''}" for w, d, f in MODES],
)
def test_the_page_has_no_serious_accessibility_problem_at_a_tab_s_widths_and_themes(
    driver: browser.webdriver.Chrome, served: Served, width: int, dark: bool, forced: bool
) -> None:
    in_browser.emulate(driver, width, dark=dark, forced_colours=forced)
    try:
        problems = []
        for person, path in PAGES:
            be(driver, served, person, then=path)
            problems += [f"{path} as {person}: {p}" for p in in_browser.blocking(in_browser.violations(driver))]
            if driver.execute_script("return document.documentElement.scrollWidth > window.innerWidth + 1"):
                problems.append(f"{path} as {person}: the page scrolls sideways at {width} px")
        assert problems == [], "\n".join(problems)
    finally:
        in_browser.emulate(driver, 1024)
