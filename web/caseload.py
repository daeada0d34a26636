"""The caseload page: its filters read from the address (ids and choices only, never a name), the search by post,
and the same view exported as CSV or XLSX."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from aiohttp import web

from handlers import caseload as handler
from handlers.caseload import CaseloadQuery
from web import export
from web.page import DASHBOARD, render, viewer

MAX_WORKING_DAYS = 60
# The fields of the filter form, as the address carries them.
FIELDS = ("team", "procedure", "iro", "unallocated", "overdue", "due_within", "ending", "status", "sort", "dir")


@dataclass
class Asked:
    """The filter form as sent: the query it makes, what was typed, and a sentence for each field it could not use."""

    query: CaseloadQuery
    typed: dict[str, str]
    problems: dict[str, str] = field(default_factory=dict)


def _flag(values: Mapping[str, object], name: str) -> bool:
    return values.get(name, "") in ("1", "on", "yes", "true")


def asked(values: Mapping[str, object], search: str | None = None) -> Asked:
    """The caseload's query from the filter form's fields; a field it cannot use is left out, with its problem."""
    typed = {name: str(values.get(name, "")).strip() for name in FIELDS}
    problems: dict[str, str] = {}
    iro_id = None
    if typed["iro"]:
        if typed["iro"].isdigit():
            iro_id = int(typed["iro"])
        else:
            problems["iro"] = "Choose an IRO from the list."
    due_within = None
    if typed["due_within"]:
        if typed["due_within"].isdigit() and 1 <= int(typed["due_within"]) <= MAX_WORKING_DAYS:
            due_within = int(typed["due_within"])
        else:
            problems["due_within"] = (
                f"Give a whole number of working days from 1 to {MAX_WORKING_DAYS} (for example 10), or leave it "
                f"empty; “{typed['due_within']}” is not one."
            )
    status = typed["status"] or "open"
    if status not in handler.STATUSES:
        problems["status"] = "Choose open, ended or all orders."
        status = "open"
    sort = typed["sort"] or "reference"
    if sort not in handler.SORTS:
        problems["sort"] = "Choose a column to sort by from the list."
        sort = "reference"
    raw_page = str(values.get("page", "1"))
    page = int(raw_page) if raw_page.isdigit() and int(raw_page) > 0 else 1
    query = CaseloadQuery(
        team=typed["team"] or None, procedure=typed["procedure"] or None, iro_id=iro_id,
        unallocated=_flag(values, "unallocated"), overdue=_flag(values, "overdue"), due_within=due_within,
        ending_soon=_flag(values, "ending"), status=status, search=search, sort=sort,
        descending=typed["dir"] != "asc" if typed["dir"] else sort in ("reference", "overdue", "made"), page=page,
    )  # fmt: skip
    typed["unallocated"] = "1" if query.unallocated else ""
    typed["overdue"] = "1" if query.overdue else ""
    typed["ending"] = "1" if query.ending_soon else ""
    return Asked(query, typed, problems)


def address(path: str, typed: Mapping[str, str], **changes: str | int) -> str:
    """This view's address with some fields changed (only the fields that hold something)."""
    values = {**typed, **{k: str(v) for k, v in changes.items()}}
    kept = [(k, v) for k, v in values.items() if v]
    return path + ("?" + urlencode(kept) if kept else "")


async def _page(request: web.Request, form: Asked, searched: str | None = None) -> web.Response:
    person = await viewer(request)
    ctx = request.app[DASHBOARD].ctx
    result = await handler.caseload(ctx, person, form.query)
    context = {
        "title": "Caseload", "result": result, "typed": form.typed, "problems": form.problems,
        "choices": await handler.choices(ctx), "searched": searched, "sorts": SORT_WORDS,
        "previous": address("/caseload", form.typed, page=result.page - 1) if result.page > 1 else None,
        "next": address("/caseload", form.typed, page=result.page + 1) if result.page < result.pages else None,
        "csv": address("/caseload/export.csv", form.typed), "xlsx": address("/caseload/export.xlsx", form.typed),
        "sorted_by": {name: address("/caseload", form.typed, sort=name, dir=_flip(form, name)) for name in SORT_WORDS},
    }  # fmt: skip
    return await render(request, "caseload.html", context, status=400 if form.problems else 200)


def _flip(form: Asked, name: str) -> str:
    if form.query.sort != name:
        return "asc" if name not in ("overdue", "made", "reference") else "desc"
    return "asc" if form.query.descending else "desc"


SORT_WORDS = {
    "reference": "Reference", "made": "Made", "last_day": "Last day", "next_due": "Next step's date",
    "overdue": "Overdue steps", "social_worker": "Social worker", "team": "Team", "iro": "IRO",
}  # fmt: skip


async def caseload(request: web.Request) -> web.Response:
    return await _page(request, asked(request.query))


async def search(request: web.Request) -> web.Response:
    """A search by reference or child ID, sent by post so that a child's ID never sits in an address."""
    form = await request.post()
    words = str(form.get("q", "")).strip()
    found = asked(form, search=words or None)
    if not words:
        found.problems["q"] = "Type an order's reference (for example SO-2026-0007) or a child's ID to search for."
    return await _page(request, found, searched=words)


async def download(request: web.Request) -> web.Response:
    person = await viewer(request)
    kind = request.match_info["kind"]
    form = asked(request.query)
    lines = await handler.export(request.app[DASHBOARD].ctx, person, form.query, kind)
    today = request.app[DASHBOARD].ctx.today()
    name = f"sobot-caseload-{today.isoformat()}.{kind}"
    body, content_type = (export.csv_bytes(lines), "text/csv") if kind == "csv" else (export.xlsx_bytes(lines),
                                                                                        export.XLSX)  # fmt: skip
    return web.Response(body=body, content_type=content_type,
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


def add_routes(app: web.Application) -> None:
    app.router.add_get("/caseload", caseload, name="web.caseload")
    app.router.add_post("/caseload/search", search, name="web.caseload.search")
    app.router.add_get(r"/caseload/export.{kind:csv|xlsx}", download, name="web.caseload.export")
