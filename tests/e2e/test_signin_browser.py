"""Signing in to the dashboard in a real browser (Debian's Chromium) through the loopback fake of Entra ID.

`sobot serve` runs with a Teams app and sign-in with Microsoft set up, its authority the fake (over TLS, with a
certificate authority of the test's own that only this sobot and this Chromium are told to trust). The person
presses "Sign in with Microsoft", Entra's authorize page sends them back with a code, and the caseload opens.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.wait import WebDriverWait

from tests.e2e import browser, dashboard
from tests.e2e.conftest import free_port, serving
from tests.fakes.entra import FakeEntra, Tls, entra_in_thread, in_thread, make_tls
from tests.fakes.teams_host import TeamsHost, serve_teams_host
from tests.signin import SAM, SECRET, STAFF, STRANGER, TEAMS_APP, UNA

pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=browser.missing() or "")


@dataclass(frozen=True)
class Served:
    address: str
    entra: FakeEntra
    tls: Tls
    reference: str  # an order on record, for the tab's deep link to open


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("signin-e2e")
    tls = make_tls(folder / "tls")
    port = free_port()
    address = f"http://127.0.0.1:{port}"
    with entra_in_thread(tls, FakeEntra(redirect_uris=[f"{address}/signin/callback"])) as entra:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SOBOT_", "CONNECTIONS__"))}
        env.update({
            "SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'sobot.db'}", "SOBOT_PORT": str(port),
            "SOBOT_MAILBOX_DIR": str(folder / "mailbox"), "SOBOT_DISPATCH_INTERVAL_SECONDS": "86400",
            "SOBOT_WEB_SESSION_SECRET": SECRET, "SOBOT_BOT_DOMAIN": "sobot.example.gov.uk",
            "SOBOT_ENTRA_TENANT_ID": entra.tenant, "SOBOT_ENTRA_CLIENT_ID": entra.client_id,
            "SOBOT_ENTRA_CLIENT_SECRET": entra.client_secret, "SOBOT_ENTRA_AUTHORITY_HOST": entra.base_url,
            "SOBOT_ENTRA_REDIRECT_URI": f"{address}/signin/callback",
            # The fake's authority, for msal's requests and for aiohttp's fetch of the keys.
            "REQUESTS_CA_BUNDLE": str(tls.ca_file), "SSL_CERT_FILE": str(tls.ca_file),
            **TEAMS_APP,
        })  # fmt: skip
        staff = folder / "staff.csv"
        staff.write_text(STAFF, encoding="utf-8")
        subprocess.run([sys.executable, "-m", "sobot.cli", "people", "import", str(staff)], env=env, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
        made = subprocess.run([sys.executable, "-m", "sobot.cli", "orders", "new", "--child-id", "C77", "--child-name",
                               "Amy Jones", "--made", "2026-03-03"], env=env, check=True, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        saved = re.search(r"Saved (SO-\d{4}-\d{4})", made.stdout)
        assert saved is not None, made.stdout
        with serving(env):
            yield Served(address, entra, tls, saved.group(1))


@pytest.fixture
def driver(served: Served) -> Iterator[webdriver.Chrome]:
    # Chromium trusts the fake's certificate by its key alone, and nothing else it would not trust anyway.
    with browser.chromium(f"--ignore-certificate-errors-spki-list={served.tls.spki_sha256}") as chromium:
        yield chromium


def _sign_in(driver: webdriver.Chrome, served: Served) -> WebDriverWait[webdriver.Chrome]:
    wait = WebDriverWait(driver, browser.SHOWN_WITHIN)
    driver.get(f"{served.address}/caseload")
    wait.until(shown.url_contains("/signin"))
    wait.until(shown.element_to_be_clickable((By.ID, "sign-in-with-microsoft"))).click()
    return wait


def test_a_person_signs_in_with_microsoft_and_sees_the_caseload(driver: webdriver.Chrome, served: Served) -> None:
    served.entra.signed_in = UNA
    wait = _sign_in(driver, served)
    wait.until(shown.url_to_be(f"{served.address}/caseload"))
    who = wait.until(shown.visibility_of_element_located((By.CSS_SELECTOR, "form.who")))
    assert "Signed in as Una Unit" in who.text
    assert driver.find_element(By.TAG_NAME, "h1").text == "Caseload"
    cookie = driver.get_cookie("sobot_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "None"

    who.find_element(By.TAG_NAME, "button").click()
    wait.until(shown.url_contains("/signin?signed_out=1"))
    assert "You are signed out of sobot." in driver.find_element(By.TAG_NAME, "main").text
    driver.get(f"{served.address}/caseload")
    wait.until(shown.url_contains("/signin?next=/caseload"))


def test_someone_not_in_the_directory_is_told_why_and_whom_to_ask(driver: webdriver.Chrome, served: Served) -> None:
    served.entra.signed_in = STRANGER
    wait = _sign_in(driver, served)
    problem = wait.until(shown.visibility_of_element_located((By.ID, "signin-problem")))
    assert "your account is not in sobot's directory" in problem.text and STRANGER.oid in problem.text
    driver.get(f"{served.address}/caseload")
    wait.until(shown.url_contains("/signin?next=/caseload"))


def test_the_page_asked_for_opens_after_signing_in(driver: webdriver.Chrome, served: Served) -> None:
    served.entra.signed_in = SAM
    wait = WebDriverWait(driver, browser.SHOWN_WITHIN)
    driver.get(f"{served.address}/caseload?overdue=1")
    wait.until(shown.element_to_be_clickable((By.ID, "sign-in-with-microsoft"))).click()
    wait.until(shown.url_to_be(f"{served.address}/caseload?overdue=1"))
    assert "Signed in as Sam Worker" in driver.find_element(By.CSS_SELECTOR, "form.who").text


def test_the_teams_tab_signs_in_with_the_token_teams_gives_it(served: Served) -> None:
    audience = f"api://sobot.example.gov.uk/{served.entra.client_id}"
    host = TeamsHost(f"{served.address}/tab?next=/caseload", lambda: served.entra.token(UNA, audience=audience))
    serving = in_thread(lambda: serve_teams_host(served.tls, host))
    with serving as port, browser.chromium(*_as_teams(served, port)) as driver:
        wait = WebDriverWait(driver, browser.SHOWN_WITHIN)
        driver.get("https://teams.microsoft.com/")
        wait.until(shown.frame_to_be_available_and_switch_to_it((By.ID, "tab")))
        who = wait.until(shown.visibility_of_element_located((By.CSS_SELECTOR, "form.who")))
        assert "Signed in as Una Unit" in who.text
        assert driver.execute_script("return window.location.pathname") == "/caseload"
        driver.switch_to.default_content()
        calls = driver.execute_script("return window.teamsCalls")
    assert calls[0] == "initialize" and "authentication.getAuthToken" in calls


def test_a_deep_link_into_the_tab_opens_the_order_it_names(served: Served) -> None:
    # "Open in sobot" on a card is a deep link whose context's subEntityId is the order's reference; Teams opens the
    # personal tab with it, and TeamsJS gives it to the tab's page as page.subPageId.
    audience = f"api://sobot.example.gov.uk/{served.entra.client_id}"
    host = TeamsHost(f"{served.address}/tab?next=/caseload", lambda: served.entra.token(UNA, audience=audience),
                     sub_entity_id=served.reference)  # fmt: skip
    serving = in_thread(lambda: serve_teams_host(served.tls, host))
    with serving as port, browser.chromium(*_as_teams(served, port)) as driver:
        wait = WebDriverWait(driver, browser.SHOWN_WITHIN)
        driver.get("https://teams.microsoft.com/")
        wait.until(shown.frame_to_be_available_and_switch_to_it((By.ID, "tab")))
        wanted = f"/orders/{served.reference}"
        wait.until(lambda frame: frame.execute_script("return window.location.pathname") == wanted)
        heading = wait.until(shown.visibility_of_element_located((By.TAG_NAME, "h1")))
        assert heading.text == f"Order {served.reference}"
        assert "Signed in as Una Unit" in driver.find_element(By.CSS_SELECTOR, "form.who").text
        driver.switch_to.default_content()
        calls = driver.execute_script("return window.teamsCalls")
    assert "getContext" in calls


def test_the_deep_link_help_gives_opens_my_calendar_in_the_tab(served: Served) -> None:
    audience = f"api://sobot.example.gov.uk/{served.entra.client_id}"
    host = TeamsHost(f"{served.address}/tab?next=/caseload", lambda: served.entra.token(UNA, audience=audience),
                     sub_entity_id="calendar")  # fmt: skip
    serving = in_thread(lambda: serve_teams_host(served.tls, host))
    with serving as port, browser.chromium(*_as_teams(served, port)) as driver:
        wait = WebDriverWait(driver, browser.SHOWN_WITHIN)
        driver.get("https://teams.microsoft.com/")
        wait.until(shown.frame_to_be_available_and_switch_to_it((By.ID, "tab")))
        wait.until(lambda frame: frame.execute_script("return window.location.pathname") == "/calendar")
        heading = wait.until(shown.visibility_of_element_located((By.TAG_NAME, "h1")))
        assert heading.text == "My calendar"
        driver.switch_to.default_content()


def test_the_unit_adds_the_channel_tab_through_its_configuration_page(served: Served) -> None:
    host = TeamsHost(f"{served.address}/tab/configure", lambda: "", context="settings")
    serving = in_thread(lambda: serve_teams_host(served.tls, host))
    with serving as port, browser.chromium(*_as_teams(served, port)) as driver:
        wait = WebDriverWait(driver, browser.SHOWN_WITHIN)
        driver.get("https://teams.microsoft.com/")
        wait.until(lambda d: d.execute_script("return window.tabValid") is True)
        driver.execute_script("window.pressSave()")
        wait.until(lambda d: d.execute_script("return window.tabSaved") is True)
        settings = driver.execute_script("return window.tabSettings")
    assert settings == {"entityId": "sobot-caseload", "suggestedDisplayName": "sobot",
                        "contentUrl": f"{served.address}/tab?next=/caseload",
                        "websiteUrl": f"{served.address}/caseload"}  # fmt: skip


def _as_teams(served: Served, port: int) -> tuple[str, ...]:
    """Chromium flags: trust the fake's certificate by its key, and find teams.microsoft.com at the stand-in."""
    return (f"--ignore-certificate-errors-spki-list={served.tls.spki_sha256}",
            f"--host-resolver-rules=MAP teams.microsoft.com 127.0.0.1:{port}")  # fmt: skip


@pytest.mark.parametrize(("width", "dark", "forced"), [(320, False, False), (1024, True, False), (1024, False, True)])
def test_the_sign_in_pages_pass_axe(driver: webdriver.Chrome, served: Served, width: int, dark: bool,
                                    forced: bool) -> None:  # fmt: skip
    served.entra.signed_in = STRANGER
    dashboard.emulate(driver, width, dark=dark, forced_colours=forced)
    wait = _sign_in(driver, served)  # the sign-in page, then its refusal
    wait.until(shown.visibility_of_element_located((By.ID, "signin-problem")))
    pages = {"the refusal": dashboard.blocking(dashboard.violations(driver))}
    for path in ("/signin?next=/caseload", "/signin?signed_out=1", "/tab/configure"):
        driver.get(served.address + path)
        pages[path] = dashboard.blocking(dashboard.violations(driver))
    assert pages == {page: [] for page in pages}
