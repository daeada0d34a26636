"""Reading a council's spreadsheet: its columns by heading, the Events sheet, the template, and what is wrong with
a file as a whole."""

from __future__ import annotations

import io
from datetime import datetime

from openpyxl import Workbook, load_workbook

from handlers.import_sheet import read_sheet, template
from rules.procedures import load_builtin

PROCEDURES = load_builtin()
KEYS = {key for procedure in PROCEDURES.values() for key in procedure.event_keys()}


def workbook(*sheets: tuple[str, list[list[object]]]) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    for name, rows in sheets:
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_template_reads_back_as_a_file_with_no_rows_and_names_every_event() -> None:
    book = load_workbook(io.BytesIO(template(PROCEDURES)), read_only=True)
    assert book.sheetnames == ["Orders", "Events", "Columns", "Procedures"]
    headings = next(book["Orders"].iter_rows(values_only=True))
    assert set(KEYS) <= set(headings)
    # Filled with one row, the template's headings are all ones sobot knows.
    row = ["LEG/1", "C1", "Jane Smith", None, "SO", "03/03/2026"]
    sheet = read_sheet("filled.xlsx", workbook(("Orders", [list(headings), row])), KEYS)
    assert sheet.problems == ()
    assert sheet.rows[0].cells == {"council_reference": "LEG/1", "child_local_id": "C1", "child_name": "Jane Smith",
                                   "order_type": "SO", "made": "03/03/2026"}  # fmt: skip


def test_dates_as_excel_keeps_them_and_the_events_sheet_joins_its_order() -> None:
    content = workbook(
        ("Orders", [["Council reference", "Child ID", "Child name", "Order type", "Date made", "Length"],
                    ["LEG/7", "C7", "Tom Brown", "SO", datetime(2026, 3, 3), 12.0]]),
        ("Events", [["Council reference", "Event", "Date", "Value"], ["leg/7", "first_cin_meeting",
                                                                      datetime(2026, 3, 20), None],
                    ["LEG/7", "no_such_event", "01/04/2026", None], [None, "first_cin_meeting", "01/04/2026", None]]),
    )  # fmt: skip
    sheet = read_sheet("tracker.xlsx", content, KEYS)
    assert sheet.rows[0].cells["made"] == "03/03/2026" and sheet.rows[0].cells["months"] == "12"
    assert sheet.rows[0].listed_events == (("first_cin_meeting", "20/03/2026"),)
    assert sheet.problems == (
        "Sheet Events, row 3, column 'Event': 'no_such_event' is not an event any procedure knows: use a key from "
        "the sheet Procedures of the template.",
        "Sheet Events, row 4: give the council reference of the order the event belongs to.",
    )


def test_a_file_that_cannot_be_read_or_has_unknown_columns_says_so_in_a_sentence() -> None:
    assert read_sheet("notes.txt", b"hello", KEYS).problems == (
        "notes.txt is not a CSV or XLSX file: save the spreadsheet as .xlsx or .csv and import that.",
    )
    assert read_sheet("fake.xlsx", b"not a zip", KEYS).problems == (
        "fake.xlsx is not a readable XLSX workbook: open it in Excel, save it as .xlsx and try again.",
    )
    assert read_sheet("latin.csv", "Child ID,Child name\nC1,Zoë\n".encode("latin-1"), KEYS).problems == (
        "latin.csv is not a readable CSV file: save it as CSV (UTF-8) and try again.",
    )
    sheet = read_sheet("t.csv", b"Child ID,Child name,Order type,Date made,Favourite colour,Child ID\n", KEYS)
    assert sheet.problems == (
        "Column 'Favourite colour' is not one sobot knows: name it as the template does (sobot orders import "
        "--template FILE.xlsx), or delete it.",
        "Column 'Child ID' appears twice: keep one of them.",
    )
    assert read_sheet("empty.csv", b"", KEYS).problems[0].startswith("empty.csv has no rows")
