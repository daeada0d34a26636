"""The import page: the Safeguarding Unit uploads the council's spreadsheet, reads the dry run, confirms it, and works
through the steps it brought in to confirm.

The uploaded file stays in this process's memory under a random id (never in the cookie), for its uploader only,
until it is imported or KEPT_FOR has passed; the dry run and the import run as tasks of their own, and the page
shows how far they have got (web/static/import-progress.js asks the status address and refreshes the page once
the work is done; without scripts, the page's own "Check again" link does the same).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from handlers import confirm, imports
from handlers.context import Actor
from handlers.directory import PersonView
from handlers.errors import NotAllowed, RequestError
from handlers.import_sheet import read_sheet
from web.page import DASHBOARD, render, viewer

# The largest file the page takes: the web app's own limit on a request's body (aiohttp's default, 1 MiB), about
# 10,000 orders as XLSX; a larger one goes through `sobot orders import`.
UPLOAD_LIMIT = 1024 * 1024
KEPT_FOR = timedelta(hours=2)
FIELD = "sheet"
CHECKING, CHECKED, IMPORTING, IMPORTED, FAILED = "checking", "checked", "importing", "imported", "failed"


@dataclass
class Upload:
    """One uploaded file and what has been done with it so far."""

    id: str
    owner: str
    name: str
    content: bytes
    at: datetime
    stage: str = CHECKING
    done: int = 0
    total: int = 0
    preview: imports.ImportReport | None = None
    result: imports.ImportReport | None = None
    sentence: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


@dataclass
class Uploads:
    """The files uploaded to this process, by id."""

    kept: dict[str, Upload] = field(default_factory=dict)

    def add(self, owner: str, name: str, content: bytes, now: datetime) -> Upload:
        for old in [u for u in self.kept.values() if now - u.at > KEPT_FOR and u.stage not in (CHECKING, IMPORTING)]:
            del self.kept[old.id]
        upload = Upload(secrets.token_urlsafe(24), owner, name, content, now)
        self.kept[upload.id] = upload
        return upload

    def get(self, upload_id: str, owner: str) -> Upload:
        upload = self.kept.get(upload_id)
        if upload is None or upload.owner != owner:
            raise web.HTTPNotFound(text="There is no such upload: upload the file again.", content_type="text/plain")
        return upload


UPLOADS = web.AppKey("sobot_uploads", Uploads)


async def page(request: web.Request, *, status: int = 200, problem: str | None = None) -> web.Response:
    person = await viewer(request)
    ctx = request.app[DASHBOARD].ctx
    try:
        checklist = await confirm.checklist(ctx, person.actor)
    except NotAllowed as error:
        return await render(request, "problem.html", {"title": "Import orders", "sentence": str(error)}, status=403)
    context = {"title": "Import orders", "checklist": checklist, "problem": problem, "field": FIELD,
               "limit_mb": UPLOAD_LIMIT // (1024 * 1024)}  # fmt: skip
    return await render(request, "imports.html", context, status=status)


async def upload(request: web.Request) -> web.StreamResponse:
    person = await viewer(request)
    ctx = request.app[DASHBOARD].ctx
    try:
        await imports.may_import(ctx, person.actor)
    except NotAllowed as error:
        return await render(request, "problem.html", {"title": "Import orders", "sentence": str(error)}, status=403)
    posted = await request.post()
    sent = posted.get(FIELD)
    if not isinstance(sent, web.FileField) or not sent.filename:
        return await page(request, status=400, problem="Choose the spreadsheet to upload (.xlsx or .csv).")
    content = sent.file.read()
    if not content:
        return await page(request, status=400, problem=f"{sent.filename} is empty: choose the council's spreadsheet.")
    kept = request.app[UPLOADS].add(person.actor.label, sent.filename, content, ctx.clock.now())
    kept.task = asyncio.create_task(_run(request.app, kept, person.actor, dry_run=True, skip_bad=False))
    raise web.HTTPSeeOther(f"/imports/{kept.id}")


async def _run(app: web.Application, kept: Upload, actor: Actor, *, dry_run: bool, skip_bad: bool) -> None:
    """The dry run, or the import, of an uploaded file, telling the upload how far it has got."""
    dashboard = app[DASHBOARD]
    ctx = dashboard.ctx
    keys = {key for procedure in ctx.procedures.values() for key in procedure.event_keys()}

    def told(done: int, total: int) -> None:
        kept.done, kept.total = done, total

    try:
        sheet = await asyncio.to_thread(read_sheet, kept.name, kept.content, keys)
        kept.total = len(sheet.rows)
        report = await imports.import_orders(ctx, sheet, actor, dry_run=dry_run, skip_bad=skip_bad,
                                             forecast=dashboard.forecast, progress=told)  # fmt: skip
    except RequestError as error:
        kept.stage, kept.sentence = FAILED, str(error)
        return
    if dry_run:
        kept.preview, kept.stage = report, CHECKED
    else:
        kept.result, kept.stage = report, IMPORTED
        kept.content = b""  # imported: the file is no longer needed


async def show(request: web.Request) -> web.Response:
    person = await viewer(request)
    kept = request.app[UPLOADS].get(request.match_info["upload"], person.actor.label)
    context: dict[str, Any] = {"title": f"Import of {kept.name}", "upload": kept, "working": kept.stage in
                               (CHECKING, IMPORTING), "report": kept.result or kept.preview}  # fmt: skip
    return await render(request, "import.html", context)


async def status(request: web.Request) -> web.Response:
    """How far the work on an upload has got, for the page's script."""
    person = await viewer(request)
    kept = request.app[UPLOADS].get(request.match_info["upload"], person.actor.label)
    return web.json_response({"stage": kept.stage, "done": kept.done, "total": kept.total})


async def confirm_import(request: web.Request) -> web.StreamResponse:
    person = await viewer(request)
    kept = request.app[UPLOADS].get(request.match_info["upload"], person.actor.label)
    if kept.stage != CHECKED:
        raise web.HTTPSeeOther(f"/imports/{kept.id}")
    posted = await request.post()
    kept.stage, kept.done = IMPORTING, 0
    skip_bad = posted.get("skip_bad") == "1"
    kept.task = asyncio.create_task(_run(request.app, kept, person.actor, dry_run=False, skip_bad=skip_bad))
    raise web.HTTPSeeOther(f"/imports/{kept.id}")


def may_see(person: PersonView | None) -> bool:
    """Whether the page's way in (its nav entry) is shown to this person."""
    return person is not None and imports.may_import_as(person.roles)


def add_routes(app: web.Application) -> None:
    """The page's routes, and `may_import(viewer)` for base.html's nav."""
    app[UPLOADS] = Uploads()
    shown: Callable[[PersonView | None], bool] = may_see
    aiohttp_jinja2.get_env(app).globals["may_import"] = shown
    app.router.add_get("/imports", page, name="web.imports")
    app.router.add_post("/imports", upload, name="web.imports.upload")
    app.router.add_get("/imports/{upload}", show, name="web.imports.show")
    app.router.add_get("/imports/{upload}/status", status, name="web.imports.status")
    app.router.add_post("/imports/{upload}/confirm", confirm_import, name="web.imports.confirm")
