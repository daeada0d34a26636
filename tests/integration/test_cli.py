"""The `sobot` command through a subprocess, as an administrator runs it: good input and bad."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.vouching import TRUST_ENVIRONMENT, vouched

STAFF = """name,email,roles,team,manager_email,entra_id
Tess Manager,tess.manager@example.gov.uk,team_manager,North,,
Sam Worker,sam.worker@example.gov.uk,social_worker,North,tess.manager@example.gov.uk,
Ian Reviewer,ian.reviewer@example.gov.uk,iro,IRO service,,
"""


def sobot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SOBOT_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "sobot.cli", *args], capture_output=True, text=True, env=environment, timeout=120
    )


def refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2, one sentence on stderr naming what to fix, no traceback, nothing on stdout."""
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    for word in words:
        assert word in result.stderr, result.stderr


def test_timeline_json_has_exactly_the_documented_shape() -> None:
    result = sobot("timeline", "--procedure", "wirral", "--made", "2026-03-03", "--json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body) == {"procedure", "order", "milestones"}
    assert body["procedure"] == "wirral"
    assert body["order"] == {"made": "2026-03-03", "commenced": "2026-03-03", "last_day": "2027-03-02"}
    keys = {"key", "occurrence", "title", "owner", "due", "preferred_by", "waiting_on", "reminders", "escalations",
            "source"}  # fmt: skip
    assert all(set(m) == keys for m in body["milestones"])
    nine = next(m for m in body["milestones"] if m["key"] == "nine_month_review")
    # Wirral §5.4: 3 Mar 2026 + 9 months = Thu 3 Dec 2026.
    assert nine["due"] == "2026-12-03" and nine["owner"] == "iro"
    assert nine["source"].startswith("Wirral Supervision Order procedure § 5.4")
    assert nine["escalations"][0] == {"on": "2026-12-04", "to": "team_manager"}
    waiting = next(m for m in body["milestones"] if m["key"] == "initial_review")
    assert waiting["due"] is None and waiting["waiting_on"] == "first_cin_meeting"
    assert waiting["reminders"] == [] and waiting["escalations"] == []


def test_timeline_with_events_and_a_readable_table() -> None:
    result = sobot("timeline", "--procedure", "wirral", "--made", "2026-03-03",
                   "--event", "first_cin_meeting=2026-03-20", "--event", "outcome=2026-12-10:B")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "waiting on first_cin_meeting" not in result.stdout
    assert "Thu 03 Dec 2026" in result.stdout
    assert "last day 02 March 2027" in result.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--procedure", "wirral", "--made", "2026-02-30"], ["'2026-02-30' is not a date", "YYYY-MM-DD"]),
        (["--procedure", "atlantis", "--made", "2026-03-03"], ["no procedure called 'atlantis'", "camden", "wirral"]),
        (["--procedure", "wirral", "--made", "2026-03-03", "--last-day", "2026-03-01"], ["before the order commenced"]),
        (["--procedure", "wirral", "--made", "2026-03-03", "--type", "interim", "--last-day", "2029-03-03"],
         ["three years", "02 March 2029"]),
        (["--procedure", "wirral", "--made", "2026-03-03", "--event", "party=2026-04-01"], ["no event 'party'"]),
        (["--procedure", "wirral", "--made", "2026-03-03", "--months", "x"], ["invalid int value"]),
        (["--procedure", "bradford", "--made", "2026-03-03"], ["not for a supervision order"]),
    ],
)  # fmt: skip
def test_timeline_bad_input(args: list[str], words: list[str]) -> None:
    refused(sobot("timeline", *args), *words)


def test_procedures_list_and_show() -> None:
    listing = sobot("procedures")
    assert listing.returncode == 0
    for name in ("wirral", "camden", "leicestershire", "sussex", "bradford"):
        assert name in listing.stdout
    shown = sobot("procedures", "show", "camden")
    assert shown.returncode == 0 and "Events it understands" in shown.stdout
    refused(sobot("procedures", "show", "atlantis"), "wirral")


def test_bad_settings_name_every_variable() -> None:
    result = sobot("procedures", env={"SOBOT_PORT": "many", "SOBOT_CLOSURE_DAYS": '["2026-13-01"]'})
    refused(result, "SOBOT_PORT", "SOBOT_CLOSURE_DAYS")


def test_records_from_import_to_report(tmp_path: Path) -> None:
    env = {"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sobot.db'}"}
    staff = tmp_path / "staff.csv"
    staff.write_text(STAFF, encoding="utf-8")
    result = sobot("people", "import", str(staff), env=env)
    assert result.returncode == 0 and "3 added" in result.stdout, result.stderr
    assert "0 added, 3 updated" in sobot("people", "import", str(staff), env=env).stdout

    made = date.today() - timedelta(days=100)
    created = sobot("orders", "new", "--child-id", "C77", "--child-name", "Amy Jones", "--made", made.isoformat(),
                    "--procedure", "wirral", "--social-worker", "sam.worker@example.gov.uk", env=env)  # fmt: skip
    assert created.returncode == 0, created.stderr
    reference = f"SO-{date.today().year}-0001"
    assert f"Saved {reference}" in created.stdout and "A.J." in created.stdout

    refused(sobot("orders", "new", "--child-id", "C78", "--child-name", "Bo Jones", "--made", made.isoformat(),
                  "--social-worker", "ghost@example.gov.uk", env=env), "ghost@example.gov.uk", "directory")  # fmt: skip
    refused(sobot("allocate", reference, "Nobody", env=env), "The IROs are: Ian Reviewer")
    assert sobot("allocate", reference, "Ian Reviewer", env=env).returncode == 0
    cin = made + timedelta(days=14)
    assert sobot("event", reference, "first_cin_meeting", cin.isoformat(), env=env).returncode == 0
    refused(sobot("event", reference, "first_cin_meeting", "2026-02-31", env=env), "not a date")
    refused(sobot("extend", reference, "--last-day", (made + timedelta(days=365 * 3 + 2)).isoformat(), env=env),
            "three years")  # fmt: skip

    overdue = sobot("orders", "list", "--overdue", "--json", env=env)
    assert overdue.returncode == 0, overdue.stderr
    rows = json.loads(overdue.stdout)
    assert [r["reference"] for r in rows] == [reference] and rows[0]["overdue_count"] >= 1
    assert rows[0]["iro"] == "Ian Reviewer" and rows[0]["child_initials"] == "A.J."

    tracker = tmp_path / "tracker.csv"
    assert sobot("report", "--csv", str(tracker), env=env).returncode == 0
    with tracker.open(encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == 1
    assert lines[0]["reference"] == reference and lines[0]["child_initials"] == "A.J."
    assert lines[0]["iro"] == "Ian Reviewer" and lines[0]["social_worker"] == "Sam Worker"
    assert "Amy" not in tracker.read_text(encoding="utf-8")

    shown = sobot("orders", "show", reference.lower(), env=env)
    assert shown.returncode == 0 and "IRO: Ian Reviewer" in shown.stdout
    refused(sobot("orders", "show", "SO-2020-0099", env=env), "no order SO-2020-0099")


def test_an_unreachable_database_gets_a_sentence_not_a_traceback() -> None:
    result = sobot("orders", "list", env={"SOBOT_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none"})
    assert result.returncode == 1
    assert "can't reach the records database" in result.stderr and "Traceback" not in result.stderr


def test_people_reach_says_who_is_told_in_teams_who_by_email_and_why(tmp_path: Path) -> None:
    env = {"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sobot.db'}"}
    staff = tmp_path / "staff.csv"
    staff.write_text(STAFF, encoding="utf-8")
    assert sobot("people", "import", str(staff), env=env).returncode == 0

    plain = sobot("people", "reach", env=env)
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert lines[0].split() == ["name", "email", "told", "by", "why"]
    ian = next(line for line in lines if line.startswith("Ian Reviewer")).split()
    assert ian[2:4] == ["ian.reviewer@example.gov.uk", "email"]
    why = "no chat with the bot, and sobot cannot install itself for them: SOBOT_TEAMS_APP_CATALOG_ID is not set"
    assert " ".join(ian[4:]) == why + " (see the README's registration guide)."
    assert lines[-1] == "0 in Teams, 3 by email."

    catalogued = {**env, "SOBOT_TEAMS_APP_CATALOG_ID": "b1c5353a-7aca-41b3-830f-27d5218fe0e5"}
    half = sobot("people", "reach", env=catalogued)
    assert (
        "the bot's app credentials are not all set (CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID" in half.stdout
    )

    ready = sobot("people", "reach", env={**catalogued, "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTID": "a",
                                          "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__CLIENTSECRET": "b",
                                          "CONNECTIONS__SERVICE_CONNECTION__SETTINGS__TENANTID": "c"})  # fmt: skip
    assert ready.returncode == 0, ready.stderr
    assert ready.stdout.splitlines()[-1] == "3 in Teams, 0 by email."
    assert "sobot installs itself for them the first time it must tell them something" in ready.stdout


def test_mail_poll_once_reads_the_maildir(tmp_path: Path) -> None:
    env = {"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sobot.db'}",
           "SOBOT_MAILBOX_DIR": str(tmp_path / "mailbox"), "SOBOT_ALLOWED_SENDER_DOMAINS": '["example.gov.uk"]',
           "SOBOT_UNIT_ADDRESS": "safeguarding.unit@example.gov.uk", **TRUST_ENVIRONMENT}  # fmt: skip
    staff = tmp_path / "staff.csv"
    staff.write_text("name,email,roles\nTom Jones,tom.jones@example.gov.uk,social_worker\n", encoding="utf-8")
    assert sobot("people", "import", str(staff), env=env).returncode == 0
    first = sobot("mail", "poll", "--once", env=env)  # makes the Maildir and its folders
    assert first.returncode == 0 and "0 new orders" in first.stdout, first.stderr
    corpus = Path(__file__).parent.parent / "unit" / "mail_corpus" / "01_plain_template.eml"
    (tmp_path / "mailbox" / "new" / "01.eml").write_bytes(vouched(corpus.read_bytes()))
    result = sobot("mail", "poll", "--once", env=env)
    assert result.returncode == 0, result.stderr
    assert "1 new order ['SO-" in result.stdout
    assert len(list((tmp_path / "mailbox" / ".Processed" / "cur").iterdir())) == 1
    # The allocation request waits in the outbox for the dispatcher (`sobot serve`): the poll sends nothing itself.
    assert not (tmp_path / "mailbox" / ".Sent" / "cur").exists() or not any(
        (tmp_path / "mailbox" / ".Sent" / "cur").iterdir()
    )


@pytest.mark.parametrize(
    ("backend", "words"),
    [
        ("graph", "SOBOT_GRAPH_CLIENT_SECRET"),
        ("ews", "SOBOT_EWS_PASSWORD"),
        ("imap", "SOBOT_SMTP_HOST"),
        ("carrier-pigeon", "SOBOT_MAIL_BACKEND"),
    ],
)
def test_a_mail_backend_missing_its_settings_is_named(tmp_path: Path, backend: str, words: str) -> None:
    env = {"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sobot.db'}", "SOBOT_MAIL_BACKEND": backend}
    refused(sobot("mail", "poll", "--once", env=env), words)


def test_people_away_records_lists_and_cancels_an_absence(tmp_path: Path) -> None:
    env = {"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sobot.db'}"}
    staff = tmp_path / "staff.csv"
    staff.write_text(STAFF, encoding="utf-8")
    assert sobot("people", "import", str(staff), env=env).returncode == 0
    first, last = date.today() + timedelta(days=7), date.today() + timedelta(days=20)
    result = sobot("people", "away", "ian.reviewer@example.gov.uk", "--from", first.isoformat(), "--to",
                   last.isoformat(), "--cover", "tess.manager@example.gov.uk", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Recorded (absence 1): Ian Reviewer is away ")
    assert result.stdout.rstrip().endswith("; Tess Manager covers.")
    listed = sobot("people", "away", "--list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "Ian Reviewer" in listed.stdout and "Tess Manager" in listed.stdout and "recorded" in listed.stdout
    # Covered by oneself, or ending before it begins: a sentence, exit 2, nothing written.
    refused(sobot("people", "away", "sam.worker@example.gov.uk", "--from", first.isoformat(), "--to",
                  last.isoformat(), "--cover", "Sam Worker", env=env), "cannot cover their own absence")  # fmt: skip
    refused(sobot("people", "away", "sam.worker@example.gov.uk", "--from", last.isoformat(), "--to",
                  first.isoformat(), env=env), "is before the first")  # fmt: skip
    assert "Sam Worker" not in sobot("people", "away", "--list", env=env).stdout
    cancelled = sobot("people", "away", "--cancel", "1", env=env)
    assert cancelled.returncode == 0 and cancelled.stdout.startswith("Cancelled: Ian Reviewer is away")
    assert sobot("people", "away", "--list", env=env).stdout == "Nobody is recorded away today or later.\n"
