"""The sign-in settings and the Teams app package's tabs: what is required together, and what the manifest says."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from bot.package import PackageError, build
from sobot.settings import SettingsError, load_settings

TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
CLIENT = "6731de76-14a6-49ae-97bc-6eba6914391e"
BOT = "11111111-2222-3333-4444-555555555555"
WHOLE = {"SOBOT_ENTRA_TENANT_ID": TENANT, "SOBOT_ENTRA_CLIENT_ID": CLIENT, "SOBOT_ENTRA_CLIENT_SECRET": "s3cret-value",
         "SOBOT_BOT_DOMAIN": "sobot.example.gov.uk"}  # fmt: skip


def test_sign_in_is_off_until_set_and_its_addresses_follow_the_domain() -> None:
    assert not load_settings({}).sign_in_configured
    settings = load_settings(WHOLE)
    assert settings.sign_in_configured and settings.entra_authority_host == "https://login.microsoftonline.com"
    assert settings.sign_in_app_id_uri == f"api://sobot.example.gov.uk/{CLIENT}"
    assert settings.sign_in_redirect_uri == "https://sobot.example.gov.uk/signin/callback"
    own = load_settings({**WHOLE, "SOBOT_ENTRA_REDIRECT_URI": "https://dash.example.gov.uk/signin/callback",
                         "SOBOT_ENTRA_APP_ID_URI": f"api://{CLIENT}"})  # fmt: skip
    assert own.sign_in_redirect_uri == "https://dash.example.gov.uk/signin/callback"
    assert own.sign_in_app_id_uri == f"api://{CLIENT}"


@pytest.mark.parametrize("missing", ["SOBOT_ENTRA_TENANT_ID", "SOBOT_ENTRA_CLIENT_SECRET", "SOBOT_ENTRA_CLIENT_ID"])
def test_half_a_sign_in_names_what_is_missing_and_never_shows_the_secret(missing: str) -> None:
    environ = {name: value for name, value in WHOLE.items() if name != missing}
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    assert f"signing in with Microsoft needs {missing} as well" in str(raised.value)
    assert "s3cret-value" not in str(raised.value)


def test_bad_sign_in_values_are_named() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({**WHOLE, "SOBOT_ENTRA_TENANT_ID": "council.onmicrosoft.com",
                       "SOBOT_ENTRA_AUTHORITY_HOST": "http://login.microsoftonline.com"})  # fmt: skip
    text = str(raised.value)
    assert "SOBOT_ENTRA_TENANT_ID: Value error, must be a GUID" in text
    assert "SOBOT_ENTRA_AUTHORITY_HOST: Value error, must be https://HOST" in text
    with pytest.raises(SettingsError, match="needs SOBOT_BOT_DOMAIN"):
        load_settings({name: value for name, value in WHOLE.items() if name != "SOBOT_BOT_DOMAIN"})


def _manifest(path: Path) -> dict[str, object]:
    with zipfile.ZipFile(path) as package:
        manifest: dict[str, object] = json.loads(package.read("manifest.json"))
    return manifest


def test_the_package_has_the_personal_tabs_the_channel_tab_and_single_sign_on(tmp_path: Path) -> None:
    manifest = _manifest(build(BOT, "sobot.example.gov.uk", "Example Council", tmp_path / "app.zip", CLIENT))
    tabs = {tab["entityId"]: tab for tab in manifest["staticTabs"]}  # type: ignore[attr-defined]
    assert list(tabs) == ["conversations", "sobot-caseload"]  # the bot's chat stays first
    assert tabs["sobot-caseload"] == {
        "entityId": "sobot-caseload", "name": "Orders", "scopes": ["personal"],
        "contentUrl": "https://sobot.example.gov.uk/tab?next=/caseload",
        "websiteUrl": "https://sobot.example.gov.uk/caseload",
    }  # fmt: skip
    assert manifest["configurableTabs"] == [{
        "configurationUrl": "https://sobot.example.gov.uk/tab/configure", "canUpdateConfiguration": True,
        "scopes": ["team"], "context": ["channelTab"],
    }]  # fmt: skip
    assert manifest["webApplicationInfo"] == {"id": CLIENT, "resource": f"api://sobot.example.gov.uk/{CLIENT}"}
    assert manifest["validDomains"] == ["sobot.example.gov.uk"]
    # Teams' limits: a static tab's name at most 128 characters, at most 16 static tabs, one configurable tab.
    assert len(tabs) <= 16 and all(len(tab.get("name", "")) <= 128 for tab in tabs.values())
    assert "${" not in json.dumps(manifest)


def test_the_tabs_sign_on_with_the_bots_app_unless_told_another(tmp_path: Path) -> None:
    manifest = _manifest(build(BOT, "sobot.example.gov.uk", "Example Council", tmp_path / "app.zip"))
    assert manifest["webApplicationInfo"] == {"id": BOT, "resource": f"api://sobot.example.gov.uk/{BOT}"}
    with pytest.raises(PackageError, match="SOBOT_ENTRA_CLIENT_ID must be the dashboard's Entra app"):
        build(BOT, "sobot.example.gov.uk", "Example Council", tmp_path / "bad.zip", "not-a-guid")
    assert not (tmp_path / "bad.zip").exists()
