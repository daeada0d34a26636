"""`sobot orders import` through a subprocess, as an administrator runs it: the template, a dry run, all or nothing,
--skip-bad with its results file, and a refusal."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from rules.procedures import load_builtin
from tests.caseload_sheet import STAFF, caseload
from tests.integration.test_cli import refused, sobot


def test_import_from_template_to_results(tmp_path: Path) -> None:
    env = {"SOBOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sobot.db'}"}
    staff = tmp_path / "staff.csv"
    staff.write_text(STAFF, encoding="utf-8")
    assert sobot("people", "import", str(staff), env=env).returncode == 0

    blank = tmp_path / "template.xlsx"
    assert sobot("orders", "import", "--template", str(blank), env=env).returncode == 0
    book = load_workbook(blank, read_only=True)
    assert book.sheetnames == ["Orders", "Events", "Columns", "Procedures"]
    headings = next(book["Orders"].iter_rows(values_only=True))
    assert headings[:3] == ("Council reference", "Child ID", "Child name") and "first_cin_meeting" in headings
    assert ("wirral", "first_cin_meeting") in {row[:2] for row in book["Procedures"].iter_rows(values_only=True)}

    # The subprocess runs on the real clock: the sheet is made for the day it runs (in London).
    sheet = caseload(load_builtin(), _london_today(), count=12)
    tracker = tmp_path / "tracker.xlsx"
    tracker.write_bytes(sheet.xlsx())
    dry = sobot("orders", "import", str(tracker), "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    for sentences in sheet.bad.values():
        assert sentences[0] in dry.stdout
    assert "Dry run of tracker.xlsx: 12 new, 0 updated, 0 unchanged, 6 with problems" in dry.stdout
    assert "0 escalations" in dry.stdout

    refused(sobot("orders", "import", str(tracker), env=env), "Nothing was imported from tracker.xlsx: 6 rows",
            "--skip-bad", sheet.bad[14][0])  # fmt: skip
    results = tmp_path / "results.csv"
    done = sobot("orders", "import", str(tracker), "--skip-bad", "--results", str(results), env=env)
    assert done.returncode == 0 and "Imported tracker.xlsx: 12 new" in done.stdout, done.stderr
    rows = list(csv.DictReader(results.open(encoding="utf-8")))
    assert [r["outcome"] for r in rows] == ["new"] * 12 + ["bad"] * 6
    assert (
        all(r["sobot reference"].startswith("SO-") for r in rows[:12]) and rows[0]["council reference"] == "LEG/00001"
    )
    assert rows[12]["problems"] == sheet.bad[14][0]
    assert "12 unchanged" in sobot("orders", "import", str(tracker), "--skip-bad", env=env).stdout

    refused(sobot("orders", "import", str(tracker), "--as", "sam.worker@example.gov.uk", env=env),
            "Only members of the Safeguarding Unit can import orders")  # fmt: skip
    notes = tmp_path / "notes.txt"
    notes.write_text("hello", encoding="utf-8")
    refused(sobot("orders", "import", str(notes), env=env), "notes.txt is not a CSV or XLSX file")


def _london_today() -> date:
    return datetime.now(ZoneInfo("Europe/London")).date()
