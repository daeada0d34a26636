"""Who may do what to an order: one table of each role's actions and the orders it may do them on, and its checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import records
from handlers.context import Actor, Context
from handlers.errors import NotAllowed
from handlers.recipients import circle
from rules.procedures import ROLES, Procedure
from rules.recipients import ORDER_ROLES
from storage import models


class Scope(StrEnum):
    """The orders a role may do an action on."""

    EVERY = "every order"
    # The order's social worker is in the person's team, and the order's procedure gives the role a step.
    TEAM = "their team's"
    # The person is the order's social worker, that worker's manager, or its allocated IRO.
    LINKED = "linked"
    # The order's procedure sends the person its steps in this role: TEAM's orders, and those of any team that
    # has nobody in the role (rules.recipients.choose). Enough to answer what they were sent, and no more.
    TOLD = "when told"
    # An absence that is the person's own, or of someone whose manager they are: not about an order at all.
    OWN = "their own and their reports'"


# Every action an operation checks, by the name its audit line carries, and what it is in the users' words.
ACTIONS: Mapping[str, str] = {
    "order.view": "see an order",
    "event.record": "record an event, or a step its role owns",
    "step.record_any": "record any step done",
    "step.acknowledge": "acknowledge a reminder",
    "step.snooze": "snooze a reminder",
    "order.extend": "record an extension",
    "order.allocate": "allocate an IRO",
    "allocations.channel": "choose the allocation channel",
    "order.end": "end an order",
    "oversight.view": "see the oversight figures",
    "orders.import": "import orders from a spreadsheet",
    "step.confirm": "confirm an imported step done or outstanding",
    "absence.record": "record, change or cancel an absence",
}

EVERY, TEAM, LINKED, TOLD, OWN = Scope.EVERY, Scope.TEAM, Scope.LINKED, Scope.TOLD, Scope.OWN
_WORKS_ON_IT = ("order.view", "event.record", "step.acknowledge", "step.snooze", "order.extend")
# Everyone in the directory says when they are away, and a manager for the people they manage.
_AWAY = {"absence.record": OWN}
# A role many people hold acts on its team's orders, and answers (acknowledges, snoozes) whatever it is sent.
_IN_ITS_TEAM = {**dict.fromkeys(_WORKS_ON_IT, TEAM), "step.acknowledge": TOLD, "step.snooze": TOLD, **_AWAY}

# Who may do what. A role missing from an action may not do it; the administrator (the command line, and sobot's
# own jobs) may do everything. Who is *told* about a step is another question, answered by rules.recipients.
TABLE: Mapping[str, Mapping[str, Scope]] = {
    "social_worker": {**dict.fromkeys(_WORKS_ON_IT, LINKED), "step.record_any": LINKED, **_AWAY},
    "team_manager": {**dict.fromkeys(_WORKS_ON_IT, LINKED), "step.record_any": LINKED, "oversight.view": TEAM, **_AWAY},
    "iro": {**dict.fromkeys(_WORKS_ON_IT, LINKED), **_AWAY},
    "safeguarding_unit": {
        **dict.fromkeys(_WORKS_ON_IT, EVERY),
        "step.record_any": EVERY,
        "order.allocate": EVERY,
        "allocations.channel": EVERY,
        "oversight.view": EVERY,
        "orders.import": EVERY,
        "step.confirm": EVERY,
        "absence.record": EVERY,
    },
    "service_manager": {**dict.fromkeys(_WORKS_ON_IT, EVERY), "oversight.view": EVERY, **_AWAY},
    "head_of_service": {**dict.fromkeys(_WORKS_ON_IT, EVERY), "oversight.view": EVERY, **_AWAY},
    "senior_reviewing_officer": {**dict.fromkeys(_WORKS_ON_IT, EVERY), **_AWAY},
    "legal": {**dict.fromkeys(_WORKS_ON_IT, EVERY), "oversight.view": EVERY, **_AWAY},
    "practice_manager": _IN_ITS_TEAM,
    "family_support_worker": _IN_ITS_TEAM,
    "cp_chair": _IN_ITS_TEAM,
    "receiving_authority": {},
}
assert set(TABLE) == set(ROLES), "every role the procedures know has a row"
assert all(set(row) <= set(ACTIONS) for row in TABLE.values()), "every action in the table is one the checks know"

NOT_LINKED = (
    "You are not linked to {reference}: only its social worker, their manager, its IRO, the people its "
    "procedure names and the Safeguarding Unit can see or change it."
)
REFUSALS: Mapping[str, str] = {
    "order.allocate": "Only members of the Safeguarding Unit can allocate an IRO; ask them in their channel.",
    "allocations.channel": "Only members of the Safeguarding Unit can choose the allocation channel.",
    "order.end": "Only a sobot administrator can end an order (sobot end): ask yours.",
    "oversight.view": (
        "The oversight figures are for team managers, service managers, Heads of Service, the Safeguarding Unit "
        "and Legal; ask your manager for them."
    ),
    "orders.import": "Only members of the Safeguarding Unit can import orders; ask them.",
    "step.confirm": "Only members of the Safeguarding Unit can confirm an imported step; ask them in their channel.",
    "absence.record": (
        "You can record only your own absence, or that of someone you manage; ask their manager or the "
        "Safeguarding Unit."
    ),
}

# What a refusal's audit line says was missing.
LINK = "linked to the order"
NEEDS: Mapping[str, str] = {"order.allocate": "safeguarding_unit", "allocations.channel": "safeguarding_unit",
                            "order.end": "administrator", "oversight.view": "an overseeing role",
                            "orders.import": "safeguarding_unit", "step.confirm": "safeguarding_unit",
                            "absence.record": "the person, their manager or the unit"}  # fmt: skip

ROLE_WORDS: Mapping[str, str] = {
    "social_worker": "the social worker", "team_manager": "the team manager", "iro": "the IRO",
    "safeguarding_unit": "the Safeguarding Unit", "service_manager": "the service manager",
    "head_of_service": "the Head of Service", "senior_reviewing_officer": "the Senior Reviewing Officer",
    "legal": "Legal", "practice_manager": "the practice manager", "family_support_worker": "the family support worker",
    "cp_chair": "the CP chair", "receiving_authority": "the receiving authority",
}  # fmt: skip


def recorders(owners: Iterable[str]) -> str:
    """Who may record a step with these owners, in words: its owners, then the roles that may record any step."""
    roles = sorted(owners) + [role for role, row in TABLE.items() if "step.record_any" in row and role not in owners]
    words = [ROLE_WORDS[role] for role in roles]
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)


@dataclass(frozen=True)
class Standing:
    """What the table needs to know of one person and one order."""

    roles: frozenset[str]
    linked_as: frozenset[str] = frozenset()  # of the order's own roles (ORDER_ROLES), those this person is for it
    in_team: bool = False  # the order's social worker is in this person's team
    named: frozenset[str] = frozenset()  # the roles the order's procedure gives a step
    administrator: bool = False
    told_as: frozenset[str] = frozenset()  # the roles in which the order's steps are sent to this person
    own: bool = False  # what is asked about is the person's own (their absence), or of someone they manage


def _holds(scope: Scope, role: str, standing: Standing) -> bool:
    if scope is Scope.EVERY:
        return True
    if scope is Scope.LINKED:
        return role in standing.linked_as
    if scope is Scope.TOLD:
        return role in standing.told_as
    if scope is Scope.OWN:
        return standing.own
    return standing.in_team and role in standing.named


def roles_allowed(action: str, standing: Standing) -> set[str]:
    """The roles through which this person may do `action` on the order (pure)."""
    if action not in ACTIONS:
        raise KeyError(f"{action!r} is not an action the permission table knows: {', '.join(ACTIONS)}")
    found = set()
    for role in standing.roles:
        scope = TABLE.get(role, {}).get(action)
        if scope is not None and _holds(scope, role, standing):
            found.add(role)
    return found


def allows(action: str, standing: Standing) -> bool:
    """Whether the table lets this person do `action` on the order (pure)."""
    return standing.administrator or bool(roles_allowed(action, standing))


def may_record_step(owners: Iterable[str], standing: Standing) -> bool:
    """A step is recorded by a role that owns it (where that role may record at all), or by one that may record any."""
    if allows("step.record_any", standing):
        return True
    return bool(roles_allowed("event.record", standing) & set(owners))


def procedure_roles(procedure: Procedure) -> frozenset[str]:
    """Every role the procedure gives a step of an order: owners, first and last owners, escalations."""
    roles = set(ORDER_ROLES)
    for rule in procedure.milestones:
        roles.update(role for role in (rule.owner, rule.owner_first, rule.owner_last) if role)
        roles.update(step.to for step in rule.escalation)
    return frozenset(roles)


def standing_of(person: models.Person | None, order: models.Order, procedure: Procedure) -> Standing:
    """Where this person (None: nobody the directory knows) stands towards the order (pure, on loaded rows)."""
    if person is None or not person.active:
        return Standing(frozenset())
    social_worker = order.social_worker
    linked = set()
    if social_worker is not None and social_worker.id == person.id:
        linked.add("social_worker")
    if social_worker is not None and social_worker.manager_id == person.id:
        linked.add("team_manager")
    if any(a.active and a.iro_id == person.id for a in order.allocations):
        linked.add("iro")
    in_team = bool(person.team) and social_worker is not None and social_worker.team == person.team
    return Standing(frozenset(person.roles), frozenset(linked & set(person.roles)), in_team, procedure_roles(procedure))


def absence_standing(person: models.Person | None, absent: models.Person, administrator: bool = False) -> Standing:
    """Where this person stands towards an absence of `absent`: their own, their report's, or neither (pure)."""
    if administrator:
        return Standing(frozenset(), administrator=True)
    if person is None or not person.active:
        return Standing(frozenset())
    own = person.id == absent.id or absent.manager_id == person.id
    return Standing(frozenset(person.roles), own=own)


def refusal(action: str, reference: str | None) -> str:
    """The sentence a person refused `action` is told."""
    return REFUSALS.get(action) or NOT_LINKED.format(reference=reference)


class Refused(Exception):
    """Raised inside an operation's transaction: it is rolled back, the refusal audited, NotAllowed raised."""

    def __init__(self, action: str, reference: str | None, sentence: str, needs: str) -> None:
        super().__init__(sentence)
        self.action = action
        self.reference = reference
        self.sentence = sentence
        self.needs = needs


@dataclass
class Acting:
    """An operation's transaction on one order, with the person acting and where they stand towards it."""

    session: AsyncSession
    order: models.Order
    procedure: Procedure
    person: models.Person | None
    standing: Standing

    def require(self, action: str) -> None:
        """Refuse unless the table lets the person do `action` on this order."""
        if not allows(action, self.standing):
            raise Refused(action, self.order.reference, refusal(action, self.order.reference), NEEDS.get(action, LINK))


@asynccontextmanager
async def acting_on(ctx: Context, actor: Actor, action: str, reference: str) -> AsyncIterator[Acting]:
    """One transaction on the order, entered only when the table lets the actor do `action` on it.

    Anything the block raises as `Refused` (a finer check, such as who owns a step) is refused the same way:
    the transaction is rolled back, the attempt is audited with the outcome "refused", and NotAllowed raised.
    """
    try:
        async with ctx.database.session() as session:
            order = await records.order(session, reference)
            procedure = records.procedure(ctx, order.procedure_id)
            person = await records.actor_person(session, actor)
            standing = standing_of(person, order, procedure)
            if actor.administrator:
                standing = Standing(standing.roles, administrator=True)
            elif person is not None and (asks := told_roles(action, standing)):
                standing = replace(standing, told_as=await _told_as(session, person, order, asks))
            acting = Acting(session, order, procedure, person, standing)
            acting.require(action)
            yield acting
    except Refused as refused:
        await audit_refusal(ctx, actor, refused)
        raise NotAllowed(refused.sentence) from None


def told_roles(action: str, standing: Standing) -> set[str]:
    """The person's roles that may do `action` where they are told, on a procedure that names them (pure)."""
    return {role for role in standing.roles & standing.named if TABLE.get(role, {}).get(action) is Scope.TOLD}


async def _told_as(
    session: AsyncSession, person: models.Person, order: models.Order, roles: set[str]
) -> frozenset[str]:
    """Those of `roles` in which the order's steps are sent to this person (the recipients' own choice)."""
    around = await circle(session, order, roles)
    return frozenset(role for role in roles if any(r.person_id == person.id for r in around.choose(role)))


async def audit_refusal(ctx: Context, actor: Actor, refused: Refused) -> None:
    async with ctx.database.session() as session:
        records.audit(session, ctx, actor, refused.action, refused.reference, {"needs": refused.needs},
                      outcome="refused")  # fmt: skip


def widest_scope(roles: Iterable[str], action: str) -> Scope | None:
    """The widest scope any of these roles has for `action` (EVERY before TEAM before the rest), None for none (pure).

    For actions on many orders at once, such as the oversight figures: EVERY is every order, TEAM the orders of the
    person's own team's social workers.
    """
    scopes = {TABLE.get(role, {}).get(action) for role in roles} - {None}
    return next((scope for scope in Scope if scope in scopes), None)


def may_everywhere(roles: Iterable[str], action: str) -> bool:
    """Whether these roles may do `action` on every order, or where no order is concerned (pure)."""
    return any(TABLE.get(role, {}).get(action) is Scope.EVERY for role in roles)


def table_markdown() -> str:
    """The table as the README shows it: a row per role, a column per action."""
    head = "| role | " + " | ".join(ACTIONS.values()) + " |"
    rule = "| --- |" + " --- |" * len(ACTIONS)
    rows = [f"| {role} | " + " | ".join(TABLE[role].get(action, "–") for action in ACTIONS) + " |" for role in TABLE]
    rows.append("| administrator (the command line, sobot's own jobs) | " + " | ".join("every order" for _ in ACTIONS)
                + " |")  # fmt: skip
    return "\n".join([head, rule, *rows])
