"""Importing a council's caseload of 10,000 live orders: `sobot orders import` as an administrator runs it.

A spreadsheet (XLSX) of orders part-way through each of the five procedures (tests/caseload_sheet.py) is made
first; then the dry run and the import each run as `sobot orders import` in a process of its own, on PostgreSQL,
timed from start to exit, with that process's peak resident memory (its rusage, from wait4). The import is run
again on the same file (nothing changes) for a third figure. Target (issue 15): under 60 s and under 300 MB each.

python -m bench.imports [--database-url URL] [--orders N]; the database is created afresh and dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.reminders import drop, recreate

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/sobot_bench_imports"
LONDON = ZoneInfo("Europe/London")
SECONDS, MEGABYTES = 60, 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("SOBOT_BENCH_IMPORTS_URL", DEFAULT_URL))
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--make", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        make(Path(args.make), args.orders)
        return
    url = args.database_url
    with tempfile.TemporaryDirectory() as folder:
        sheet = Path(folder) / "caseload.xlsx"
        staff = Path(folder) / "staff.csv"
        # Made in a process of its own: a child's peak memory (its rusage) counts what it was forked from, so this
        # process stays small and each measured command's figure is its own.
        subprocess.run([sys.executable, "-m", "bench.imports", "--make", folder, "--orders", str(args.orders)],
                       check=True)  # fmt: skip
        asyncio.run(recreate(url))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOBOT_")}
        env["SOBOT_DATABASE_URL"] = url
        try:
            measured(["people", "import", str(staff)], env)
            rows = []
            for label, extra in (("dry run", ["--dry-run"]), ("import", []), ("import again (unchanged)", [])):
                seconds, peak, out = measured(["orders", "import", str(sheet), *extra], env)
                summary = next(line for line in out.splitlines() if line.startswith(("Dry run of", "Imported")))
                rows.append((label, seconds, peak, summary))
        finally:
            asyncio.run(drop(url))
    print(f"\n{args.orders:,} rows on PostgreSQL; target under {SECONDS} s and {MEGABYTES} MB each\n")
    print("| run | seconds | peak RSS (MB) | met | what it said |\n| --- | ---: | ---: | --- | --- |")
    for label, seconds, peak, summary in rows:
        met = "yes" if seconds < SECONDS and peak < MEGABYTES else "no"
        print(f"| {label} | {seconds:.1f} | {peak:.0f} | {met} | {summary} |")


def make(folder: Path, orders: int) -> None:
    """The directory and the spreadsheet of `orders` live orders, made for today in London."""
    from rules.procedures import load_builtin
    from tests.caseload_sheet import STAFF, caseload

    started = time.perf_counter()
    (folder / "staff.csv").write_text(STAFF, encoding="utf-8")
    sheet = folder / "caseload.xlsx"
    sheet.write_bytes(caseload(load_builtin(), datetime.now(LONDON).date(), count=orders, bad=False).xlsx())
    print(f"Made {sheet.name}: {orders:,} orders, {sheet.stat().st_size / 1e6:.1f} MB, "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip


def measured(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run one `sobot` command; its wall time and peak resident memory (MB), from its own rusage."""
    # Its output goes to files, not pipes: a pipe nobody reads while the process runs would stop it once full.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "sobot.cli", *args], env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        printed, complaint = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"sobot {' '.join(args)} failed ({process.returncode}): {complaint.strip()}")
    return seconds, usage.ru_maxrss / 1024, printed  # Linux gives kilobytes


if __name__ == "__main__":
    main()
