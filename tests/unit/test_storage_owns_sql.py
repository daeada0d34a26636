"""storage/ owns every outbox write and every dialect-specific statement: none appears in any other package."""

from __future__ import annotations

import ast
import re
from collections.abc import Collection
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The packages that must ask storage/ for these: every one of the project but storage/ itself and the tests.
OWNER = "storage"
NOT_CHECKED = {OWNER, "tests"}

# Constructs whose SQL differs between SQLite and PostgreSQL.
DIALECT_METHODS = {"with_for_update", "on_conflict_do_nothing", "on_conflict_do_update", "prefix_with"}
WRITES = {"insert", "update", "delete", "bulk_insert_mappings", "bulk_update_mappings"}
OUTBOX = "Notification"
# SQL written out by hand: a write to the outbox, or a clause only one of the databases has.
RAW_SQL = re.compile(
    r"\b(insert\s+into|update|delete\s+from)\s+\"?notifications\b|\bon\s+conflict\b|\bskip\s+locked\b"
    r"|\bfor\s+update\b|\bpragma\b|\breturning\b",
    re.IGNORECASE,
)
SQL_START = re.compile(r"^\s*(select|insert|update|delete|with|pragma)\b", re.IGNORECASE)


def _names_outbox(node: ast.AST, aliases: Collection[str] = ()) -> bool:
    """Whether an expression is (or is built from) the outbox's model or table, or a name given to one."""
    return any(
        (isinstance(n, ast.Name) and (n.id == OUTBOX or n.id in aliases))
        or (isinstance(n, ast.Attribute) and n.attr == OUTBOX)
        for n in ast.walk(node)
    )


def _outbox_aliases(tree: ast.Module) -> set[str]:
    """The names a module gives the outbox's model or table (`table = models.Notification`), followed through."""
    aliases: set[str] = set()
    while True:
        more = {
            target.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and _names_outbox(node.value, aliases)
            for target in node.targets
            if isinstance(target, ast.Name)
        } - aliases
        if not more:
            return aliases
        aliases |= more


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def _imports_dialects(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name.startswith("sqlalchemy.dialects") for a in node.names)
    module = node.module or ""
    return module.startswith("sqlalchemy.dialects") or (module == "sqlalchemy" and
                                                         any(a.name == "dialects" for a in node.names))  # fmt: skip


def _raw_sql(value: object) -> bool:
    return isinstance(value, str) and bool(SQL_START.match(value)) and bool(RAW_SQL.search(value))


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def findings(source: str, where: str) -> list[str]:
    """Each outbox write or dialect-specific statement in `source`, as "where:line: what"."""
    tree = ast.parse(source, where)
    docstrings = _docstrings(tree)
    aliases = _outbox_aliases(tree)
    found: list[str] = []

    def say(node: ast.AST, what: str) -> None:
        found.append(f"{where}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom) and _imports_dialects(node):
            say(node, "imports sqlalchemy.dialects")
        elif isinstance(node, ast.Attribute) and node.attr == "dialect":
            say(node, "asks which database it is (.dialect)")
        elif isinstance(node, ast.Attribute) and node.attr == "__table__" and _names_outbox(node.value, aliases):
            say(node, "takes the outbox's table")
        elif isinstance(node, ast.Call):
            name = _called(node)
            if name in DIALECT_METHODS:
                say(node, f"a dialect-specific clause (.{name})")
            elif name == OUTBOX:
                say(node, "makes an outbox row (Notification(…))")
            elif name in WRITES and any(_names_outbox(arg, aliases) for arg in node.args):
                say(node, f"writes the outbox ({name} of Notification)")
        elif isinstance(node, ast.Constant) and id(node) not in docstrings and _raw_sql(node.value):
            say(node, "SQL by hand that writes the outbox or only one database understands")
    return found


def checked_files() -> list[Path]:
    packages = [p.parent for p in ROOT.glob("*/__init__.py") if p.parent.name not in NOT_CHECKED]
    return sorted(f for package in packages for f in package.rglob("*.py") if ".venv" not in f.parts)


def test_no_package_but_storage_writes_the_outbox_or_asks_which_database_it_is() -> None:
    files = checked_files()
    # The check looks where the code is: the channels, the operations, the clock's work, the composition root.
    assert {f.relative_to(ROOT).parts[0] for f in files} >= {"bot", "handlers", "mail", "rules", "scheduler", "sobot"}
    found = [line for f in files for line in findings(f.read_text(encoding="utf-8"), str(f.relative_to(ROOT)))]
    assert found == [], "ask storage/ for these instead (storage/outbox.py, storage/statements.py):\n" + "\n".join(
        found
    )


# Each was in handlers/ or scheduler/ before storage/ took it over.
FORBIDDEN = {
    "a dialect's insert": "from sqlalchemy.dialects.postgresql import insert as postgresql_insert\n",
    "both dialects": "from sqlalchemy.dialects import postgresql, sqlite\n",
    "the dialects module": "from sqlalchemy import dialects\n",
    "a plain import": "import sqlalchemy.dialects.sqlite\n",
    "a dialect branch": 'if session.get_bind().dialect.name == "postgresql":\n    pass\n',
    "a branch on the engine": "lone = engine.dialect.name\n",
    "an upsert": 'statement.on_conflict_do_update(index_elements=["conversation_id"], set_=values)\n',
    "an insert or nothing": 'statement.on_conflict_do_nothing(index_elements=["local_id"])\n',
    "a claim": "select(table.id).with_for_update(skip_locked=True)\n",
    "an ORM row": 'session.add(models.Notification(dedupe_key="k", kind="allocation"))\n',
    "an imported model": "from storage.models import Notification\nsession.add(Notification(kind='x'))\n",
    "a Core insert": "await session.execute(insert(models.Notification), rows)\n",
    "an ORM update": 'update(models.Notification).where(models.Notification.id == 1).values(state="sent")\n',
    "a delete": "delete(models.Notification)\n",
    "a model by another name": "table = models.Notification\nawait session.execute(update(table).values(state='x'))\n",
    "a table by another name": "t = records.table(models.Notification)\nnew = t\ninsert(new)\n",
    "the table": "NOTIFICATIONS = models.Notification.__table__\n",
    "a bulk insert": "session.bulk_insert_mappings(models.Notification, rows)\n",
    "SQL by hand": 'await connection.execute("INSERT INTO notifications (dedupe_key) VALUES ($1)", key)\n',
    "SQLite's pragma": 'cursor.execute("PRAGMA foreign_keys=ON")\n',
    "PostgreSQL's claim by hand": 'sql = "SELECT id FROM orders FOR UPDATE SKIP LOCKED"\n',
}


@pytest.mark.parametrize("source", FORBIDDEN.values(), ids=FORBIDDEN.keys())
def test_the_check_finds_each_kind_reintroduced(source: str) -> None:
    assert findings(source, "handlers/example.py"), source


ALLOWED = {
    "reading the outbox": "select(models.Notification.state, func.count()).group_by(models.Notification.state)\n",
    "a read by key": "select(models.Notification.dedupe_key).where(models.Notification.dedupe_key.in_(keys))\n",
    "asking storage": "await outbox.queue(session, planned, not_before, now)\n",
    "storage's upsert": "await statements.keep_conversation(session, conversation_id, values)\n",
    "another table's update": "update(models.ConversationReference).values(stale=True)\n",
    "a docstring": '"""Rows are claimed with one UPDATE (… FOR UPDATE SKIP LOCKED on PostgreSQL)."""\n',
    "a sentence": 'say("I can\'t update the notifications just now")\n',
    "a read by hand": 'await connection.fetchval("SELECT count(*) FROM notifications WHERE state = $1", "queued")\n',
}


@pytest.mark.parametrize("source", ALLOWED.values(), ids=ALLOWED.keys())
def test_the_check_lets_reads_and_calls_into_storage_be(source: str) -> None:
    assert findings(source, "handlers/example.py") == []
