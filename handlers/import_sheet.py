"""A council's spreadsheet of live orders (CSV or XLSX) as labelled rows, and the template that says what it holds."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import PurePath

from openpyxl import Workbook, load_workbook

from handlers.order_form import LABELS
from rules.procedures import Procedure

# The order's own columns, as the one reader of order fields takes them (handlers/order_form.py), and what each
# means; "Length or last day" is left to forms with one box for both.
ORDER_COLUMNS: Mapping[str, str] = {
    "child_local_id": "The child's local ID (the council's case number). Required.",
    "child_name": "The child's full name. Required.",
    "child_date_of_birth": "The child's date of birth, e.g. 14/02/2015.",
    "order_type": "SO (supervision order) or ISO (interim supervision order). Required.",
    "made": "The day the court made the order, e.g. 03/03/2026. Required.",
    "commenced": "The day it began, when not the day it was made.",
    "months": "Its length in months as the court set it (12 unless the court said otherwise); or give the last day.",
    "last_day": "Its last day as the court first set it; or give the length.",
    "court": "The court that made it.",
    "other_orders": "Other orders the child is under.",
    "conditions": "The order's conditions.",
    "procedure": "The procedure the order follows (see the sheet Procedures): the council's own when left empty.",
    "social_worker": "The social worker's email, or their full name as the directory has it.",
    "notes": "Anything else worth keeping with the order.",
}
# The import's own columns, beside the order's.
COUNCIL_REFERENCE = "council_reference"
IRO = "iro"
EXTENSIONS = "extensions"
OWN_COLUMNS: Mapping[str, tuple[str, str]] = {
    COUNCIL_REFERENCE: ("Council reference", "The council's own reference for the order, kept beside sobot's; "
                                             "a later import finds the order by it."),
    IRO: ("IRO", "The IRO allocated, by email or full name; empty when none is allocated yet."),
    EXTENSIONS: ("Extensions", "Each extension the court granted: the new last day and the day it was decided, "
                               "e.g. 02/03/2028 decided 10/01/2027; several separated by ';'."),
}  # fmt: skip
EVENTS_SHEET = "Events"
EVENTS_HEADERS = ("Council reference", "Event", "Date", "Value")
EVENT_HELP = (
    "One column per event already recorded, headed by its key (see the sheet Procedures): the day it happened, "
    "e.g. 12/05/2026; an event with a value as '12/05/2026: B'; one that happened more than once (reviews) as "
    "several days separated by ';'. Or list them in the sheet Events: council reference, event, date, value."
)


def title(column: str) -> str:
    """The heading a column carries in the template and in every sentence about it."""
    return OWN_COLUMNS[column][0] if column in OWN_COLUMNS else LABELS.get(column, column)


@dataclass(frozen=True)
class Row:
    """One row of the orders sheet: its number as the spreadsheet shows it, and its cells by column."""

    number: int
    cells: Mapping[str, str]
    # Events listed in the Events sheet for its council reference: (event key, cell text), in the sheet's order.
    listed_events: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Sheet:
    """A file as read: its name, a digest of its bytes, its rows, and the problems of the file as a whole."""

    name: str
    digest: str
    rows: tuple[Row, ...]
    problems: tuple[str, ...] = ()
    event_columns: frozenset[str] = field(default_factory=frozenset)


def read_sheet(name: str, content: bytes, event_keys: Iterable[str]) -> Sheet:
    """The rows of a CSV or XLSX file, by column; an unreadable file or an unknown heading is a problem of the file."""
    digest = hashlib.sha256(content).hexdigest()
    suffix = PurePath(name).suffix.lower()
    try:
        if suffix == ".csv":
            tables = {"": _csv_rows(content)}
        elif suffix in (".xlsx", ".xlsm"):
            tables = _xlsx_rows(content)
        else:
            return Sheet(name, digest, (), (f"{name} is not a CSV or XLSX file: save the spreadsheet as .xlsx or "
                                            ".csv and import that.",))  # fmt: skip
    except (UnicodeDecodeError, csv.Error):
        return Sheet(name, digest, (), (f"{name} is not a readable CSV file: save it as CSV (UTF-8) and try again.",))
    except Exception:  # openpyxl raises many kinds for a damaged or disguised workbook
        return Sheet(name, digest, (), (f"{name} is not a readable XLSX workbook: open it in Excel, save it as .xlsx "
                                        "and try again.",))  # fmt: skip
    known_events = set(event_keys)
    orders = next(iter(tables.values()), [])
    if not orders:
        return Sheet(name, digest, (), (f"{name} has no rows: the first row names the columns, one order a row after "
                                        "it (sobot orders import --template FILE.xlsx writes one).",))  # fmt: skip
    headings = [_heading(cell) for cell in orders[0]]
    columns, problems = _columns(headings, known_events)
    events_by_reference, more = _listed_events(tables.get(EVENTS_SHEET), known_events)
    problems += more
    rows = []
    for number, values in enumerate(orders[1:], start=2):
        # Only the cells with something in them: a sheet has many columns, most of them empty on most rows.
        cells = {column: text for i, column in enumerate(columns)
                 if column and i < len(values) and (text := _text(values[i]))}  # fmt: skip
        if not cells:
            continue  # an empty row between orders says nothing
        reference = cells.get(COUNCIL_REFERENCE, "")
        rows.append(Row(number, cells, tuple(events_by_reference.get(reference.casefold(), ())) if reference else ()))
    event_columns = frozenset(c for c in columns if c in known_events)
    return Sheet(name, digest, tuple(rows), tuple(problems), event_columns)


def _csv_rows(content: bytes) -> list[list[object]]:
    text = content.decode("utf-8-sig")
    return [list(row) for row in csv.reader(io.StringIO(text))]


def _xlsx_rows(content: bytes) -> dict[str, list[list[object]]]:
    """Every sheet's rows, the first (the orders) first."""
    book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    try:
        return {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)] for sheet in book.worksheets}
    finally:
        book.close()


def _heading(cell: object) -> str:
    return " ".join(str(cell or "").split())


def _text(cell: object) -> str:
    """A cell as the order reader takes it: a date written day first, a whole number without its '.0'."""
    if isinstance(cell, datetime):
        cell = cell.date()
    if isinstance(cell, date):
        return cell.strftime("%d/%m/%Y")
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return "" if cell is None else str(cell).strip()


def _columns(headings: list[str], known_events: set[str]) -> tuple[list[str | None], list[str]]:
    """Each heading's column, and a sentence for each heading sobot does not know or sees twice."""
    names = {title(column).casefold(): column for column in (*ORDER_COLUMNS, *OWN_COLUMNS)}
    names.update({column: column for column in (*ORDER_COLUMNS, *OWN_COLUMNS)})
    names[LABELS["length"].casefold()] = "length"
    columns: list[str | None] = []
    problems = []
    for heading in headings:
        wanted = heading.casefold()
        column = names.get(wanted) or (wanted if wanted in known_events else None)
        if not heading:
            columns.append(None)
            continue
        if column is None:
            problems.append(f"Column '{heading}' is not one sobot knows: name it as the template does (sobot orders "
                            "import --template FILE.xlsx), or delete it.")  # fmt: skip
        elif column in columns:
            problems.append(f"Column '{heading}' appears twice: keep one of them.")
            column = None
        columns.append(column)
    for required in ("child_local_id", "child_name", "order_type", "made"):
        if required not in columns:
            problems.append(f"There is no column '{title(required)}': every order needs one.")
    return columns, problems


def _listed_events(
    rows: list[list[object]] | None, known_events: set[str]
) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """The Events sheet's events by council reference (case aside); sentences for rows it cannot take."""
    found: dict[str, list[tuple[str, str]]] = {}
    problems: list[str] = []
    if not rows:
        return found, problems
    for number, values in enumerate(rows[1:], start=2):
        cells = [_text(v) for v in values] + ["", "", "", ""]
        reference, key, day, value = cells[0], cells[1].strip().lower(), cells[2], cells[3]
        if not any((reference, key, day)):
            continue
        where = f"Sheet {EVENTS_SHEET}, row {number}"
        if not reference:
            problems.append(f"{where}: give the council reference of the order the event belongs to.")
        elif key not in known_events:
            problems.append(f"{where}, column 'Event': '{key}' is not an event any procedure knows: use a key from "
                            "the sheet Procedures of the template.")  # fmt: skip
        else:
            found.setdefault(reference.casefold(), []).append((key, f"{day}: {value}" if value else day))
    return found, problems


def template(procedures: Mapping[str, Procedure]) -> bytes:
    """A workbook to fill in: the orders sheet's headings, the Events sheet, what each column means, and each
    procedure's event keys and titles."""
    book = Workbook()
    orders = book.active
    assert orders is not None
    orders.title = "Orders"
    event_keys = sorted({key for p in procedures.values() for key in p.event_keys()})
    orders.append([title(c) for c in (COUNCIL_REFERENCE, *ORDER_COLUMNS, IRO, EXTENSIONS)] + event_keys)
    events = book.create_sheet(EVENTS_SHEET)
    events.append(list(EVENTS_HEADERS))
    columns = book.create_sheet("Columns")
    columns.append(["Column", "What it holds"])
    for column in (COUNCIL_REFERENCE, *ORDER_COLUMNS, IRO, EXTENSIONS):
        columns.append([title(column), OWN_COLUMNS[column][1] if column in OWN_COLUMNS else ORDER_COLUMNS[column]])
    columns.append(["(an event key)", EVENT_HELP])
    listing = book.create_sheet("Procedures")
    listing.append(["Procedure", "Event key", "What it records", "Values"])
    for procedure in procedures.values():
        for key, event in sorted(procedure.event_keys().items()):
            listing.append([procedure.id, key, event.title, ", ".join(event.values)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
