"""The Playground's web page in a real browser: Debian's headless Chromium, driven by Selenium through chromedriver."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import IN_CI

# Debian's packages chromium and chromium-driver. Naming the driver keeps Selenium from looking for one to download.
CHROMIUM = os.environ.get("SOBOT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SOBOT_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
# Headless, and quiet: with no network beyond loopback, Chromium's own background connections only fail.
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,2600"]  # fmt: skip
# How long to wait for the page to show what the bot sent: a bound on a wait for an element, not a sleep.
SHOWN_WITHIN = 30.0

T = TypeVar("T")


class PageWait(WebDriverWait[WebDriver]):
    """A wait for what a page shows that reads again when the page is replaced mid-read: an element gone stale, or
    a node Chrome's driver says "does not belong to the document" (its word for the same thing, mid-navigation).
    Any other error ends the wait."""

    def __init__(self, driver: WebDriver, seconds: float = SHOWN_WITHIN) -> None:
        super().__init__(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))

    def until(self, method: Callable[[WebDriver], Literal[False] | T], message: str = "") -> T:
        def reread(driver: WebDriver) -> Literal[False] | T:
            try:
                return method(driver)
            except WebDriverException as error:
                if "does not belong to the document" in str(error.msg or ""):
                    return False
                raise

        return super().until(reread, message)


CARD = ".ac-adaptiveCard"
# What the Playground's default configuration calls the bot, in its @mention list.
BOT = "Test Bot"


def required() -> None:
    """Stop the test when the browser is not installed here: a failure in CI, which must run the browser tests,
    and a skip saying what is missing elsewhere."""
    if (absent := missing()) is not None:
        if IN_CI:
            pytest.fail(f"CI must run the browser tests: {absent}", pytrace=False)
        pytest.skip(absent)


def missing() -> str | None:
    """What of the browser is not installed here, as a sentence; None when both parts are."""
    absent = [path for path in (CHROMIUM, CHROMEDRIVER) if shutil.which(path) is None]
    if not absent:
        return None
    return (f"{' and '.join(absent)} not found: install Debian's chromium and chromium-driver "
            "(`make system-deps` does, as root)")  # fmt: skip


@contextmanager
def chromium(*more_flags: str) -> Iterator[webdriver.Chrome]:
    """A headless Chromium of its own (a fresh profile), quit, with its driver, when done."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, *more_flags):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


class PlaygroundPage:
    """The Playground's page as a person uses it: pick a chat, type a line, read and fill the cards, press buttons."""

    def __init__(self, driver: webdriver.Chrome, address: str) -> None:
        self.driver = driver
        self.wait = PageWait(driver)
        driver.get(address)
        self.wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[role=textbox][contenteditable=true]"))

    def open_chat(self, name: str) -> None:
        """Choose a conversation in the list on the left: "Personal Chat", or a channel as "My Team - General"."""
        self._click(By.CSS_SELECTOR, f"[role=treeitem][aria-label='{name}']")

    def _click(self, by: str, where: str) -> None:
        """Find and click in one try, tried again while the page re-renders the element between the two."""

        def clicked(d: webdriver.Chrome) -> bool:
            d.find_element(by, where).click()
            return True

        self.wait.until(clicked)

    def say(self, line: str, *, mention: str | None = None) -> None:
        """Type a line and send it; with `mention`, first @mention them as a person does in a channel (where Teams
        passes a bot only what mentions it): type @ and pick the name from the list that opens."""
        box = self.wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[role=textbox][contenteditable=true]"))
        box.click()
        if mention is not None:
            box.send_keys("@")
            named = f"//*[@role='menuitem'][normalize-space(.)={_xpath_text(mention)}]"
            self._click(By.XPATH, named)
            line = " " + line
        box.send_keys(line)
        box.send_keys(Keys.ENTER)

    def message(self, showing: str) -> WebElement:
        """The latest message in the conversation showing this text, once it is there (not the log panel's copy)."""
        shown = f"//div[@role='group'][contains(normalize-space(.), {_xpath_text(showing)})]"
        try:
            found: WebElement = self.wait.until(lambda d: (d.find_elements(By.XPATH, shown) or [None])[-1])
        except Exception as error:
            raise AssertionError(f"no message showing {showing!r} within {SHOWN_WITHIN}s") from error
        return found

    def cards(self) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, CARD))

    def card(self, showing: str) -> WebElement:
        """The latest card on the page showing this text, once it is there."""

        def found(_: object) -> WebElement | None:
            matching = [card for card in self.cards() if showing in card.text]
            return matching[-1] if matching else None

        try:
            card: WebElement = self.wait.until(found)
        except Exception as error:
            shown = "\n---\n".join(card.text[:400] for card in self.cards()[-3:])
            raise AssertionError(
                f"no card showing {showing!r} within {SHOWN_WITHIN}s; the last cards:\n{shown}"
            ) from error
        return card

    def field(self, card: WebElement, label: str) -> WebElement:
        """The input a label names (the renderer ties each label to its input by id)."""
        tag = card.find_element(By.XPATH, f".//label[starts-with(normalize-space(.), {_xpath_text(label)})]")
        return card.find_element(By.ID, str(tag.get_attribute("for")))

    def type_into(self, card: WebElement, label: str, value: str) -> None:
        box = self.field(card, label)
        box.click()
        box.send_keys(value)
        if box.get_attribute("role") == "combobox":
            box.send_keys(Keys.ENTER)  # a date picker takes the typed day on Enter

    def press(self, card: WebElement, title: str) -> None:
        button = card.find_element(By.CSS_SELECTOR, f"button[aria-label={_css_text(title)}]")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
        button.click()

    def buttons(self, card: WebElement) -> list[str]:
        return [str(b.get_attribute("aria-label")) for b in card.find_elements(By.CSS_SELECTOR, "button[aria-label]")]

    def screenshot(self, card: WebElement, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", card)
        card.screenshot(str(path))


def _xpath_text(value: str) -> str:
    return f'"{value}"' if "'" in value else f"'{value}'"


def _css_text(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
