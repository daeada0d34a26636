"""The dashboard in a real browser: Debian's headless Chromium at a Teams tab's widths and themes, and axe-core
(from the suite's own node_modules) run on the page it shows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webelement import WebElement

from tests.e2e.browser import CHROMEDRIVER, CHROMIUM, FLAGS

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
# What the accessibility check may not find on any page.
BLOCKING = ("serious", "critical")
# WCAG 2.2 AA, and the best practices axe knows.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


@contextmanager
def chromium(downloads: Path) -> Iterator[webdriver.Chrome]:
    """A headless Chromium of its own, saving downloads into `downloads`."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})  # fmt: skip
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        yield driver
    finally:
        driver.quit()


def type_date(driver: webdriver.Chrome, field: WebElement, day: date) -> None:
    """Type a day into a date field as a person would, in the order of day, month and year the browser shows."""
    order = driver.execute_script(
        "return new Intl.DateTimeFormat(navigator.language).formatToParts(new Date(2001, 10, 22))"
        ".filter(p => p.type !== 'literal').map(p => p.type)"
    )
    parts = {"day": f"{day.day:02d}", "month": f"{day.month:02d}", "year": f"{day.year:04d}"}
    field.send_keys("".join(parts[part] for part in order))


def emulate(driver: webdriver.Chrome, width: int, *, dark: bool = False, forced_colours: bool = False) -> None:
    """Show pages at this width, in the dark theme or with forced colours (Teams' high contrast) as asked."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})  # fmt: skip
    features = [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"},
                {"name": "forced-colors", "value": "active" if forced_colours else "none"}]  # fmt: skip
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": features})


def violations(driver: webdriver.Chrome) -> list[dict[str, Any]]:
    """axe-core's violations on the page shown (injected through the driver, so the page's own CSP is untouched)."""
    if not AXE.exists():
        raise AssertionError(f"axe-core is not installed at {AXE}: run `make test`, which installs the npm packages")
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: " + json.dumps(TAGS) + "}, resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))), e => done([{id: 'axe-error', impact:"
        " 'critical', help: String(e), nodes: []}]));"
    )
    return found


def blocking(found: list[dict[str, Any]]) -> list[str]:
    return [f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['nodes'])}" for v in found
            if v["impact"] in BLOCKING]  # fmt: skip
