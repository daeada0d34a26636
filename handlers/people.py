"""The directory: importing people and their roles, teams and managers from a CSV file."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
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
    line: int = 0  # where in the file it was, for the sentences that name it


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int


# One @, something either side, a dot in the domain, no spaces: enough to refuse "@" and "a@b@c".
ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
NOTHING_IMPORTED = "Nothing was imported. Fix these and import again:\n  "


def parse_people(text: str) -> list[PersonRow]:
    """The rows of a people CSV, or InvalidInput listing every problem with its line number."""
    lines = csv.reader(io.StringIO(text.lstrip("\ufeff")), strict=True)
    try:
        headers = [h.strip().lower() for h in next(lines, [])]
    except csv.Error as error:
        raise InvalidInput(NOTHING_IMPORTED + _malformed(1, error)) from None
    missing = [c for c in REQUIRED if c not in headers]
    if missing:
        raise InvalidInput(
            f"The file has no {', '.join(missing)} column: its first line must name the columns "
            f"{', '.join(COLUMNS)} (entra_id, team and manager_email may be empty)."
        )
    problems: list[str] = []
    rows: list[PersonRow] = []
    seen: dict[str, int] = {}
    entra_seen: dict[str, int] = {}
    while True:
        line = lines.line_num + 1  # where the next record starts; a quoted value may run over several lines
        try:
            cells = next(lines, None)
        except csv.Error as error:
            problems.append(_malformed(line, error))
            break
        if cells is None:
            break
        values = {header: cell.strip() for header, cell in zip(headers, cells, strict=False) if header}
        if not any(values.values()):
            continue
        email = values.get("email", "").lower()
        manager_email = values.get("manager_email", "").lower()
        entra_id = values.get("entra_id", "")
        roles = tuple(r.strip().lower() for r in values.get("roles", "").split(";") if r.strip())
        if not values.get("name"):
            problems.append(f"line {line}: the name is empty")
        if not ADDRESS.fullmatch(email):
            problems.append(f"line {line}: {email or 'the email'!r} is not an email address (write it like "
                            "name@council.gov.uk)")  # fmt: skip
        elif email in seen:
            problems.append(f"line {line}: {email} is also on line {seen[email]}")
        seen.setdefault(email, line)
        if manager_email and not ADDRESS.fullmatch(manager_email):
            problems.append(f"line {line}: the manager's email {manager_email!r} is not an email address")
        elif manager_email and manager_email == email:
            problems.append(f"line {line}: {email} is given as their own manager")
        if entra_id and entra_id in entra_seen:
            problems.append(f"line {line}: the Entra id {entra_id} is also on line {entra_seen[entra_id]}")
        entra_seen.setdefault(entra_id, line)
        unknown = [r for r in roles if r not in ROLES]
        if unknown:
            problems.append(f"line {line}: unknown role {unknown[0]!r} (roles: {', '.join(ROLES)})")
        rows.append(
            PersonRow(
                name=values.get("name", ""), email=email, roles=roles, team=values.get("team") or None,
                manager_email=manager_email or None, entra_id=entra_id or None, line=line,
            )
        )  # fmt: skip
    if not problems:
        managers = {row.email: row.manager_email for row in rows}
        problems = [problem for row in rows if (problem := _cycle(row, managers))]
    if problems:
        raise InvalidInput(NOTHING_IMPORTED + "\n  ".join(problems))
    return rows


def _malformed(line: int, error: csv.Error) -> str:
    if "unexpected end of data" in str(error):
        return f'line {line}: a quote (") opened here is never closed: close it, or take it out'
    return f'line {line}: a quote (") is misplaced ({error}): quote whole values only, like "Smith, Jo"'


def _cycle(row: PersonRow, managers: Mapping[str, str | None]) -> str | None:
    """The sentence for a row whose chain of managers leads back to them, if it does."""
    chain = [row.email]
    while (manager := managers.get(chain[-1])) is not None:
        if manager == row.email:
            if len(chain) == 2:
                return f"line {row.line}: {row.email} and {chain[1]} are given as each other's manager"
            return f"line {row.line}: {row.email}'s managers lead back to them ({' → '.join([*chain, row.email])})"
        if manager in chain:
            return None  # a circle further up, which its own rows report
        chain.append(manager)
    return None


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
        problems = _against_the_directory(rows, existing)
        if problems:
            raise InvalidInput(NOTHING_IMPORTED + "\n  ".join(problems))
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


def _against_the_directory(rows: list[PersonRow], existing: Mapping[str, models.Person]) -> list[str]:
    """What the file would make wrong with the people already in the directory: a shared Entra id, a circle."""
    problems = []
    by_entra_id = {p.entra_id: p.email for p in existing.values() if p.entra_id}
    for row in rows:
        holder = by_entra_id.get(row.entra_id or "")
        if holder is not None and holder != row.email:
            problems.append(f"line {row.line}: the Entra id {row.entra_id} is {holder}'s in the directory")
    by_id = {p.id: p.email for p in existing.values()}
    managers = {p.email: by_id.get(p.manager_id) if p.manager_id else None for p in existing.values()}
    managers.update({row.email: row.manager_email for row in rows})
    problems += [problem for row in rows if (problem := _cycle(row, managers))]
    return problems
