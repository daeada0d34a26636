"""The `sobot` command: timelines, procedures, orders, people, reports, the database and the service."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import date
from typing import Any, NoReturn

from handlers.errors import InvalidInput, RequestError
from handlers.terms import order_terms, parse_iso_date
from rules.calendar import WorkingCalendar
from rules.dates import OutOfCalendar
from rules.procedures import Procedure, ProcedureError, UnknownProcedure, load_builtin
from rules.timeline import Milestone, OrderFacts, RecordedEvent, build_timeline
from sobot import cli_records
from sobot.console import BAD_INPUT, fail, format_table, settings_or_exit
from sobot.settings import Settings


class _Parser(argparse.ArgumentParser):
    """argparse that says what was wrong in one sentence, with exit status 2, and no usage dump."""

    def error(self, message: str) -> NoReturn:
        self.exit(BAD_INPUT, f"sobot: {message}. Try `{self.prog} --help`.\n")


def _procedures(settings: Settings) -> dict[str, Procedure]:
    try:
        extra = [settings.procedures_dir] if settings.procedures_dir else []
        return load_builtin(settings.deadline_overrides, extra)
    except (ProcedureError, UnknownProcedure) as error:
        fail(str(error))


def _procedure(procedures: dict[str, Procedure], name: str) -> Procedure:
    if name not in procedures:
        fail(f"There is no procedure called {name!r}. The procedures are: {', '.join(sorted(procedures))}.")
    return procedures[name]


def _events(procedure: Procedure, items: Sequence[str]) -> list[RecordedEvent]:
    known = procedure.event_keys()
    events = []
    for item in items:
        key, sep, rest = item.partition("=")
        if not sep:
            raise InvalidInput(f"{item!r} is not an event: write KEY=DATE, e.g. first_cin_meeting=2026-04-01.")
        key = key.strip()
        if key not in known:
            raise InvalidInput(
                f"The {procedure.id} procedure has no event {key!r}. Its events are: {', '.join(sorted(known))}."
            )
        day_text, _, value = rest.partition(":")
        definition = known[key]
        if definition.values and value not in definition.values:
            raise InvalidInput(f"Give {key} one of the values {', '.join(definition.values)}, e.g. {key}=DATE:B.")
        events.append(RecordedEvent(key, parse_iso_date(day_text, key), value or None))
    return events


def timeline_json(procedure: Procedure, order: OrderFacts, milestones: Sequence[Milestone]) -> dict[str, Any]:
    def day(value: date | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "procedure": procedure.id,
        "order": {"made": day(order.made), "commenced": day(order.commenced), "last_day": day(order.last_day)},
        "milestones": [
            {
                "key": m.key,
                "occurrence": m.occurrence,
                "title": m.title,
                "owner": m.owner,
                "due": day(m.due),
                "preferred_by": day(m.preferred_by),
                "waiting_on": m.waiting_on,
                "reminders": [d.isoformat() for d in m.reminders],
                "escalations": [{"on": e.on.isoformat(), "to": e.to} for e in m.escalations],
                "source": m.source,
            }
            for m in milestones
        ],
    }


def _when(m: Milestone) -> str:
    if m.due is None:
        return f"waiting on {m.waiting_on}"
    return f"{m.due:%a %d %b %Y}"


def timeline_table(procedure: Procedure, order: OrderFacts, milestones: Sequence[Milestone]) -> str:
    rows = []
    for m in milestones:
        title = (
            m.title
            if m.occurrence == 1 and m.key not in {x.key for x in milestones if x.occurrence > 1}
            else (f"{m.title} ({m.occurrence})")
        )
        rows.append(
            [
                _when(m),
                f"{m.preferred_by:%d %b %Y}" if m.preferred_by else "",
                title + (" *" if m.default else ""),
                m.owner,
                m.state if m.state != "open" else "",
                m.source.split(" § ")[-1],
            ]
        )
    header = (
        f"{procedure.title}\nOrder made {order.made:%d %B %Y}, commenced {order.commenced:%d %B %Y}, "
        f"last day {order.last_day:%d %B %Y}\n\n"
    )
    footer = "\n\n* the document sets no deadline for this step: the procedure file chose one (settings can change it)"
    table = format_table(["due", "preferred by", "step", "owner", "state", "§"], rows)
    return header + table + (footer if any(m.default for m in milestones) else "")


def cmd_timeline(args: argparse.Namespace) -> None:
    settings = settings_or_exit()
    procedure = _procedure(_procedures(settings), args.procedure)
    made = parse_iso_date(args.made, "--made")
    terms = order_terms(
        args.type,
        made,
        commenced=parse_iso_date(args.commenced, "--commenced") if args.commenced else None,
        months=args.months,
        last_day=parse_iso_date(args.last_day, "--last-day") if args.last_day else None,
    )
    if terms.order_type not in procedure.order_types:
        raise InvalidInput(f"The {procedure.id} procedure is not for a {terms.order_type.replace('_', ' ')} order.")
    order = OrderFacts(terms.order_type, terms.made, terms.commenced, terms.last_day)
    try:
        milestones = build_timeline(
            procedure, order, _events(procedure, args.event), WorkingCalendar(settings.closure_days)
        )
    except OutOfCalendar as error:
        raise InvalidInput(f"{str(error).capitalize()}: check the years of the order and its events.") from None
    if args.json:
        print(json.dumps(timeline_json(procedure, order, milestones), indent=2))
    else:
        print(timeline_table(procedure, order, milestones))


def cmd_procedures(args: argparse.Namespace) -> None:
    procedures = _procedures(settings_or_exit())
    if args.action is None:
        print(format_table(["id", "title"], [[p.id, p.title] for p in procedures.values()]))
        return
    if args.action != "show" or not args.id:
        fail("Use `sobot procedures` to list them or `sobot procedures show ID` for one.")
    procedure = _procedure(procedures, args.id)
    print(f"{procedure.title} ({procedure.authority})\nDocument: {procedure.document}\n")
    rows = []
    for rule in procedure.milestones:
        when = f" when {', '.join(c.text for c in rule.when)}" if rule.when else ""
        repeat = ""
        if rule.repeat is not None:
            repeat = f", then every {rule.repeat.every}" if rule.repeat.every else f", for each {rule.repeat.for_each}"
        rows.append([rule.key, rule.title + (" *" if rule.default else ""), rule.owner, rule.due.text + repeat + when,
                     rule.source])  # fmt: skip
    print(format_table(["key", "step", "owner", "due", "§"], rows))
    print("\nEvents it understands (sobot event REF KEY DATE):")
    for key, event in sorted(procedure.event_keys().items()):
        values = f" (values: {', '.join(event.values)})" if event.values else ""
        print(f"  {key}: {event.title}{values}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sobot", description="Keeps court Supervision Orders on time.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    timeline = commands.add_parser("timeline", help="what is due for an order, without the database")
    timeline.add_argument("--procedure", required=True, help="procedure id (see `sobot procedures`)")
    timeline.add_argument("--made", required=True, help="the day the order was made, YYYY-MM-DD")
    timeline.add_argument("--commenced", help="commencement, YYYY-MM-DD (default: the day made)")
    length = timeline.add_mutually_exclusive_group()
    length.add_argument("--months", type=int, help="length in months (default 12)")
    length.add_argument("--last-day", dest="last_day", help="the order's last day, YYYY-MM-DD")
    timeline.add_argument("--type", default="supervision", help="supervision (default) or interim")
    timeline.add_argument("--event", action="append", default=[], metavar="KEY=DATE[:VALUE]",
                          help="a recorded event; repeat for several")  # fmt: skip
    timeline.add_argument("--json", action="store_true", help="machine-readable output")
    timeline.set_defaults(handler=cmd_timeline)

    procedures = commands.add_parser("procedures", help="the procedures there are, or one's steps")
    procedures.add_argument("action", nargs="?", choices=["show"])
    procedures.add_argument("id", nargs="?")
    procedures.set_defaults(handler=cmd_procedures)

    cli_records.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.handler(args)
    except RequestError as error:
        fail(str(error))
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
