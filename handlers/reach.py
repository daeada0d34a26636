"""Who sobot can reach in Teams, who gets email, and why: the records of installing the app for people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from handlers import records
from handlers.context import SYSTEM, Context
from handlers.directory import PersonView, person_view
from storage import models, people

INSTALL = "teams.install"
# A failed installation is not tried again for someone sooner than this: every notice would ask Graph again.
RETRY_INSTALL = timedelta(days=1)


@dataclass(frozen=True)
class Reach:
    """How one person is told: "teams" or "email", and why, in a sentence."""

    person: PersonView
    channel: str
    why: str


@dataclass(frozen=True)
class Installee:
    """Someone sobot may install itself for: who they are, and how Graph knows them (Entra object id or email)."""

    person: PersonView
    entra_id: str | None

    @property
    def graph_user(self) -> str:
        return self.entra_id or self.person.email


async def installee(ctx: Context, person_id: int) -> Installee | None:
    """The active person with this id, with their Entra object id; None for an unknown or departed one."""
    found = await people.active_person(ctx.database, person_id)
    return Installee(person_view(found), found.entra_id) if found is not None else None


async def installed(ctx: Context, person_id: int, chat_id: str) -> None:
    async with ctx.database.session() as session:
        records.audit(session, ctx, SYSTEM, INSTALL, None, {"person_id": person_id, "chat": chat_id})


async def not_installed(ctx: Context, person_id: int, reason: str) -> None:
    async with ctx.database.session() as session:
        records.audit(session, ctx, SYSTEM, INSTALL, None, {"person_id": person_id, "reason": reason}, "refused")


async def _installs(ctx: Context) -> dict[int, models.AuditEntry]:
    """The latest installation attempt for each person."""
    async with ctx.database.session() as session:
        found = await session.scalars(
            select(models.AuditEntry).where(models.AuditEntry.action == INSTALL).order_by(models.AuditEntry.id)
        )
        return {int(entry.details["person_id"]): entry for entry in found if "person_id" in entry.details}


async def failed_lately(ctx: Context, person_id: int) -> str | None:
    """Why installing the app for them failed, if it did within RETRY_INSTALL (then it is not tried again yet)."""
    async with ctx.database.session() as session:
        found = await session.scalars(
            select(models.AuditEntry)
            .where(models.AuditEntry.action == INSTALL, models.AuditEntry.at >= ctx.clock.now() - RETRY_INSTALL)
            .order_by(models.AuditEntry.id.desc())
        )
        for entry in found:
            if entry.details.get("person_id") == person_id:
                return str(entry.details.get("reason", "")) if entry.outcome == "refused" else None
    return None


async def reach_report(ctx: Context, cannot_install: str | None) -> list[Reach]:
    """Each active person in the directory and how sobot tells them; `cannot_install` is why sobot may not install
    itself for people in Teams (None when Microsoft Graph is set up for it)."""
    async with ctx.database.session() as session:
        people = (
            await session.scalars(
                select(models.Person).where(models.Person.active.is_(True)).order_by(models.Person.name)
            )
        ).all()
        chats = await session.execute(
            select(models.ConversationReference.person_id, models.ConversationReference.updated_at).where(
                models.ConversationReference.kind == "personal",
                models.ConversationReference.stale.is_(False),
                models.ConversationReference.person_id.is_not(None),
            )
        )
        since: dict[int, datetime] = {}
        for person_id, at in chats:
            if person_id is not None:
                since[person_id] = max(at, since.get(person_id, at))
        gone = set(
            (
                await session.scalars(
                    select(models.ConversationReference.person_id).where(
                        models.ConversationReference.kind == "personal", models.ConversationReference.stale.is_(True)
                    )
                )
            ).all()
        )
    installs = await _installs(ctx)
    found = []
    for person in people:
        view = person_view(person)
        attempt = installs.get(person.id)
        if person.id in since:
            made = (
                "sobot installed itself for them"
                if attempt is not None and attempt.outcome == "ok"
                else "they opened it"
            )
            found.append(
                Reach(view, "teams", f"a personal chat with the bot ({made}; updated {since[person.id]:%d %b %Y}).")
            )
        elif attempt is not None and attempt.outcome == "refused":
            found.append(Reach(view, "email", f"installing sobot for them failed on {attempt.at:%d %b %Y}: "
                                              f"{attempt.details.get('reason', '')}"))  # fmt: skip
        elif cannot_install is None:
            left = " (the bot was removed from their chat)" if person.id in gone else ""
            found.append(Reach(view, "teams", f"no chat with the bot yet{left}: sobot installs itself for them the "
                                              "first time it must tell them something."))  # fmt: skip
        else:
            left = "the bot was removed from their chat" if person.id in gone else "no chat with the bot"
            found.append(Reach(view, "email", f"{left}, and sobot cannot install itself for them: {cannot_install}"))
    return found
