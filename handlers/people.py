"""The directory: importing people and their roles, teams and managers from a CSV file."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import select

from handlers import records
from handlers.context import Actor, Context
from handlers.errors import InvalidInput
from rules.procedures import ROLES
from storage import models

COLUMNS = ("name", "email", "roles", "team", "manager_email", "entra_id")
REQUIRED = ("name", "email", "roles")


@dataclass(frozen=True)
class PersonRow:
    name: str
    email: str
    roles: tuple[str, ...]
    team: str | None
    manager_email: str | None
    entra_id: str | None


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int


def parse_people(text: str) -> list[PersonRow]:
    """The rows of a people CSV, or InvalidInput listing every problem with its line number."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in headers]
    if missing:
        raise InvalidInput(
            f"The file has no {', '.join(missing)} column: its first line must name the columns "
            f"{', '.join(COLUMNS)} (entra_id, team and manager_email may be empty)."
        )
    problems: list[str] = []
    rows: list[PersonRow] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        values = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
        if not any(values.values()):
            continue
        email = values.get("email", "").lower()
        roles = tuple(r.strip().lower() for r in values.get("roles", "").split(";") if r.strip())
        if not values.get("name"):
            problems.append(f"line {line}: the name is empty")
        if "@" not in email:
            problems.append(f"line {line}: {email or 'the email'!r} is not an email address")
        elif email in seen:
            problems.append(f"line {line}: {email} is also on line {seen[email]}")
        seen.setdefault(email, line)
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            problems.append(f"line {line}: unknown role {unknown[0]!r} (roles: {', '.join(ROLES)})")
        rows.append(
            PersonRow(
                name=values.get("name", ""),
                email=email,
                roles=roles,
                team=values.get("team") or None,
                manager_email=(values.get("manager_email") or "").lower() or None,
                entra_id=values.get("entra_id") or None,
            )
        )
    if problems:
        raise InvalidInput("Nothing was imported. Fix these and import again:\n  " + "\n  ".join(problems))
    return rows


async def import_people(ctx: Context, text: str, actor: Actor) -> ImportResult:
    """Add or update everyone in the file (matched by email): a re-import updates, never duplicates."""
    rows = parse_people(text)
    async with ctx.database.session() as session:
        existing = {p.email: p for p in (await session.scalars(select(models.Person))).all()}
        in_file = {row.email for row in rows}
        missing = sorted({row.manager_email for row in rows if row.manager_email} - in_file - set(existing))
        if missing:
            raise InvalidInput(
                f"Nothing was imported: the manager {missing[0]} is neither in the file nor in the directory."
            )
        now = ctx.clock.now()
        added = updated = 0
        people: dict[str, models.Person] = dict(existing)
        for row in rows:
            person = people.get(row.email)
            if person is None:
                person = models.Person(email=row.email, created_at=now)
                session.add(person)
                people[row.email] = person
                added += 1
            else:
                updated += 1
            person.name = row.name
            person.roles = list(row.roles)
            person.team = row.team
            person.active = True
            if row.entra_id:
                person.entra_id = row.entra_id
            person.updated_at = now
        await session.flush()
        for row in rows:
            person = people[row.email]
            person.manager_id = people[row.manager_email].id if row.manager_email else None
        records.audit(session, ctx, actor, "people.import", None, {"added": added, "updated": updated})
        return ImportResult(added, updated)
