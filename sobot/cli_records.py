"""The `sobot` commands that read or change the records, and `sobot serve`."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handlers import order_form, orders, people, queries, reach
from handlers.context import CLI, Context
from handlers.errors import InvalidInput
from handlers.terms import TYPE_NAMES, counted, parse_iso_date
from handlers.views import OrderView
from sobot import cli_absences, cli_imports
from sobot.console import fail, format_table, settings_or_exit
from sobot.logs import configure as configure_logs
from sobot.mailboxes import SETTINGS_OF, server_errors
from sobot.settings import Settings, SettingsError
from storage import DatabaseUnavailable, upgrade

if TYPE_CHECKING:
    from sobot.app import Sobot

UNAVAILABLE = 1


def _with_context(
    action: Callable[[Context, argparse.Namespace], Awaitable[None]],
) -> Callable[[argparse.Namespace], None]:
    """Run `action` with the records open: migrations first, a clear sentence when the database is down."""

    async def main(settings: Settings, args: argparse.Namespace) -> None:
        # The records alone: the rest of the service (the Teams bot, the jobs) is built only where it is used.
        from sobot.app import build_services

        services = build_services(settings)
        try:
            await upgrade(settings.database_url)
            await action(services.context(), args)
        finally:
            await services.database.dispose()

    return _command(main)


def _with_service(
    action: Callable[[Sobot, argparse.Namespace], Awaitable[None]],
) -> Callable[[argparse.Namespace], None]:
    """Run `action` on the whole service, built as `sobot serve` builds it (its jobs not started)."""

    async def main(settings: Settings, args: argparse.Namespace) -> None:
        from sobot.app import build_sobot

        sobot = build_sobot(settings, run_jobs=False)
        try:
            await upgrade(settings.database_url)
            await action(sobot, args)
        finally:
            await sobot.close()

    return _command(main)


def _command(
    main: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, None]],
) -> Callable[[argparse.Namespace], None]:
    def run(args: argparse.Namespace) -> None:
        from bot.app import LoopbackRefused

        settings = settings_or_exit()
        try:
            asyncio.run(main(settings, args))
        except (LoopbackRefused, SettingsError) as error:
            fail(str(error), 2)
        except DatabaseUnavailable:
            fail(
                "I can't reach the records database: check SOBOT_DATABASE_URL and that the database is running, "
                "then try again.",
                UNAVAILABLE,
            )

    return run


def _day(text: str | None, what: str) -> date | None:
    return parse_iso_date(text, what) if text else None


def print_order(view: OrderView) -> None:
    print(f"{view.reference}  {view.child_initials} (child ID {view.child_local_id})  {TYPE_NAMES[view.order_type]}")
    print(f"Made {view.made:%d %B %Y}, commenced {view.commenced:%d %B %Y}, last day {view.last_day:%d %B %Y}")
    print(f"Procedure {view.procedure_id}; status {view.status}"
          + (f" ({view.end_reason}, {view.ended_on:%d %B %Y})" if view.ended_on else ""))  # fmt: skip
    print(f"Social worker: {view.social_worker or 'not recorded'}; IRO: {view.iro or 'pending'}")
    if view.court:
        print(f"Court: {view.court}")
    rows = []
    for step in view.steps:
        when = f"{step.due:%a %d %b %Y}" if step.due else f"waiting on {step.waiting_on}"
        state = "OVERDUE" if step.overdue else step.state
        if step.done_on:
            state = f"done {step.done_on:%d %b %Y}"
        title = step.title if step.occurrence == 1 else f"{step.title} ({step.occurrence})"
        rows.append([when, title, step.owner, state])
    print()
    print(format_table(["due", "step", "owner", "state"], rows))


async def orders_new(ctx: Context, args: argparse.Namespace) -> None:
    values = {
        "child_local_id": args.child_id, "child_name": args.child_name, "child_date_of_birth": args.dob,
        "order_type": args.type, "made": args.made, "commenced": args.commenced, "months": args.months,
        "last_day": args.last_day, "court": args.court, "other_orders": args.other_orders,
        "conditions": args.conditions, "procedure": args.procedure, "social_worker": args.social_worker,
        "notes": args.notes,
    }  # fmt: skip
    read = order_form.read_order({field: value or "" for field, value in values.items()}, ctx.today())
    if isinstance(read, list):
        raise InvalidInput("\n".join(problem.sentence for problem in read))
    try:
        view = await orders.create_order(ctx, read, CLI)
    except orders.AlreadyRecorded as already:
        print(already)
        print_order(already.view)
        return
    print(f"Saved {view.reference}.")
    print_order(view)


def _json_default(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


async def orders_list(ctx: Context, args: argparse.Namespace) -> None:
    found = await queries.order_summaries(ctx, overdue_only=args.overdue, include_ended=args.all)
    if args.json:
        print(json.dumps([asdict(s) for s in found], default=_json_default, indent=2))
        return
    if not found:
        print("No overdue steps on any open order." if args.overdue else "No orders yet.")
        return
    rows = [
        [s.reference, s.child_initials, TYPE_NAMES[s.order_type], f"{s.last_day:%d %b %Y}", s.iro or "pending",
         s.next_step or "", f"{s.next_due:%d %b %Y}" if s.next_due else "", str(s.overdue_count)]
        for s in found
    ]  # fmt: skip
    print(format_table(["reference", "child", "type", "last day", "IRO", "next step", "due", "overdue"], rows))


async def orders_show(ctx: Context, args: argparse.Namespace) -> None:
    print_order(await orders.get_order(ctx, args.reference, CLI))


async def event(ctx: Context, args: argparse.Namespace) -> None:
    on = parse_iso_date(args.date, "the date")
    view = await orders.record_event(ctx, args.reference, args.key, on, CLI, value=args.value, details=args.details)
    print(f"Recorded {args.key} on {on:%d %B %Y} for {view.reference}.")
    print_order(view)


async def allocate(ctx: Context, args: argparse.Namespace) -> None:
    allocated = await orders.allocate_iro(ctx, args.reference, args.person, CLI)
    replaced = f" (replacing {allocated.replaced})" if allocated.replaced else ""
    print(f"{allocated.order.iro} is now the IRO for {allocated.order.reference}{replaced}.")


async def extend(ctx: Context, args: argparse.Namespace) -> None:
    new_last_day = parse_iso_date(args.last_day, "--last-day")
    view = await orders.extend_order(ctx, args.reference, new_last_day, CLI, _day(args.decided, "--decided"))
    print(f"{view.reference} now lasts to {view.last_day:%d %B %Y}.")
    print_order(view)


async def end(ctx: Context, args: argparse.Namespace) -> None:
    on = _day(args.on, "--on") or ctx.today()
    view = await orders.end_order(ctx, args.reference, args.reason, on, CLI)
    print(f"{view.reference} ended on {on:%d %B %Y} ({view.end_reason}); its open steps are waived.")


async def people_import(ctx: Context, args: argparse.Namespace) -> None:
    path = Path(args.file)
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8-sig")
    except OSError as error:
        raise InvalidInput(f"Cannot read {path}: {error.strerror}.") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not UTF-8 text: save it as CSV UTF-8 and import again.") from None
    result = await people.import_people(ctx, text, CLI)
    print(f"Imported {path.name}: {result.added} added, {result.updated} updated.")


async def people_reach(settings: Settings, args: argparse.Namespace) -> None:
    """Who sobot reaches in Teams, who by email, and why."""
    from sobot.app import build_services, cannot_install

    services = build_services(settings)
    try:
        await upgrade(settings.database_url)
        found = await reach.reach_report(services.context(), cannot_install(settings, os.environ))
    finally:
        await services.database.dispose()
    if not found:
        print("Nobody is in the directory yet: add people with `sobot people import FILE`.")
        return
    rows = [[r.person.name, r.person.email, "Teams" if r.channel == "teams" else "email", r.why] for r in found]
    print(format_table(["name", "email", "told by", "why"], rows))
    in_teams = sum(1 for r in found if r.channel == "teams")
    print(f"{in_teams} in Teams, {len(found) - in_teams} by email.")


REPORT_COLUMNS = ["reference", "child_initials", "type", "made", "last_day", "procedure", "iro", "social_worker",
                  "next_step", "next_step_due", "overdue_count"]  # fmt: skip


def write_tracker(path: Path, found: list[queries.OrderSummary]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(REPORT_COLUMNS)
        for s in found:
            writer.writerow([
                s.reference, s.child_initials, s.order_type, s.made.isoformat(), s.last_day.isoformat(),
                s.procedure_id, s.iro or "", s.social_worker or "", s.next_step or "",
                s.next_due.isoformat() if s.next_due else "", s.overdue_count,
            ])  # fmt: skip


async def report(ctx: Context, args: argparse.Namespace) -> None:
    found = await queries.order_summaries(ctx, include_ended=True)
    path = Path(args.csv)
    try:
        await asyncio.to_thread(write_tracker, path, found)
    except OSError as error:
        raise InvalidInput(f"Cannot write {path}: {error.strerror}.") from None
    print(f"Wrote {len(found)} orders to {path}.")


async def mail_poll(sobot: Sobot, args: argparse.Namespace) -> None:
    from mail.poller import Notices
    from sobot.delivery import Delivery

    if sobot.poller is None:
        raise InvalidInput("SOBOT_MAIL_BACKEND is none: there is no mailbox to read.")
    # A read from the command line tells no one in Teams: that is the running service's mail job. Its replies
    # are sent here, after the poll (as the poller would), so that how their sending went can be told.
    poller = replace(sobot.poller, notices=Notices(), send_replies=None)
    channels = sobot.dispatcher.channels
    failures_before = channels.server_failures if isinstance(channels, Delivery) else 0
    try:
        try:
            report = await poller.poll_once()
        finally:
            sent = await sobot.dispatcher.send_replies()
    except server_errors(sobot.settings) as error:
        fail(mail_server_failed(sobot.settings, error), 2)
    if isinstance(channels, Delivery) and channels.server_failures > failures_before and sent.retried:
        # The mail read is saved and filed; the replies wait in the outbox, never lost, for a server that answers.
        waiting = f"{sent.retried} {'reply waits' if sent.retried == 1 else 'replies wait'}"
        saved = counted(len(report.orders), "new order")
        fail(f"the unit's mail server refused the replies ({channels.last_server_failure}), so {waiting} in the "
             f"outbox and will be sent when it answers; the mail was read and saved ({saved}, "
             f"{report.needs_attention} to Needs attention), so check "
             f"{SETTINGS_OF.get(sobot.settings.mail_backend, 'SOBOT_MAIL_BACKEND')} and that the server is "
             "running.", 2)  # fmt: skip
    retry = f", {report.retrying} to try again later" if report.retrying else ""
    unsent = sent.retried + sent.failed
    replies = f"{counted(sum(sent.sent.values()), 'reply', 'replies')} sent" + (
        f" ({sent.retried} to send again later, {sent.failed} could not be sent)" if unsent else "")  # fmt: skip
    print(f"Read the mailbox: {counted(len(report.orders), 'new order')} {report.orders or ''}, "
          f"{counted(len(report.allocations), 'allocation')}, {counted(report.replied, 'reply', 'replies')}, "
          f"{replies}, {report.needs_attention} to Needs attention"
          f"{retry}.")  # fmt: skip


def mail_server_failed(settings: Settings, error: Exception) -> str:
    """One sentence for a mail server that is down or refuses sobot: what happened, and what to check."""
    check = SETTINGS_OF.get(settings.mail_backend, "SOBOT_MAIL_BACKEND")
    # The server's own words may be several sentences (Entra's and Exchange's are): kept, as clauses of this one.
    said = " ".join(str(error).split()).rstrip(".").replace(". ", "; ") or type(error).__name__
    if isinstance(error, PermissionError):
        return (f"the unit's mail server refused sobot ({said}): check the account and its password or token in "
                f"{check}, then try again.")  # fmt: skip
    return (f"I can't use the unit's mail server ({said}): check {check} and that the server is running, "
            "then try again; nothing was lost, the messages not read yet are read next time.")  # fmt: skip


def db_upgrade(args: argparse.Namespace) -> None:
    settings = settings_or_exit()
    try:
        asyncio.run(upgrade(settings.database_url))
    except DatabaseUnavailable:
        fail("I can't reach the records database: check SOBOT_DATABASE_URL and that it is running.", UNAVAILABLE)
    print("The database schema is up to date.")


def serve(args: argparse.Namespace) -> None:
    from sobot.serve import run

    settings = settings_or_exit()
    configure_logs(settings.log_level, settings.log_format)
    from bot.app import LoopbackRefused

    try:
        run(settings)
    except (LoopbackRefused, SettingsError) as error:
        fail(str(error), 2)
    except DatabaseUnavailable:
        fail("I can't reach the records database: check SOBOT_DATABASE_URL and that it is running.", UNAVAILABLE)


def add_commands(commands: Any) -> None:
    order_cmd = commands.add_parser("orders", help="new, import, list and show orders")
    order_actions = order_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")

    new = order_actions.add_parser("new", help="record a new order and compute its timeline")
    new.add_argument("--child-id", required=True, help="the child's local ID")
    new.add_argument("--child-name", required=True)
    new.add_argument("--dob", help="the child's date of birth, YYYY-MM-DD")
    new.add_argument("--type", default="supervision", help="supervision (default) or interim")
    new.add_argument("--made", required=True, help="YYYY-MM-DD")
    new.add_argument("--commenced", help="YYYY-MM-DD (default: the day made)")
    length = new.add_mutually_exclusive_group()
    length.add_argument("--months", help="length in months (a supervision order: default 12)")
    length.add_argument("--last-day", dest="last_day", help="YYYY-MM-DD (an interim order needs this or --months)")
    new.add_argument("--court")
    new.add_argument("--other-orders", dest="other_orders")
    new.add_argument("--conditions", help="conditions and directions of the order")
    new.add_argument("--procedure", help="procedure id (default: SOBOT_PROCEDURE)")
    new.add_argument("--social-worker", dest="social_worker", help="the social worker's email")
    new.add_argument("--notes")
    new.set_defaults(handler=_with_context(orders_new))

    cli_imports.add_command(order_actions, _with_service)

    listing = order_actions.add_parser("list", help="the open orders")
    listing.add_argument("--overdue", action="store_true", help="only orders with an overdue step")
    listing.add_argument("--all", action="store_true", help="ended orders too")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_with_context(orders_list))

    show = order_actions.add_parser("show", help="one order and its timeline")
    show.add_argument("reference")
    show.set_defaults(handler=_with_context(orders_show))

    ev = commands.add_parser("event", help="record an event or a step done: sobot event REF KEY DATE")
    ev.add_argument("reference")
    ev.add_argument("key", help="the event or step key (see `sobot procedures show ID`)")
    ev.add_argument("date", help="the day it happened, YYYY-MM-DD")
    ev.add_argument("--value", help="for an outcome, its value (e.g. B)")
    ev.add_argument("--details")
    ev.set_defaults(handler=_with_context(event))

    alloc = commands.add_parser("allocate", help="allocate or reallocate the order's IRO")
    alloc.add_argument("reference")
    alloc.add_argument("person", help="the IRO's name or email")
    alloc.set_defaults(handler=_with_context(allocate))

    ext = commands.add_parser("extend", help="record the court's extension of an order")
    ext.add_argument("reference")
    ext.add_argument("--last-day", dest="last_day", required=True, help="the new last day, YYYY-MM-DD")
    ext.add_argument("--decided", help="the day the court decided, YYYY-MM-DD (default today)")
    ext.set_defaults(handler=_with_context(extend))

    finish = commands.add_parser("end", help="end an order: discharged, expired or replaced by a full order")
    finish.add_argument("reference")
    finish.add_argument("--reason", required=True, help="discharged, expired or replaced")
    finish.add_argument("--on", help="YYYY-MM-DD (default today)")
    finish.set_defaults(handler=_with_context(end))

    people_cmd = commands.add_parser("people", help="the directory of people")
    people_actions = people_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = people_actions.add_parser("import", help="add or update people from a CSV file")
    imp.add_argument("file", help="CSV with columns name, email, roles (;-separated), team, manager_email, entra_id")
    imp.set_defaults(handler=_with_context(people_import))
    reach_cmd = people_actions.add_parser("reach", help="who sobot can tell in Teams, who by email, and why")
    reach_cmd.set_defaults(handler=_command(people_reach))
    cli_absences.add_away(people_actions, _with_context)

    rep = commands.add_parser("report", help="the tracker of every order, as CSV")
    rep.add_argument("--csv", required=True, help="the file to write")
    rep.set_defaults(handler=_with_context(report))

    mail_cmd = commands.add_parser("mail", help="the Safeguarding Unit's mailbox")
    mail_actions = mail_cmd.add_subparsers(dest="action", required=True, metavar="ACTION")
    poll = mail_actions.add_parser("poll", help="read the mailbox once and act on each new message")
    poll.add_argument("--once", action="store_true", required=True, help="read once, then stop")
    poll.set_defaults(handler=_with_service(mail_poll))

    db = commands.add_parser("db", help="the database schema")
    db_actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    db_actions.add_parser("upgrade", help="apply the migrations").set_defaults(handler=db_upgrade)

    commands.add_parser("serve", help="run the service").set_defaults(handler=serve)
