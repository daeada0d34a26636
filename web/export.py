"""The caseload as a tracker file: the same rows and columns as the page, as CSV or as an XLSX workbook."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from handlers.caseload import CaseloadLine

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = ("Reference", "Child", "Type", "Procedure", "Status", "Social worker", "Team", "IRO", "Made", "Last day",
           "Next step", "Next step due", "Overdue steps")  # fmt: skip


def _values(line: CaseloadLine) -> list[str | date | int | None]:
    return [line.reference, line.child, line.order_type, line.procedure, line.status, line.social_worker, line.team,
            line.iro, line.made, line.last_day, line.next_step, line.next_due, line.overdue_count]  # fmt: skip


def _cell_text(value: str | date | int | None) -> str:
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, date) else str(value)
    # A spreadsheet would run a cell starting with one of these as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_bytes(lines: Sequence[CaseloadLine]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow([_cell_text(v) for v in _values(line)])
    # With a byte-order mark, Excel reads the file as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def xlsx_bytes(lines: Sequence[CaseloadLine]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Caseload"
    sheet.append(COLUMNS)
    for line in lines:
        sheet.append([_cell_text(v) if isinstance(v, str) else v for v in _values(line)])
    for number, width in enumerate((14, 18, 12, 22, 8, 20, 14, 20, 12, 12, 40, 14, 8), start=1):
        sheet.column_dimensions[get_column_letter(number)].width = width
        for cell in sheet[get_column_letter(number)][1:]:
            if isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
