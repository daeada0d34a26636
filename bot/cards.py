"""The Adaptive Cards the bot shows: the new-order form, summaries, allocation, tables, reminders."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from handlers.directory import IroLoad
from handlers.queries import DueStep, OrderSummary
from handlers.reminders import StepNow
from handlers.terms import TYPE_NAMES
from handlers.views import OrderView

Card = dict[str, Any]
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
LONDON = ZoneInfo("Europe/London")

FORM_FIELDS: list[tuple[str, str, str]] = [
    # (id, label, kind)
    ("child_local_id", "Child's local ID", "text"),
    ("child_name", "Child's name", "text"),
    ("child_date_of_birth", "Date of birth", "date"),
    ("order_type", "Order type", "type"),
    ("made", "Date made", "date"),
    ("commenced", "Commencement (if not the day made)", "date"),
    ("months", "Length in months", "number"),
    ("last_day", "Or: last day set by the court", "date"),
    ("court", "Court", "text"),
    ("other_orders", "Other orders (e.g. Child Arrangements Order)", "text"),
    ("conditions", "Conditions and directions", "multiline"),
    ("procedure", "Procedure", "procedure"),
    ("social_worker", "Social worker's email", "text"),
    ("notes", "Notes", "multiline"),
]
REQUIRED = {"child_local_id", "child_name", "order_type", "made"}


def card(*body: Any, actions: Sequence[Card] = (), refresh: Card | None = None) -> Card:
    content: Card = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.5", "body": list(body)}
    if actions:
        content["actions"] = list(actions)
    if refresh is not None:
        content["refresh"] = refresh
    return content


# The verb of every card's refresh: Teams sends it, as an adaptiveCard/action invoke, when the card is opened.
REFRESH = "card.refresh"
# Teams refreshes a card by itself for at most 60 of the people named.
MOST_VIEWERS = 60


def refresh(data: Mapping[str, Any], viewers: Sequence[str] | None) -> Card:
    """A card's refresh (Universal Actions): Teams asks sobot for the card as it now is when one of `viewers`
    (Teams ids) opens it. `viewers` None names nobody, which Teams reads as everyone in a conversation of at most
    60 people: right for a card in one person's chat, who is the only one to see it."""
    clause: Card = {"action": execute("Refresh", REFRESH, data)}
    if viewers is not None:
        clause["userIds"] = list(dict.fromkeys(viewers))[:MOST_VIEWERS]
    return clause


def text(value: str, **style: Any) -> Card:
    return {"type": "TextBlock", "text": value, "wrap": True, **style}


def heading(value: str) -> Card:
    return text(value, size="Medium", weight="Bolder")


def facts(pairs: Sequence[tuple[str, str]]) -> Card:
    return {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in pairs]}


def execute(title: str, verb: str, data: Mapping[str, Any] | None = None, **extra: Any) -> Card:
    return {"type": "Action.Execute", "title": title, "verb": verb, "data": dict(data or {}), **extra}


OPEN_IN_SOBOT = "Open in sobot"


def open_in_sobot(link: str) -> Card:
    """The button to the order's page: in Teams, a deep link into the tab (handlers.links.Links.in_teams)."""
    return {"type": "Action.OpenUrl", "title": OPEN_IN_SOBOT, "url": link}


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> Card:
    def row(cells: Sequence[str], bold: bool = False) -> Card:
        return {
            "type": "TableRow",
            "cells": [
                {"type": "TableCell", "items": [text(cell, weight="Bolder" if bold else "Default")]} for cell in cells
            ],
        }

    return {
        "type": "Table",
        "columns": [{"width": 1} for _ in headers],
        "firstRowAsHeader": True,
        "rows": [row(headers, bold=True), *(row(r) for r in rows)],
    }


def choice_set(field: str, label: str, value: str, choices: Sequence[tuple[str, str]]) -> Card:
    return {
        "type": "Input.ChoiceSet",
        "id": field,
        "label": label,
        "value": value,
        "choices": [{"title": title, "value": choice} for title, choice in choices],
    }


# Roles as people write them; any other role key is shown in words.
ROLE_NAMES = {
    "iro": "IRO", "safeguarding_unit": "Safeguarding Unit", "cp_chair": "CP chair",
    "head_of_service": "Head of Service", "senior_reviewing_officer": "Senior Reviewing Officer", "legal": "Legal",
}  # fmt: skip


def role_name(role: str) -> str:
    return ROLE_NAMES.get(role) or role.replace("_", " ")


def day(value: date | None) -> str:
    return f"{value:%a %d %b %Y}" if value else ""


# What the length box says when it is left blank, by the order type the form opens with.
LENGTH_HINTS = {
    "supervision": "Blank for 12 months, or the months the court set",
    "interim_supervision": "The months the court set, or give the last day below",
}


def _number(value: str) -> int | None:
    """A kept length as the number an Input.Number carries; anything else (blank, or typed wrong) shows blank."""
    try:
        return int(float(value))
    except (ValueError, OverflowError):  # "nan" and "inf" are floats but no length
        return None


def new_order_form(
    procedures: Sequence[tuple[str, str]],
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    problem: str | None = None,
    form: str | None = None,
) -> Card:
    """The form; with `errors` each message sits under its field and every value typed is kept.

    `form` names this form, so that saving it twice (a double press, or Teams sending it again) saves once.
    `values["order_type"]` chooses the form: a supervision order's, or an interim order's (which has no
    length to assume).
    """
    values = values or {}
    errors = errors or {}
    order_type = values.get("order_type") or "supervision"
    title = "New Interim Supervision Order" if order_type == "interim_supervision" else "New Supervision Order"
    body: list[Card] = [heading(title), text("Fields marked * are needed.", isSubtle=True)]
    if problem:
        body.append(text(problem, color="Attention", weight="Bolder"))
    for field, label, kind in FORM_FIELDS:
        # The renderer marks a required field's label itself: a star of ours would show as a second one.
        value = values.get(field, "")
        element: Card
        if kind == "date":
            element = {"type": "Input.Date", "id": field, "label": label}
            if value:
                element["value"] = value
        elif kind == "number":
            # A blank number box must stay blank: a value of "" shows as 0, which fails its minimum of 1 and
            # stops the form from being sent at all.
            element = {"type": "Input.Number", "id": field, "label": label, "min": 1, "max": 36,
                       "placeholder": LENGTH_HINTS.get(order_type, LENGTH_HINTS["supervision"])}  # fmt: skip
            if (number := _number(value)) is not None:
                element["value"] = number
        elif kind == "type":
            choices = [
                ("Supervision order", "supervision"),
                ("Interim supervision order (s.38)", "interim_supervision"),
            ]
            element = choice_set(field, label, order_type, choices)
        elif kind == "procedure":
            element = choice_set(field, label, value, [(name, pid) for pid, name in procedures])
        else:
            element = {"type": "Input.Text", "id": field, "label": label, "value": value,
                       "isMultiline": kind == "multiline"}  # fmt: skip
        if field in REQUIRED:
            element["isRequired"] = True
            element["errorMessage"] = f"{label} is needed."
        body.append(element)
        if field in errors:
            body.append(text(errors[field], color="Attention", size="Small", spacing="None"))
    return card(*body, actions=[execute("Save the order", "order.submit", {"form": form} if form else None)])


def order_facts(view: OrderView) -> list[tuple[str, str]]:
    return [
        ("Reference", view.reference),
        ("Child", view.child_initials),
        ("Order", TYPE_NAMES[view.order_type]),
        ("Made", day(view.made)),
        ("Commenced", day(view.commenced)),
        ("Last day", day(view.last_day)),
        ("Procedure", view.procedure_title or view.procedure_id),
        ("Social worker", view.social_worker or "not recorded"),
        ("IRO", view.iro or "pending"),
    ]


def steps_table(view: OrderView, count: int | None = None) -> Card:
    steps = view.next_steps(count) if count else [s for s in view.open_steps() if s.due is not None]
    rows = [[day(s.due) + (" (overdue)" if s.overdue else ""), s.title, role_name(s.owner)] for s in steps]
    return table(["Due", "Step", "Owner"], rows) if rows else text("No dated steps are open.")


def order_summary(
    view: OrderView,
    *,
    link: str,
    saved: bool = False,
    note: str | None = None,
    events: Mapping[str, str] | None = None,
) -> Card:
    """The order's facts and next steps; `note` says, above them, why this order is shown; `link` opens its page.

    `events` names the procedure's events by their titles, for the steps that wait on one.
    """
    title = f"Saved {view.reference}" if saved else view.reference
    body = [heading(title)]
    if note:
        body.append(text(note, weight="Bolder"))
    late = view.overdue_count
    if late:
        body.append(text(f"{late} step{'s are' if late > 1 else ' is'} overdue.", color="Attention"))
    body += [facts(order_facts(view)), text("Next steps", weight="Bolder"), steps_table(view, 5)]
    waiting = [s for s in view.open_steps() if s.due is None]
    if waiting:
        names = events or {}
        body.append(text("Waiting: " + "; ".join(
            f"{s.title} (after {event_name(s.waiting_on, names)})" for s in waiting
        ), isSubtle=True))  # fmt: skip
    return card(*body, actions=[open_in_sobot(link)])


def event_name(key: str | None, titles: Mapping[str, str]) -> str:
    """What people call an event: its title in the procedure, else its key in words."""
    return titles.get(key or "") or (key or "an event").replace("_", " ")


def allocation_refresh(view: OrderView) -> Card:
    """The refresh of an order's allocation card, for the people on the order who chat with sobot."""
    return refresh({"card": "allocation", "reference": view.reference}, view.viewers)


def allocation_request(view: OrderView, iros: Sequence[IroLoad], *, link: str, may_allocate: bool = True) -> Card:
    """The unit's card for a new order: a button for each IRO independent of its social worker; `link` opens the
    order's page.

    `may_allocate` False is the card as someone outside the Safeguarding Unit sees it when it refreshes: no buttons.
    """
    buttons = [
        execute(f"{load.person.name} ({load.open_orders} open)", "order.allocate",
                {"reference": view.reference, "iro": load.person.email})
        for load in iros
        if may_allocate and load.independent_of(view.social_worker_id)
    ]  # fmt: skip
    body: list[Card] = [heading(f"Allocate an IRO: {view.reference}"), facts(order_facts(view)[:8])]
    if not may_allocate:
        body.append(text("Waiting for the Safeguarding Unit to allocate an IRO.", isSubtle=True))
    elif not iros:
        body.append(
            text("There are no IROs in the directory yet: ask an administrator to add them.", color="Attention")
        )
    elif not buttons:
        body.append(text("No IRO in the directory is independent of this order's social worker and their manager: "
                         "ask an administrator to add one.", color="Attention"))  # fmt: skip
    else:
        body.append(text("Choose the IRO, or reply in this thread: allocate Jane Smith", isSubtle=True))
    if buttons:
        body.append({"type": "ActionSet", "actions": buttons})
    return card(*body, actions=[open_in_sobot(link)], refresh=allocation_refresh(view))


def choose_iro(reference: str, choices: Sequence[tuple[str, str]], *, link: str) -> Card:
    """The IROs a typed name could mean, a button each: pressing one allocates them."""
    buttons = [execute(name, "order.allocate", {"reference": reference, "iro": email}) for name, email in choices]
    return card(text(f"Which IRO for {reference}?", weight="Bolder"), {"type": "ActionSet", "actions": buttons},
                actions=[open_in_sobot(link)])  # fmt: skip


def iro_away(reference: str, headline: str, choices: Sequence[tuple[str, str]], *, link: str) -> Card:
    """The unit's note that an order's IRO is away when a step they own is due: a button for each IRO free that day
    and independent of the social worker, one press reallocating; with none free, a button listing every IRO."""
    buttons = [execute(f"Reallocate to {name}", "order.allocate", {"reference": reference, "iro": email})
               for name, email in choices]  # fmt: skip
    body: list[Card] = [text(headline)]
    if buttons:
        body.append(text("Reallocate in one press, or open the order's page:", isSubtle=True))
        body.append({"type": "ActionSet", "actions": buttons})
        return card(*body, actions=[open_in_sobot(link)])
    body.append(text("No other IRO is free that day and independent of the order's social worker.", isSubtle=True))
    return card(*body, actions=[execute("Choose another IRO", "order.choose_iro", {"reference": reference}),
                                open_in_sobot(link)])  # fmt: skip


def allocated(
    view: OrderView,
    by: str,
    at: datetime,
    replaced: str | None,
    iros: Sequence[IroLoad],
    *,
    link: str,
    may_allocate: bool = True,
) -> Card:
    """An allocated order's card: who allocated whom, and when; for the unit, a button to reallocate to each other
    IRO (`may_allocate` False: none)."""
    local = at.astimezone(LONDON)
    line = f"Allocated to {view.iro} by {by} at {local:%H:%M} on {local:%d %b %Y}"
    if replaced:
        line += f" (replacing {replaced})"
    buttons = [
        execute(f"Reallocate to {load.person.name} ({load.open_orders} open)", "order.allocate",
                {"reference": view.reference, "iro": load.person.email})
        for load in iros
        if may_allocate and load.person.name != view.iro and load.independent_of(view.social_worker_id)
    ]  # fmt: skip
    body = [heading(f"{view.reference}: IRO allocated"), text(line, color="Good"), facts(order_facts(view)[:8])]
    if buttons:
        body.append({"type": "ActionSet", "actions": buttons})
    return card(*body, actions=[open_in_sobot(link)], refresh=allocation_refresh(view))


# Teams refuses a message over about 28 KB, and a row of these tables is about 600 bytes of card.
MOST_ROWS = 30


def _most_urgent(summary: OrderSummary) -> tuple[int, date, str]:
    return (-summary.overdue_count, summary.next_due or date.max, summary.reference)


def orders_table(title: str, summaries: Sequence[OrderSummary]) -> Card:
    """The orders, most urgent first (most late steps, then the soonest next step): at most MOST_ROWS of them."""
    shown = sorted(summaries, key=_most_urgent)[:MOST_ROWS]
    rows = [
        [s.reference, s.child_initials, day(s.last_day), s.iro or "pending",
         f"{s.next_step or ''} {day(s.next_due)}", str(s.overdue_count)]
        for s in shown
    ]  # fmt: skip
    more = (f"The {len(shown)} most urgent of {len(summaries)} orders. Say `order SO-…` for any one of them, or "
            "`overdue` for every late step.")  # fmt: skip
    return _capped(title, ["Order", "Child", "Last day", "IRO", "Next step", "Overdue"], rows, len(summaries), more)


def due_table(title: str, steps: Sequence[DueStep]) -> Card:
    """The steps in the order given (earliest first): at most MOST_ROWS of them."""
    shown = steps[:MOST_ROWS]
    rows = [[day(s.due) + (" (overdue)" if s.overdue else ""), s.reference, s.child_initials, s.title,
             role_name(s.owner)] for s in shown]  # fmt: skip
    more = (f"The {len(shown)} earliest of {len(steps)} steps. Say `due this week` for fewer, or `order SO-…` for "
            "one order's steps.")  # fmt: skip
    return _capped(title, ["Due", "Order", "Child", "Step", "Owner"], rows, len(steps), more)


def _capped(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], total: int, more: str) -> Card:
    """A titled table of the rows shown; `more` says what was left out, when `total` is more than them."""
    body = [heading(title), table(headers, rows)]
    if total > len(rows):
        body.append(text(more, isSubtle=True))
    return card(*body)


# The step the built-in procedures give to allocating an IRO. A reminder built without its procedure at hand knows
# it by this key; the reminder's refresh, made with the procedure, knows any other.
ALLOCATION_STEP = "allocate_iro"


def reminder(
    reference: str,
    initials: str,
    title: str,
    key: str,
    occurrence: int,
    due: date,
    note: str,
    *,
    link: str,
    covering: str | None = None,
) -> Card:
    """A reminder or escalation about one step, with the buttons that act on it and `link` to the order's page; it
    refreshes to the step as it stands whenever it is opened (reminder_now). Sent to someone `covering` for a person
    away, it says so first, and still says so refreshed."""
    data = {"reference": reference, "step": key, "occurrence": occurrence}
    return card(
        heading(f"{reference} ({initials}): {title}"),
        *_for_whom(covering),
        text(f"Due {day(due)}. {note}"),
        *_step_inputs(key == ALLOCATION_STEP),
        actions=[*_step_actions(data, key == ALLOCATION_STEP), open_in_sobot(link)],
        refresh=refresh({"card": "reminder", **data, **_covering(covering)}, None),
    )


def _for_whom(covering: str | None) -> list[Card]:
    return [text(f"{covering}.", weight="Bolder")] if covering else []


def _covering(covering: str | None) -> dict[str, str]:
    return {"covering": covering} if covering else {}


def _step_inputs(by_allocating: bool) -> list[Card]:
    return [] if by_allocating else [{"type": "Input.Date", "id": "done_on", "label": "Done on (for Done on a date)"}]


def _step_actions(data: Mapping[str, Any], by_allocating: bool) -> list[Card]:
    """What answers a step's reminder: done (or, for the step that allocating does, choosing the IRO),
    acknowledged, snoozed."""
    if by_allocating:
        done = [execute("Choose the IRO", "order.choose_iro", {"reference": data["reference"]})]
    else:
        done = [execute("Mark done", "step.done", data), execute("Done on a date", "step.done_on", data)]
    return [
        *done,
        execute("Acknowledge", "step.acknowledge", data),
        {"type": "Action.ShowCard", "title": "Snooze", "card": card(text("Snooze for"), actions=[
            execute(f"{n} working day{'s' if n > 1 else ''}", "step.snooze", {**data, "days": n}) for n in (1, 2, 5)
        ])},
    ]  # fmt: skip


def reminder_now(step: StepNow, today: date, viewer: str | None, *, link: str, may_allocate: bool,
                 covering: str | None = None) -> Card:  # fmt: skip
    """A reminder as the step now stands, for the person (Teams id `viewer`) who opened it: who did it and when,
    once done; else the buttons that fit the step, less the IRO's choice for someone outside the unit. One sent to
    someone `covering` for a person away still says for whom."""
    data = {"reference": step.reference, "step": step.key, "occurrence": step.occurrence}
    again = refresh({"card": "reminder", **data, **_covering(covering)}, [viewer] if viewer else None)
    head = heading(f"{step.reference} ({step.initials}): {step.title}")
    if covering:
        head = {"type": "Container", "items": [head, *_for_whom(covering)]}
    opener = open_in_sobot(link)
    if step.state == "done":
        by = f" by {step.done_by}" if step.done_by else ""
        return card(head, text(f"Done on {day(step.done_on)}, recorded{by}.", color="Good"), actions=[opener],
                    refresh=again)  # fmt: skip
    if step.state not in ("open", "waiting"):
        return card(head, text("No longer due: nothing more is asked of anyone for this step."), actions=[opener],
                    refresh=again)  # fmt: skip
    when = (
        f"Due {day(step.due)}" + (" (overdue)." if step.due and step.due < today else ".")
        if step.due
        else "Not due yet."
    )
    body = [head, text(when, color="Attention" if step.due and step.due < today else "Default")]
    if step.answered == "acknowledged" and step.until and step.until >= today:
        body.append(text(f"Acknowledged: reminders pause until {day(step.until)}.", isSubtle=True))
    elif step.answered == "acknowledged":
        body.append(text("You acknowledged it; its reminders have resumed, as it is still open.", isSubtle=True))
    elif step.answered == "snoozed" and step.until and step.until >= today:
        body.append(text(f"You snoozed it until {day(step.until)}.", isSubtle=True))
    by_allocating = step.by_operation == "order.allocate"
    actions = _step_actions(data, by_allocating)
    if by_allocating and not may_allocate:
        actions = actions[1:]
        body.append(text("The Safeguarding Unit allocates the IRO.", isSubtle=True))
    return card(*body, *_step_inputs(by_allocating), actions=[*actions, opener], refresh=again)


def message(value: str, *, attention: bool = False) -> Card:
    return card(text(value, color="Attention" if attention else "Default"))
