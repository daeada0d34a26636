"""Settings: one typed object; every bad or unknown variable is named at once."""

from datetime import date, time
from pathlib import Path

import pytest

from sobot.settings import SettingsError, load_settings


def test_embedded_defaults() -> None:
    settings = load_settings({})
    assert settings.database_url == "sqlite+aiosqlite:///var/sobot.db"
    assert (settings.host, settings.port, settings.procedure) == ("127.0.0.1", 3978, "wirral")
    assert settings.working_hours_start == time(8, 30) and settings.closure_days == []


def test_variables_are_parsed() -> None:
    settings = load_settings(
        {
            "SOBOT_PORT": "8080",
            "SOBOT_CLOSURE_DAYS": '["2026-12-24", "2026-12-31"]',
            "SOBOT_DEADLINE_OVERRIDES": '{"wirral": {"initial_review": "first_cin_meeting + 15 working days"}}',
            "OTHER": "ignored",
        }
    )
    assert settings.port == 8080
    assert settings.closure_days == [date(2026, 12, 24), date(2026, 12, 31)]
    assert settings.deadline_overrides["wirral"]["initial_review"].endswith("15 working days")


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"SOBOT_PORT": "abc", "SOBOT_DATABASE_URL": "mysql://x", "SOBOT_COLOUR": "blue",
                       "SOBOT_TIMEZONE": "Mars/Olympus"})  # fmt: skip
    message = str(refused.value)
    for name in ("SOBOT_PORT", "SOBOT_DATABASE_URL", "SOBOT_COLOUR: there is no such setting", "SOBOT_TIMEZONE"):
        assert name in message


def test_a_settings_file_under_the_variables(tmp_path: Path) -> None:
    file = tmp_path / "sobot.toml"
    file.write_text('port = 4000\nprocedure = "camden"\n', encoding="utf-8")
    settings = load_settings({"SOBOT_SETTINGS_FILE": str(file), "SOBOT_PORT": "5000"})
    assert (settings.port, settings.procedure) == (5000, "camden")
    with pytest.raises(SettingsError, match="SOBOT_SETTINGS_FILE"):
        load_settings({"SOBOT_SETTINGS_FILE": str(tmp_path / "missing.toml")})
    file.write_text("port = [", encoding="utf-8")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings({"SOBOT_SETTINGS_FILE": str(file)})


def test_the_settings_reference_is_generated_from_the_model() -> None:
    from sobot.settings_reference import DOCUMENT, render

    document = DOCUMENT.read_text(encoding="utf-8")
    assert document == render(), "docs/settings.md is out of date: run python -m sobot.settings_reference"
    for name in (
        "SOBOT_DATABASE_URL",
        "SOBOT_ALLOWED_SENDER_DOMAINS",
        "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID",
    ):
        assert f"`{name}`" in document


def test_each_mail_backend_is_built_from_its_settings(tmp_path: Path) -> None:
    from mail.backends.ews import EwsMailbox
    from mail.backends.graph import GraphMailbox
    from mail.backends.imap import ImapMailbox
    from mail.backends.maildir import MaildirMailbox
    from sobot.app import build_mailbox

    assert isinstance(build_mailbox(load_settings({}, mailbox_dir=tmp_path / "box")), MaildirMailbox)
    assert build_mailbox(load_settings({"SOBOT_MAIL_BACKEND": "none"})) is None
    secret = "graph-secret-Zq81"
    graph = load_settings({"SOBOT_MAIL_BACKEND": "graph", "SOBOT_GRAPH_MAILBOX": "unit@council.example",
                           "SOBOT_GRAPH_TENANT_ID": "t", "SOBOT_GRAPH_CLIENT_ID": "c",
                           "SOBOT_GRAPH_CLIENT_SECRET": secret})  # fmt: skip
    assert isinstance(build_mailbox(graph), GraphMailbox)
    assert secret not in repr(graph) and secret not in str(graph)  # settings print without their secrets
    ews = load_settings({"SOBOT_MAIL_BACKEND": "ews", "SOBOT_EWS_USERNAME": "svc", "SOBOT_EWS_PASSWORD": "p",
                         "SOBOT_EWS_ENDPOINT": "https://mail.council.example/EWS/Exchange.asmx"})  # fmt: skip
    assert isinstance(build_mailbox(ews), EwsMailbox)
    imap = load_settings({"SOBOT_MAIL_BACKEND": "imap", "SOBOT_IMAP_HOST": "imap.council.example",
                          "SOBOT_IMAP_USERNAME": "unit", "SOBOT_IMAP_PASSWORD": "p",
                          "SOBOT_SMTP_HOST": "smtp.council.example"})  # fmt: skip
    assert isinstance(build_mailbox(imap), ImapMailbox)
    exchange_online = load_settings({"SOBOT_MAIL_BACKEND": "imap", "SOBOT_IMAP_HOST": "outlook.office365.com",
                                     "SOBOT_IMAP_USERNAME": "unit@council.example", "SOBOT_IMAP_AUTH": "xoauth2",
                                     "SOBOT_SMTP_HOST": "smtp.office365.com", "SOBOT_GRAPH_TENANT_ID": "t",
                                     "SOBOT_GRAPH_CLIENT_ID": "c", "SOBOT_GRAPH_CLIENT_SECRET": "s"})  # fmt: skip
    assert isinstance(build_mailbox(exchange_online), ImapMailbox)


def test_serving_beyond_loopback_names_every_teams_app_variable_it_lacks() -> None:
    from sobot.settings import TEAMS_APP_PREFIX, missing_teams_app

    app = {
        TEAMS_APP_PREFIX + "CLIENTID": "id",
        TEAMS_APP_PREFIX + "CLIENTSECRET": "s",
        TEAMS_APP_PREFIX + "TENANTID": "t",
    }
    assert missing_teams_app({}, "127.0.0.1") == []  # local mode
    assert missing_teams_app(app, "0.0.0.0") == []
    assert missing_teams_app({}, "0.0.0.0") == [TEAMS_APP_PREFIX + n for n in ("CLIENTID", "CLIENTSECRET", "TENANTID")]
    only_id = {TEAMS_APP_PREFIX + "CLIENTID": "id", TEAMS_APP_PREFIX + "TENANTID": " "}
    assert missing_teams_app(only_id, "127.0.0.1") == [TEAMS_APP_PREFIX + "CLIENTSECRET", TEAMS_APP_PREFIX + "TENANTID"]
    # An app that signs in with a certificate or a managed identity has no secret to give.
    certificate = {TEAMS_APP_PREFIX + "CLIENTID": "id", TEAMS_APP_PREFIX + "TENANTID": "t",
                   TEAMS_APP_PREFIX + "AUTHTYPE": "CertificateSubjectName"}  # fmt: skip
    assert missing_teams_app(certificate, "0.0.0.0") == []
