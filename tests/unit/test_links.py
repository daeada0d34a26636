"""The links to an order's page: their shape, with and without a Teams app, and the setting they start from; every
card about an order carries one."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot import cards
from bot.notify import notification_card
from handlers.directory import IroLoad, PersonView
from handlers.links import TAB_ENTITY, Links
from handlers.reminders import StepNow
from handlers.views import OrderView
from mail import compose
from scheduler.dispatch import DigestLine, Message
from sobot.settings import SettingsError, load_settings

APP_ID = "8f0e3b5c-1d2a-4c6b-9e7f-0a1b2c3d4e5f"
LINKS = Links("https://sobot.example.gov.uk/", APP_ID)
LOCAL = Links("http://127.0.0.1:3978/")
VIEW = OrderView("SO-2026-0001", "C1", "Jane Smith", "J.S.", "supervision", date(2026, 3, 3), date(2026, 3, 3),
                 date(2027, 3, 2), "wirral", "open", None, None, "", "", "", "Sam Worker", None, ())  # fmt: skip
IAN = IroLoad(PersonView(1, "Ian Reviewer", "ian@example.gov.uk", ("iro",), "IROs"), 0)
STEP = StepNow("SO-2026-0001", "J.S.", "Case summary", "case_summary", 1, date(2026, 3, 12), "open", None, None,
               None, None, None)  # fmt: skip
REMINDER = Message("reminder", "SO-2026-0001 (J.S.): Case summary is due", ("Source: 4.1.", "Answer."), "SO-2026-0001",
                   "J.S.", "case_summary", 1, "Case summary", date(2026, 3, 12))  # fmt: skip
MANIFEST = Path(__file__).resolve().parents[2] / "appPackage" / "manifest.json"


def test_an_orders_page_is_named_by_its_reference_alone() -> None:
    assert LOCAL.order("SO-2026-0001") == "http://127.0.0.1:3978/orders/SO-2026-0001"
    assert LINKS.order("SO-2026-0001") == "https://sobot.example.gov.uk/orders/SO-2026-0001"
    assert LINKS.caseload() == "https://sobot.example.gov.uk/caseload"


def test_with_a_teams_app_the_link_opens_the_order_in_the_personal_tab() -> None:
    link = urlsplit(LINKS.in_teams("SO-2026-0001"))
    assert (link.scheme, link.netloc, link.path) == ("https", "teams.microsoft.com", f"/l/entity/{APP_ID}/{TAB_ENTITY}")
    query = parse_qs(link.query, strict_parsing=True)
    assert query["webUrl"] == ["https://sobot.example.gov.uk/orders/SO-2026-0001"]
    assert json.loads(query["context"][0]) == {"subEntityId": "SO-2026-0001"}
    assert query["label"] == ["SO-2026-0001"]
    # Encoded whole: the page's address and the context's braces and quotes never reach Teams raw.
    assert "https%3A%2F%2Fsobot.example.gov.uk%2Forders%2FSO-2026-0001" in link.query
    assert "{" not in link.query and '"' not in link.query


def test_the_tab_it_opens_is_the_manifests_personal_tab() -> None:
    tabs = json.loads(MANIFEST.read_text(encoding="utf-8"))["staticTabs"]
    assert any(tab["entityId"] == TAB_ENTITY and tab["scopes"] == ["personal"] for tab in tabs)


def test_without_a_teams_app_the_link_is_the_page_itself() -> None:
    assert LOCAL.in_teams("SO-2026-0001") == LOCAL.order("SO-2026-0001")
    assert LOCAL.caseload_in_teams() == "http://127.0.0.1:3978/caseload"
    assert urlsplit(LINKS.caseload_in_teams()).path == f"/l/entity/{APP_ID}/{TAB_ENTITY}"
    assert LOCAL.calendar_in_teams() == "http://127.0.0.1:3978/calendar"
    in_the_tab = urlsplit(LINKS.calendar_in_teams())
    assert in_the_tab.path == f"/l/entity/{APP_ID}/{TAB_ENTITY}"
    assert parse_qs(in_the_tab.query)["webUrl"] == ["https://sobot.example.gov.uk/calendar"]
    assert json.loads(parse_qs(in_the_tab.query)["context"][0]) == {"subEntityId": "calendar"}


def test_the_dashboards_address_is_the_setting_else_the_bot_domain_else_the_local_port() -> None:
    assert load_settings({"SOBOT_PUBLIC_URL": "https://sobot.example.gov.uk"}).dashboard_url == (
        "https://sobot.example.gov.uk/"
    )
    assert load_settings({"SOBOT_PUBLIC_URL": "https://example.gov.uk/sobot/"}).dashboard_url == (
        "https://example.gov.uk/sobot/"
    )
    assert load_settings({"SOBOT_BOT_DOMAIN": "sobot.example.gov.uk"}).dashboard_url == "https://sobot.example.gov.uk/"
    assert load_settings({"SOBOT_PORT": "8080"}).dashboard_url == "http://127.0.0.1:8080/"
    assert load_settings({}).dashboard_url == "http://127.0.0.1:3978/"


@pytest.mark.parametrize("address", ["sobot.example.gov.uk", "ftp://sobot.example.gov.uk/", "https://",
                                     "https://sobot.example.gov.uk/?next=1"])  # fmt: skip
def test_an_address_that_is_no_web_page_is_refused_with_what_to_give(address: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"SOBOT_PUBLIC_URL": address})
    assert "SOBOT_PUBLIC_URL" in str(refused.value)
    assert "must be the dashboard's address, http(s)://HOST/" in str(refused.value)


def opened(card: dict[str, Any]) -> list[str]:
    return [
        a["url"] for a in card.get("actions", []) if a["type"] == "Action.OpenUrl" and a["title"] == "Open in sobot"
    ]


def test_every_card_about_an_order_opens_it() -> None:
    link = LINKS.in_teams("SO-2026-0001")
    at = datetime(2026, 3, 10, tzinfo=UTC)
    about_the_order = {
        "summary": cards.order_summary(VIEW, link=link),
        "allocation request": cards.allocation_request(VIEW, [IAN], link=link),
        "allocation request, refreshed": cards.allocation_request(VIEW, [IAN], link=link, may_allocate=False),
        "allocated": cards.allocated(VIEW, "Una Unit", at, None, [IAN], link=link),
        "allocated, refreshed": cards.allocated(VIEW, "Una Unit", at, None, [IAN], link=link, may_allocate=False),
        "choose the IRO": cards.choose_iro("SO-2026-0001", [("Ian Reviewer", "ian@example.gov.uk")], link=link),
        "reminder": cards.reminder("SO-2026-0001", "J.S.", "Case summary", "case_summary", 1, date(2026, 3, 12), "",
                                   link=link),
        "reminder, refreshed open": cards.reminder_now(STEP, date(2026, 3, 10), None, link=link, may_allocate=False),
        "reminder, refreshed done": cards.reminder_now(StepNow(**{**STEP.__dict__, "state": "done"}), date(2026, 3, 10),
                                                       None, link=link, may_allocate=False),
        "reminder, refreshed waived": cards.reminder_now(StepNow(**{**STEP.__dict__, "state": "waived"}),
                                                         date(2026, 3, 10), None, link=link, may_allocate=True),
        "reminder sent": notification_card(REMINDER, LINKS),
        "escalation sent": notification_card(Message(**{**REMINDER.__dict__, "kind": "escalation"}), LINKS),
        "note sent as a card": notification_card(Message("failed", "SO-2026-0001 (J.S.): …", reference="SO-2026-0001"),
                                                 LINKS),
    }  # fmt: skip
    assert {name: opened(card) for name, card in about_the_order.items()} == {name: [link] for name in about_the_order}


def test_the_digest_card_opens_the_caseload_in_the_tab() -> None:
    digest = Message("digest", "Good morning", digest=(
        DigestLine(date(2026, 3, 5), "SO-2026-0001", "J.S.", "Tell the unit", "social_worker", True),
    ))  # fmt: skip
    assert opened(notification_card(digest, LINKS)) == [LINKS.caseload_in_teams()]


def test_an_email_about_an_order_ends_with_its_page_and_one_about_none_has_no_link() -> None:
    mail = compose.notification("sam@example.gov.uk", REMINDER, LOCAL)
    assert mail.text.endswith("\n\nOpen in sobot: http://127.0.0.1:3978/orders/SO-2026-0001")
    assert '<p><a href="http://127.0.0.1:3978/orders/SO-2026-0001">Open in sobot</a></p>' in mail.html
    general = compose.notification("una@example.gov.uk", Message("nobody", "The mailbox has a message."), LOCAL)
    assert "Open in sobot" not in general.text and "<a " not in general.html


def test_a_link_in_html_is_escaped_as_an_attribute() -> None:
    odd = Links('https://sobot.example.gov.uk/"><script>/')
    mail = compose.notification("sam@example.gov.uk", REMINDER, odd)
    assert "<script>" not in mail.html and "&quot;&gt;&lt;script&gt;" in mail.html
