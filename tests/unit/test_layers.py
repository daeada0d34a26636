"""The layers of DESIGN.md's layout run one way and no module imports itself round a circle, read from the source."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.imports import CHANNELS, cycles, describe, imports, layer_problems, modules

ROOT = Path(__file__).resolve().parents[2]


def test_no_module_imports_itself_round_a_circle() -> None:
    known = modules(ROOT)
    assert "sobot.app" in known and "rules.timeline" in known, "the packages were found"
    found = [describe(circle, ROOT) for circle in cycles(imports(ROOT, known), known)]
    assert found == [], "\n".join(found)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    known = modules(ROOT)
    problems = layer_problems(imports(ROOT, known), known, ROOT)
    assert problems == [], "\n".join(problems)


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_check_finds_a_cycle_a_layer_run_backwards_and_a_forbidden_library(tmp_path: Path) -> None:
    write(tmp_path, {
        "rules/__init__.py": "",
        "rules/dates.py": "from handlers.orders import create\nimport sqlalchemy.orm\n",
        "handlers/__init__.py": "",
        "handlers/orders.py": "from . import views\n\ndef create():\n    from email.message import EmailMessage\n",
        "handlers/views.py": "from handlers import orders\nfrom storage import models\n",
        "storage/__init__.py": "",
        "storage/models.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from aiohttp import web\n",
        "storage/migrations/versions/0001.py": "from bot import agent\n",
        "bot/__init__.py": "",
        "bot/agent.py": "from mail import poller\nfrom handlers import orders\n",
        "mail/__init__.py": "",
        "mail/poller.py": "from handlers.views import *\n",
        "sobot/__init__.py": "",
        "sobot/app.py": "import bot.agent\nimport mail.poller\nfrom aiohttp import web\n",
    })  # fmt: skip
    known = modules(tmp_path)
    assert "storage.migrations.versions.0001" not in known
    found = imports(tmp_path, known)
    assert [describe(circle, tmp_path) for circle in cycles(found, known)] == [
        "import cycle handlers.orders -> handlers.views -> handlers.orders "
        "(handlers/orders.py:1 imports handlers.views; handlers/views.py:1 imports handlers.orders)"
    ]
    problems = layer_problems(found, known, tmp_path)
    assert problems == [
        "bot/agent.py:1: bot.agent imports mail.poller, but one channel does not import another (bot/ and mail/ are "
        "both channels)",
        "handlers/orders.py:4: handlers.orders imports email, which handlers/ may not: nothing below the channels "
        "imports the Agents SDK, a mail library or a web framework",
        "rules/dates.py:1: rules.dates imports handlers.orders, but rules/ is the bottom layer",
        "rules/dates.py:2: rules.dates imports sqlalchemy, which rules/ may not: rules/ does no I/O",
        "storage/models.py:3: storage.models imports aiohttp, which storage/ may not: nothing below the channels "
        "imports the Agents SDK, a mail library or a web framework",
    ]


def test_a_layer_may_import_any_layer_below_it_and_sobot_everything(tmp_path: Path) -> None:
    write(tmp_path, {
        "rules/__init__.py": "import holidays\n",
        "storage/__init__.py": "import sqlalchemy\nfrom rules import *\n",
        "handlers/__init__.py": "import storage\nimport rules\n",
        "scheduler/__init__.py": "import handlers, storage, rules, apscheduler\n",
        "bot/__init__.py": "import scheduler, handlers, microsoft_agents.hosting.core\n",
        "sobot/__init__.py": "import bot, scheduler, handlers, storage, rules, aiohttp\n",
    })  # fmt: skip
    known = modules(tmp_path)
    found = imports(tmp_path, known)
    assert layer_problems(found, known, tmp_path) == []
    assert cycles(found, known) == []


# What a channel may take from storage/: the one exception that tells it the records cannot be reached. Everything
# else it asks of handlers/, which check who may see it.
CHANNEL_STORAGE = {"DatabaseUnavailable"}


def test_a_channel_takes_from_storage_only_the_exception_that_says_it_is_unreachable() -> None:
    problems = []
    for channel in CHANNELS:
        for path in sorted((ROOT / channel).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Import):
                    problems += [f"{where} imports {a.name}" for a in node.names
                                 if a.name.split(".")[0] in ("storage", "sqlalchemy")]  # fmt: skip
                elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
                    "storage",
                    "sqlalchemy",
                ):
                    taken = {a.name for a in node.names}
                    if node.module != "storage" or not taken <= CHANNEL_STORAGE:
                        problems.append(f"{where} imports {', '.join(sorted(taken))} from {node.module}")
    assert problems == [], "\n".join(problems)
