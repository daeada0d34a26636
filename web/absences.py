"""The absences page: who is away and who covers, and the form to record or cancel an absence.

The form posts to the same operations chat and the command line use (handlers/absences.py), which check who may
record whose absence and audit each change and refusal; a form that cannot be used comes back with what was typed
and the problem beside its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from handlers import absences
from handlers.directory import person_by_id
from handlers.errors import InvalidInput, NotAllowed, NotFound
from rules.ukdates import DateNotUnderstood, parse_uk_date
from web.page import DASHBOARD, render, viewer
from web.sessions import session_of

TITLE = "Absences and cover"
NOTICE = "absence_notice"
FIELDS = ("person", "first_day", "last_day", "cover")
# Where a handler's problem shows: the field it is about, else above the form.
_FIELD_OF = {"first_day": "first_day", "last_day": "last_day", "cover": "cover"}


async def _show(request: web.Request, *, status: int = 200, typed: Mapping[str, str] | None = None,
                problems: Mapping[str, str] | None = None) -> web.Response:  # fmt: skip
    person = await viewer(request)
    ctx = request.app[DASHBOARD].ctx
    context: dict[str, Any] = {
        "title": TITLE, "absences": await absences.absences(ctx), "choices": await absences.choices(ctx, person.actor),
        "notice": session_of(request).pop(NOTICE, None), "typed": typed or {"person": str(person.id)},
        "problems": problems or {}, "may_cancel": {a.id for a in await _cancellable(request)},
    }  # fmt: skip
    return await render(request, "absences.html", context, status=status)


async def _cancellable(request: web.Request) -> list[absences.AbsenceView]:
    person = await viewer(request)
    ctx = request.app[DASHBOARD].ctx
    mine = {person_id for person_id, _ in (await absences.choices(ctx, person.actor)).away}
    return [a for a in await absences.absences(ctx) if a.person_id in mine]


async def show(request: web.Request) -> web.Response:
    return await _show(request)


async def _email_of(request: web.Request, chosen: str) -> str | None:
    found = await person_by_id(request.app[DASHBOARD].ctx, int(chosen)) if chosen.isdigit() else None
    return found.email if found is not None else None


async def record(request: web.Request) -> web.Response:
    person = await viewer(request)
    ctx = request.app[DASHBOARD].ctx
    posted = await request.post()
    typed = {name: str(posted.get(name, "")).strip() for name in FIELDS}
    problems: dict[str, str] = {}
    who = await _email_of(request, typed["person"])
    if who is None:
        problems["person"] = "Choose who is away."
    days = {}
    for name, what in (("first_day", "the first day away"), ("last_day", "the last day away")):
        if not typed[name]:
            problems[name] = f"Give {what} (for example 14 August 2026)."
            continue
        try:
            days[name] = parse_uk_date(typed[name], ctx.today())
        except DateNotUnderstood as error:
            problems[name] = str(error)
    cover = await _email_of(request, typed["cover"]) if typed["cover"] else None
    if typed["cover"] and cover is None:
        problems["cover"] = "Choose who covers from the list, or no one."
    if problems or who is None:
        return await _show(request, status=400, typed=typed, problems=problems)
    try:
        done = await absences.record_absence(ctx, person.actor, who, days["first_day"], days["last_day"], cover)
    except NotAllowed as error:
        return await render(request, "problem.html", {"title": "Absence not recorded", "sentence": str(error)},
                            status=403)  # fmt: skip
    except (InvalidInput, NotFound) as error:
        field = _FIELD_OF.get(getattr(error, "field", None) or "", "form")
        return await _show(request, status=400, typed=typed, problems={field: str(error)})
    session_of(request)[NOTICE] = f"Recorded: {done.words}"
    raise web.HTTPSeeOther("/absences")


async def cancel(request: web.Request) -> web.Response:
    person = await viewer(request)
    ctx = request.app[DASHBOARD].ctx
    try:
        done = await absences.cancel_absence(ctx, person.actor, int(request.match_info["absence"]))
    except NotAllowed as error:
        return await render(request, "problem.html", {"title": "Absence not cancelled", "sentence": str(error)},
                            status=403)  # fmt: skip
    except NotFound as error:
        return await _show(request, status=400, problems={"form": str(error)})
    session_of(request)[NOTICE] = f"Cancelled: {done.words}"
    raise web.HTTPSeeOther("/absences")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/absences", show, name="web.absences")
    app.router.add_post("/absences", record, name="web.absences.record")
    app.router.add_post(r"/absences/{absence:\d+}/cancel", cancel, name="web.absences.cancel")
