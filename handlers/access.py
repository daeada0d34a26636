"""Who may see or change one order: the people its procedure would tell, and the roles that oversee every order."""

from __future__ import annotations

from handlers import records
from handlers.context import Actor, Context
from handlers.directory import PersonView
from handlers.errors import NotAllowed
from handlers.queries import OVERSIGHT_ROLES
from handlers.recipients import circle
from rules.procedures import Procedure


def procedure_roles(procedure: Procedure) -> set[str]:
    """Every role the procedure gives a step of an order: owners, first and last owners, escalations."""
    roles = {"social_worker", "team_manager", "iro"}
    for rule in procedure.milestones:
        roles.update(role for role in (rule.owner, rule.owner_first, rule.owner_last) if role)
        roles.update(step.to for step in rule.escalation)
    return roles


async def require_linked(ctx: Context, person: PersonView, reference: str, action: str) -> None:
    """Refuse (and audit the attempt) unless `person` oversees every order or is one the order's procedure tells."""
    if OVERSIGHT_ROLES & set(person.roles):
        return
    async with ctx.database.session() as session:
        order = await records.order(session, reference)
        roles = procedure_roles(records.procedure(ctx, order.procedure_id)) & set(person.roles)
        around = await circle(session, order, roles)
        for role in roles:
            if any(found.person_id == person.id for found in around.choose(role)):
                return
        records.audit(session, ctx, person.actor, action, order.reference, {"needs": "linked to the order"},
                      outcome="refused")  # fmt: skip
        reference = order.reference
    raise NotAllowed(
        f"You are not linked to {reference}: only its social worker, their manager, its IRO, the people its "
        "procedure names and the Safeguarding Unit can see or change it."
    )


async def refuse_stranger(ctx: Context, who: str, attempt: str) -> None:
    """Audit an attempt by someone not in the directory (they are told whom to ask; nothing else happens)."""
    async with ctx.database.session() as session:
        records.audit(session, ctx, Actor(who), "directory.stranger", None, {"attempt": attempt}, outcome="refused")
