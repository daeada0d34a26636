"""A council's spreadsheet of live orders, as Legal keeps it: orders part-way through each procedure, a few bad rows.

The good rows are worked out with the timeline itself: each order's steps already due are recorded done on paper
(most of them) or left blank (the rest, which the import marks to confirm), so every row is one a council could have.
"""

from __future__ import annotations

import io
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from openpyxl import Workbook

from handlers.import_sheet import title
from rules.calendar import WorkingCalendar
from rules.procedures import Procedure
from rules.timeline import OrderFacts, RecordedEvent, build_timeline

STAFF = """name,email,roles,team,manager_email,entra_id
Tess Manager,tess.manager@example.gov.uk,team_manager,North,,
Sam Worker,sam.worker@example.gov.uk,social_worker,North,tess.manager@example.gov.uk,
Ravi Patel,ravi.patel@example.gov.uk,social_worker,North,tess.manager@example.gov.uk,
Ola Nowak,ola.nowak@example.gov.uk,social_worker,North,tess.manager@example.gov.uk,
Ira Reviewer,ira.reviewer@example.gov.uk,iro,,,
Ian Other,ian.other@example.gov.uk,iro,,,
Una Unit,una.unit@example.gov.uk,safeguarding_unit,,,
Sid Service,sid.service@example.gov.uk,service_manager,,,
Hana Head,hana.head@example.gov.uk,head_of_service,,,
Lee Legal,lee.legal@example.gov.uk,legal,,,
Pam Practice,pam.practice@example.gov.uk,practice_manager,North,,
Fay Support,fay.support@example.gov.uk,family_support_worker,North,,
Cara Chair,cara.chair@example.gov.uk,cp_chair,North,,
Rae Receiving,rae.receiving@example.gov.uk,receiving_authority,,,
Sol Senior,sol.senior@example.gov.uk,senior_reviewing_officer,,,
"""
SOCIAL_WORKERS = ("sam.worker@example.gov.uk", "Ravi Patel", "ola.nowak@example.gov.uk")
IROS = ("ira.reviewer@example.gov.uk", "Ian Other")
HEADINGS = ("council_reference", "child_local_id", "child_name", "child_date_of_birth", "order_type", "made",
            "months", "court", "procedure", "social_worker", "iro", "extensions")  # fmt: skip


@dataclass
class Caseload:
    """The sheet's rows (by column), the row numbers of the bad ones, and the sentence each should get."""

    headings: list[str]
    rows: list[dict[str, str]]
    bad: dict[int, list[str]] = field(default_factory=dict)

    def xlsx(self) -> bytes:
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = "Orders"
        sheet.append([heading if heading not in _TITLED else title(heading) for heading in self.headings])
        for row in self.rows:
            sheet.append([row.get(heading) or None for heading in self.headings])  # an empty cell, as Excel leaves it
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    def csv(self) -> bytes:
        import csv

        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([heading if heading not in _TITLED else title(heading) for heading in self.headings])
        for row in self.rows:
            writer.writerow([row.get(heading, "") for heading in self.headings])
        return out.getvalue().encode()


_TITLED = set(HEADINGS)


def caseload(
    procedures: Mapping[str, Procedure], today: date, count: int = 300, seed: int = 15, bad: bool = True
) -> Caseload:
    """`count` live orders, spread over the procedures, made up to eleven months before `today`; with `bad`, six
    bad rows after them (a bad date, an unknown social worker, an unknown procedure, an end before the day made,
    a repeated row, a missing child ID)."""
    chance = random.Random(seed)
    calendar = WorkingCalendar()
    ids = sorted(procedures)
    event_keys = sorted({key for p in procedures.values() for key in p.event_keys()})
    rows: list[dict[str, str]] = []
    for number in range(count):
        procedure = procedures[ids[number % len(ids)]]
        made = today - timedelta(days=chance.randint(20, 330))
        kind = "supervision" if "supervision" in procedure.order_types else procedure.order_types[0]
        row = {
            "council_reference": f"LEG/{number + 1:05d}", "child_local_id": f"C{100000 + number}",
            "child_name": f"Child {_name(number)}",
            "child_date_of_birth": _uk(made - timedelta(days=365 * 6 + number % 3000)),
            "order_type": "SO" if kind == "supervision" else "ISO", "made": _uk(made), "months": "12",
            "court": "Family Court at Leeds", "procedure": procedure.id,
            "social_worker": SOCIAL_WORKERS[number % len(SOCIAL_WORKERS)],
            "iro": IROS[number % len(IROS)] if number % 4 else "",
        }  # fmt: skip
        for key, days in _paper_record(procedure, made, today, calendar, chance).items():
            row[key] = "; ".join(days)
        rows.append(row)
    sheet = Caseload(list(HEADINGS) + event_keys, rows)
    if bad:
        _add_bad_rows(sheet, today)
    return sheet


def _paper_record(
    procedure: Procedure, made: date, today: date, calendar: WorkingCalendar, chance: random.Random
) -> dict[str, list[str]]:
    """The events recorded on paper so far: each step due before today done on or before its day, four times in
    five; the fifth left blank (no one wrote it down), and the rest of its chain with it."""
    facts = OrderFacts("supervision", made, made, _year_on(made))
    events: list[RecordedEvent] = []
    skipped: set[tuple[str, int]] = set()
    for _ in range(60):
        timeline = build_timeline(procedure, facts, events, calendar)
        past = [s for s in timeline if s.state == "open" and s.due is not None and s.due < today
                and (s.key, s.occurrence) not in skipped]  # fmt: skip
        if not past:
            break
        step = past[0]
        if chance.random() < 0.2:
            skipped.add((step.key, step.occurrence))
            continue
        rule = procedure.milestone(step.key)
        key = rule.completed_by if rule else step.key
        definition = procedure.event_keys()[key]
        on = max(made, min(step.due or today, today - timedelta(days=1)) - timedelta(days=chance.randint(0, 3)))
        events.append(RecordedEvent(key, on, definition.values[0] if definition.values else None))
    recorded: dict[str, list[str]] = {}
    for event in events:
        recorded.setdefault(event.key, []).append(_uk(event.on) + (f": {event.value}" if event.value else ""))
    return recorded


def _add_bad_rows(sheet: Caseload, today: date) -> None:
    first = len(sheet.rows) + 2  # the sheet's row number of the first bad row (the headings are row 1)
    good = dict(sheet.rows[0], council_reference="LEG/90001", child_local_id="C900001", child_name="Child Bad")
    for key in list(good):
        if key not in HEADINGS:
            del good[key]
    bad_rows: Sequence[tuple[dict[str, str], str]] = (
        (dict(good, made="31/02/2026"),
         f"Row {first}, column 'Date made': '31/02/2026' is not a date (February 2026 has 28 days)."),
        (dict(good, council_reference="LEG/90002", child_local_id="C900002",
              social_worker="nobody.here@example.gov.uk"),
         f"Row {first + 1}, column 'Social worker': there is no social worker 'nobody.here@example.gov.uk' in the "
         "directory: give their email as the directory has it, or ask an administrator to add them (sobot people "
         "import)."),
        (dict(good, council_reference="LEG/90003", child_local_id="C900003", procedure="lancashire"),
         f"Row {first + 2}, column 'Procedure': there is no procedure called 'lancashire': use one of bradford, "
         "camden, leicestershire, sussex, wirral."),
        (dict(good, council_reference="LEG/90004", child_local_id="C900004", made=_uk(today - timedelta(days=40)),
              months="", last_day=_uk(today - timedelta(days=60))),
         f"Row {first + 3}, column 'Last day': the last day ({today - timedelta(days=60):%d %B %Y}) is before the "
         f"order commenced ({today - timedelta(days=40):%d %B %Y}): check the dates."),
        (dict(sheet.rows[5]),
         f"Row {first + 4} repeats row 7 (the same council reference LEG/00006): keep one of them."),
        (dict(good, council_reference="LEG/90006", child_local_id=""),
         f"Row {first + 5}, column 'Child ID' is missing: give the child's local ID (the council's case "
         "number)."),
    )  # fmt: skip
    if "last_day" not in sheet.headings:
        sheet.headings.insert(sheet.headings.index("months") + 1, "last_day")
    for offset, (row, sentence) in enumerate(bad_rows):
        sheet.rows.append(row)
        sheet.bad[first + offset] = [sentence]


def _year_on(made: date) -> date:
    from rules.dates import add_months

    return add_months(made, 12) - timedelta(days=1)


def _uk(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _name(number: int) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return letters[number % 26] + letters[(number // 26) % 26] + letters[(number // 676) % 26]
