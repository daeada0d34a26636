"""`sobot orders import`: a council's spreadsheet of live orders, checked, imported and reported on the terminal."""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from handlers import imports
from handlers.context import CLI, Actor
from handlers.errors import InvalidInput
from handlers.import_sheet import read_sheet, template
from handlers.terms import counted
from sobot.console import BAD_INPUT, fail, format_table

if TYPE_CHECKING:
    from sobot.app import Sobot

# A file this long shows a progress bar while it is checked and written.
LONG = 200
RESULTS_HEADINGS = ("row", "outcome", "sobot reference", "council reference", "steps done", "steps to confirm",
                    "next step", "problems")  # fmt: skip


def results_csv(report: imports.ImportReport) -> str:
    """Each row's outcome and reference, as the results file gives them."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(RESULTS_HEADINGS)
    for row in report.rows:
        writer.writerow([row.row, row.outcome, row.reference or "", row.council_reference or "", row.done,
                         row.to_confirm, row.next_step, " ".join(row.problems)])  # fmt: skip
    return out.getvalue()


@contextmanager
def _progress(rows: int) -> Iterator[imports.Progress | None]:
    if rows < LONG:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        tasks: dict[int, Any] = {}

        def told(done: int, total: int) -> None:
            # The rows are checked, then written: each pass is a bar of its own.
            if total not in tasks or bar.tasks[tasks[total]].finished:
                tasks[total] = bar.add_task("Checking rows" if not tasks else "Writing orders", total=total)
            bar.update(tasks[total], completed=done)

        yield told


async def orders_import(sobot: Sobot, args: argparse.Namespace) -> None:
    ctx = sobot.context
    if args.template:
        path = Path(args.template)
        try:
            await asyncio.to_thread(path.write_bytes, template(ctx.procedures))
        except OSError as error:
            raise InvalidInput(f"Cannot write {path}: {error.strerror}.") from None
        print(f"Wrote the import template to {path}: fill in the sheet Orders (the sheet Columns says what each "
              "column holds) and import it with sobot orders import FILE --dry-run first.")  # fmt: skip
        return
    if not args.file:
        fail("Give the file to import (sobot orders import FILE), or --template FILE.xlsx for a blank one.")
    path = Path(args.file)
    try:
        content = await asyncio.to_thread(path.read_bytes)
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror}.") from None
    keys = {key for procedure in ctx.procedures.values() for key in procedure.event_keys()}
    sheet = read_sheet(path.name, content, keys)
    actor = Actor(args.as_email, args.as_email) if args.as_email else CLI
    with _progress(len(sheet.rows)) as progress:
        report = await imports.import_orders(ctx, sheet, actor, dry_run=args.dry_run, skip_bad=args.skip_bad,
                                             forecast=sobot.planner.forecast, progress=progress)  # fmt: skip
    if report.problems:
        fail(f"Nothing was imported from {path.name}: " + " ".join(report.problems))
    if args.results:
        results = Path(args.results)
        try:
            await asyncio.to_thread(results.write_text, results_csv(report), encoding="utf-8")
        except OSError as error:
            raise InvalidInput(f"Cannot write {results}: {error.strerror}.") from None
    if report.bad and not report.written and not report.dry_run:
        for row in report.bad:
            print("\n".join(row.problems), file=sys.stderr)
        rows = f"{counted(len(report.bad), 'row')} {'has' if len(report.bad) == 1 else 'have'}"
        fail(f"Nothing was imported from {path.name}: {rows} problems (above). Correct them, "
             "or import the good rows alone with --skip-bad.", BAD_INPUT)  # fmt: skip
    _print(report)


def _print(report: imports.ImportReport) -> None:
    for row in report.bad:
        for problem in row.problems:
            print(problem)
    counts = ", ".join(f"{report.count(o)} {o}" for o in (imports.NEW, imports.UPDATED, imports.UNCHANGED))
    what = "Dry run of" if report.dry_run else ("Imported" if report.written else "Checked")
    # Steps to confirm that this file brings in: an unchanged row's were counted when it was first imported.
    unconfirmed = sum(r.to_confirm for r in report.rows if r.outcome in (imports.NEW, imports.UPDATED))
    print(f"{what} {report.file}: {counts}, {len(report.bad)} with problems; {unconfirmed} steps past their date "
          "to confirm.")  # fmt: skip
    if report.written or report.dry_run:
        when = f"{report.first_day:%A %d %B %Y}"
        if not report.notices:
            print(f"On {when} these orders send nothing.")
            return
        sent = "would be sent" if report.dry_run else "sent"
        print(f"On {when} ({sent}): {report.notices_of('reminder')} reminders, {report.notices_of('escalation')} "
              f"escalations, {report.notices_of('nobody')} notes to the unit.")  # fmt: skip
        print(format_table(["kind", "to", "how many"], [[n.kind, n.to, str(n.count)] for n in report.notices]))


def add_command(order_actions: Any, with_service: Any) -> None:
    imp = order_actions.add_parser("import", help="import a council's live orders from a CSV or XLSX file")
    imp.add_argument("file", nargs="?", help="the spreadsheet (.xlsx or .csv)")
    imp.add_argument(
        "--dry-run",
        dest="dry_run",
        action="store_true",
        help="check every row and say what would be sent on the first working day; write nothing",
    )
    imp.add_argument(
        "--skip-bad", dest="skip_bad", action="store_true", help="import the good rows even when others have problems"
    )
    imp.add_argument("--results", help="write each row's outcome and reference to this CSV file")
    imp.add_argument("--as", dest="as_email", metavar="EMAIL", help="import as this member of the Safeguarding Unit")
    imp.add_argument("--template", metavar="FILE.xlsx", help="write a blank template to fill in, and nothing else")
    imp.set_defaults(handler=with_service(orders_import))  # fmt: skip
