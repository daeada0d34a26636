"""Writes docs/settings.md from the settings model: every variable, its default and its meaning."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic_core import PydanticUndefined

from sobot.settings import ENV_PREFIX, SETTINGS_FILE_VARIABLE, Settings

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
SDK_VARIABLES = [
    ("CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID", "The Teams bot's Entra app (client) id. Set: production "
     "mode, every request to /api/messages must carry a valid Bot Framework token. Unset: local mode (loopback "
     "only)."),
    ("CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET", "The app's client secret."),
    ("CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID", "The Entra tenant id."),
    ("CONNECTIONS__SERVICE_CONNECTION__SETTINGS__AUTHTYPE", "ClientSecret (the SDK's default)."),
]  # fmt: skip


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "(required)"
    else:
        value = field.default
    if value is None or value == "":
        return "none"
    if isinstance(value, list | dict):
        return f"`{json.dumps(value)}`"
    return f"`{value.isoformat(timespec='minutes') if hasattr(value, 'isoformat') else value}`"


def render() -> str:
    lines = [
        "# Settings reference",
        "",
        "Generated from the settings model (`sobot/settings.py`) by `python -m sobot.settings_reference`; a test",
        "fails when this file and the model disagree. Variables beat the settings file named by",
        f"`{SETTINGS_FILE_VARIABLE}` (TOML, keys as the names below without `{ENV_PREFIX}`, in lower case). Lists",
        "and tables are written as JSON. An unknown `SOBOT_` variable, or a bad value, stops sobot with every one",
        "named.",
        "",
        "| variable | default | meaning |",
        "| --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        lines.append(f"| `{ENV_PREFIX}{name.upper()}` | {_default(field)} | {field.description or ''} |")
    lines += ["", "## The Teams connection (the Agents SDK's own names)", "", "| variable | meaning |", "| --- | --- |"]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in SDK_VARIABLES]
    return "\n".join(lines) + "\n"


def main() -> None:
    if "--check" in sys.argv:
        if DOCUMENT.read_text(encoding="utf-8") != render():
            print("docs/settings.md is out of date: run python -m sobot.settings_reference", file=sys.stderr)
            raise SystemExit(1)
        return
    DOCUMENT.write_text(render(), encoding="utf-8")
    print(f"Wrote {DOCUMENT.name}")


if __name__ == "__main__":
    main()
