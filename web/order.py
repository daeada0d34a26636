"""One order's page, and the forms on it: record a step done or an event, allocate an IRO, extend, end.

Each form posts to the same operation chat uses (handlers/orders.py), which checks who may do it and audits both
the action and any refusal. A form that cannot be used comes back with what was typed and each problem beside its
field; a refusal comes back with the sentence the operation gave.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any

from aiohttp import web

from handlers import confirm, orders, records
from handlers.context import Actor, Context
from handlers.directory import PersonView, person_by_id
from handlers.errors import InvalidInput, NotAllowed, NotFound
from handlers.order_page import order_page
from handlers.steps import title as step_title
from rules.ukdates import DateNotUnderstood, parse_uk_date
from web.page import DASHBOARD, render, viewer
from web.sessions import session_of
from web.timeline import SHAPES, WORDS, picture

NOTICE = "notice"
# The fields of each form, by the form's name: what is kept when it comes back with problems.
FORMS: Mapping[str, tuple[str, ...]] = {
    "step": ("key", "on"),
    "event": ("key", "on", "value"),
    "allocate": ("iro",),
    "extend": ("last_day", "decided_on"),
    "end": ("reason", "on"),
    "confirm": ("step", "outcome", "on"),
}
END_REASONS = (("discharged", "Discharged by the court"), ("expired", "Expired"),
               ("replaced", "Replaced by a full order (an interim order only)"))  # fmt: skip


class Problems(Exception):
    """A form's fields that could not be used, each with its sentence."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


def _reference(request: web.Request) -> str:
    try:
        return records.normalise_reference(request.match_info["reference"])
    except NotFound as error:
        raise web.HTTPNotFound(text=str(error), content_type="text/plain") from None


async def _show(request: web.Request, reference: str, *, status: int = 200, form: str | None = None,
                typed: Mapping[str, str] | None = None, problems: Mapping[str, str] | None = None,
                refused: str | None = None) -> web.Response:  # fmt: skip
    person = await viewer(request)
    ctx = request.app[DASHBOARD].ctx
    try:
        page = await order_page(ctx, reference, person.actor, request.app[DASHBOARD].directory)
    except NotFound as error:
        return await render(request, "problem.html", {"title": "No such order", "sentence": str(error)}, status=404)
    except NotAllowed as error:
        return await render(request, "problem.html", {"title": f"You cannot see {reference}", "sentence": str(error)},
                            status=403)  # fmt: skip
    notice = session_of(request).pop(NOTICE, None)
    context: dict[str, Any] = {
        "title": f"Order {page.order.reference}", "page": page, "order": page.order, "notice": notice,
        "picture": picture(page.order.reference, page.order.made, page.order.last_day, page.limit, page.today,
                           page.steps),
        "shapes": SHAPES, "state_words": WORDS, "end_reasons": END_REASONS, "form": form, "typed": typed or {},
        "problems": problems or {}, "refused": refused, "open_steps": [s for s in page.steps if s.may_record],
        "unconfirmed": [s for s in page.steps if s.state == records.TO_CONFIRM],
    }  # fmt: skip
    return await render(request, "order.html", context, status=status)


async def show(request: web.Request) -> web.Response:
    return await _show(request, _reference(request))


def _date(typed: Mapping[str, str], name: str, today: date, problems: dict[str, str], *,
          required: bool = True) -> date | None:  # fmt: skip
    text = typed.get(name, "")
    if not text:
        if required:
            problems[name] = "Give the date (for example 12 May 2026)."
        return None
    try:
        return parse_uk_date(text, today)
    except DateNotUnderstood as error:
        problems[name] = str(error)
        return None


def _chosen_on(ctx: Context, typed: Mapping[str, str], field: str, missing: str) -> tuple[str, date]:
    """A form's required `field` (else the sentence `missing` beside it) and its required date `on`."""
    problems: dict[str, str] = {}
    if not typed.get(field):
        problems[field] = missing
    on = _date(typed, "on", ctx.today(), problems)
    if problems or on is None:
        raise Problems(problems)
    return typed[field], on


async def _record_step(ctx: Context, reference: str, typed: Mapping[str, str], actor: Actor) -> str:
    key, on = _chosen_on(ctx, typed, "key", "Choose the step that was done.")
    view = await orders.record_event(ctx, reference, key, on, actor)
    title = step_title(ctx.procedures[view.procedure_id], key)
    return f"Recorded: {title}, done {on:%d %B %Y}."


async def _record_event(ctx: Context, reference: str, typed: Mapping[str, str], actor: Actor) -> str:
    key, on = _chosen_on(ctx, typed, "key", "Choose what happened.")
    await orders.record_event(ctx, reference, key, on, actor, value=typed.get("value") or None)
    return f"Recorded on {on:%d %B %Y}."


async def _allocate(ctx: Context, reference: str, typed: Mapping[str, str], actor: Actor) -> str:
    chosen = typed.get("iro", "")
    iro = await person_by_id(ctx, int(chosen)) if chosen.isdigit() else None
    if iro is None:
        raise Problems({"iro": "Choose an IRO from the list."})
    allocated = await orders.allocate_iro(ctx, reference, iro.email, actor)
    replaced = f" in place of {allocated.replaced}" if allocated.replaced else ""
    return f"{iro.name} is now the IRO for {reference}{replaced}."


async def _extend(ctx: Context, reference: str, typed: Mapping[str, str], actor: Actor) -> str:
    problems: dict[str, str] = {}
    last_day = _date(typed, "last_day", ctx.today(), problems)
    decided = _date(typed, "decided_on", ctx.today(), problems, required=False)
    if problems or last_day is None:
        raise Problems(problems)
    await orders.extend_order(ctx, reference, last_day, actor, decided)
    return f"Extended: {reference}'s last day is now {last_day:%d %B %Y}."


async def _end(ctx: Context, reference: str, typed: Mapping[str, str], actor: Actor) -> str:
    reason, on = _chosen_on(ctx, typed, "reason", "Say why the order ended.")
    await orders.end_order(ctx, reference, reason, on, actor)
    return f"Ended: {reference}, on {on:%d %B %Y}."


async def _confirm(ctx: Context, reference: str, typed: Mapping[str, str], actor: Actor) -> str:
    key, _, occurrence = typed.get("step", "").partition(":")
    problems: dict[str, str] = {}
    if not key or not occurrence.isdigit():
        problems["step"] = "Choose the step to confirm."
    outcome = typed.get("outcome")
    on = _date(typed, "on", ctx.today(), problems) if outcome == "done" else None
    if problems:
        raise Problems(problems)
    step = await confirm.confirm_step(ctx, reference, key, actor, on, int(occurrence))
    if on is None:
        return f"Confirmed outstanding: {step.title}; it is reminded and escalated from now."
    return f"Confirmed: {step.title}, done {on:%d %B %Y}."


Action = Callable[[Context, str, Mapping[str, str], Actor], Awaitable[str]]
# Each form's operation: the one map from the page's forms to what they do.
ACTIONS: Mapping[str, Action] = {
    "step": _record_step, "event": _record_event, "allocate": _allocate, "extend": _extend, "end": _end,
    "confirm": _confirm,
}  # fmt: skip


def _field_of(error: InvalidInput, form: str) -> str:
    """The form's field a handler's problem is about (its own name for it where the form calls it otherwise)."""
    named = {"made": "on", "date": "on", "occurred_on": "on"}.get(error.field or "", error.field or "")
    return named if named in FORMS[form] else "form"


async def act(request: web.Request) -> web.Response:
    reference = _reference(request)
    form = request.match_info["form"]
    person: PersonView = await viewer(request)
    posted = await request.post()
    typed = {name: str(posted.get(name, "")).strip() for name in FORMS[form]}
    ctx = request.app[DASHBOARD].ctx
    try:
        done = await ACTIONS[form](ctx, reference, typed, person.actor)
    except Problems as problems:
        return await _show(request, reference, status=400, form=form, typed=typed, problems=problems.problems)
    except NotAllowed as error:
        # The refusal alone (audited by the operation): showing the order again would be a look not asked for,
        # and one some of those refused may not have.
        return await render(request, "problem.html", {"title": f"Not done on {reference}", "sentence": str(error),
                                                      "back": f"/orders/{reference}"}, status=403)  # fmt: skip
    except InvalidInput as error:
        return await _show(request, reference, status=400, form=form, typed=typed,
                           problems={_field_of(error, form): str(error)})  # fmt: skip
    except NotFound as error:
        return await _show(request, reference, status=400, form=form, typed=typed, problems={"form": str(error)})
    session_of(request)[NOTICE] = done
    raise web.HTTPSeeOther(f"/orders/{reference}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/orders/{reference}", show, name="web.order")
    forms = "|".join(FORMS)
    app.router.add_post("/orders/{reference}/{form:" + forms + "}", act, name="web.order.act")
