"""The Teams app package: a manifest Teams accepts and the two icons at the sizes it requires."""

import json
import struct
import zipfile
from pathlib import Path

import pytest

from bot.package import PackageError, build

APP_ID = "11111111-2222-3333-4444-555555555555"


def test_the_package_holds_a_filled_manifest_and_both_icons(tmp_path: Path) -> None:
    path = build(APP_ID, "sobot.council.example.gov.uk", "Example Council", tmp_path / "app.zip")
    with zipfile.ZipFile(path) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        sizes = {name: struct.unpack(">II", package.read(name)[16:24]) for name in ("color.png", "outline.png")}
    assert sizes == {"color.png": (192, 192), "outline.png": (32, 32)}
    assert manifest["manifestVersion"] == "1.22" and manifest["id"] == APP_ID
    assert manifest["bots"][0]["botId"] == APP_ID
    assert set(manifest["bots"][0]["scopes"]) == {"personal", "team"}
    assert manifest["validDomains"] == ["sobot.council.example.gov.uk"]
    assert manifest["developer"]["name"] == "Example Council"
    assert "${" not in json.dumps(manifest)
    # Teams' limits on these fields.
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["description"]["short"]) <= 80
    for command_list in manifest["bots"][0]["commandLists"]:
        assert len(command_list["commands"]) <= 10
        for command in command_list["commands"]:
            assert len(command["title"]) <= 32 and len(command["description"]) <= 128


@pytest.mark.parametrize(
    ("app_id", "domain", "words"),
    [("not-a-guid", "sobot.example.gov.uk", "GUID"), (APP_ID, "https://sobot.example.gov.uk/api", "host name")],
)
def test_bad_values_are_refused_with_what_to_set(tmp_path: Path, app_id: str, domain: str, words: str) -> None:
    with pytest.raises(PackageError, match=words):
        build(app_id, domain, "Example Council", tmp_path / "app.zip")
    assert not (tmp_path / "app.zip").exists()
