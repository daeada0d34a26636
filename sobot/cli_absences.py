"""`sobot people away`: record, list and cancel absences from the command line, as an administrator."""

from __future__ import annotations

import argparse
from typing import Any

from handlers import absences
from handlers.context import CLI, Context
from handlers.errors import InvalidInput
from handlers.terms import parse_iso_date
from rules.cover import long_day
from sobot.console import format_table


async def away(ctx: Context, args: argparse.Namespace) -> None:
    if args.list:
        listed = await absences.absences(ctx, args.email)
        if not listed:
            print("Nobody is recorded away today or later.")
            return
        rows = [[str(a.id), a.name, long_day(a.first_day), long_day(a.last_day),
                 a.cover_name or "(their team manager)", a.source.replace("_", " ")] for a in listed]  # fmt: skip
        print(format_table(["id", "who", "from", "to", "cover", "source"], rows))
        return
    if args.cancel is not None:
        cancelled = await absences.cancel_absence(ctx, CLI, args.cancel)
        print(f"Cancelled: {cancelled.words}")
        return
    if not args.email or not args.first or not args.last:
        raise InvalidInput("Say who is away and when: sobot people away EMAIL --from YYYY-MM-DD --to YYYY-MM-DD "
                           "[--cover EMAIL], or --list to see absences.")  # fmt: skip
    first, last = parse_iso_date(args.first, "--from"), parse_iso_date(args.last, "--to")
    recorded = await absences.record_absence(ctx, CLI, args.email, first, last, args.cover)
    print(f"Recorded (absence {recorded.id}): {recorded.words}")


def add_away(people_actions: Any, with_context: Any) -> None:
    """The `away` action of `sobot people`."""
    command = people_actions.add_parser("away", help="record, list or cancel an absence and who covers it")
    command.add_argument("email", nargs="?", help="who is away (email or full name)")
    command.add_argument("--from", dest="first", help="the first day away, YYYY-MM-DD")
    command.add_argument("--to", dest="last", help="the last day away, YYYY-MM-DD")
    command.add_argument("--cover", help="who covers (email or full name); without it, their team manager is told")
    command.add_argument("--list", action="store_true", help="the absences under way or to come (of EMAIL if given)")
    command.add_argument("--cancel", type=int, metavar="ID", help="cancel the absence with this id (see --list)")
    command.set_defaults(handler=with_context(away))
