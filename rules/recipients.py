"""Who a role means for one order: its social worker, their manager, its IRO, or the directory's holders (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# Roles held by many people: those in the social worker's team are told when there are any, else all of them.
TEAM_ROLES = {"service_manager", "head_of_service", "practice_manager", "family_support_worker", "cp_chair",
              "senior_reviewing_officer"}  # fmt: skip

# The roles `choose` answers from the order itself; any other needs the directory's holders of it.
ORDER_ROLES = {"social_worker", "team_manager", "iro"}


class Person(Protocol):
    """What the choice needs to know of someone in the directory."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def roles(self) -> list[str]: ...
    @property
    def team(self) -> str | None: ...


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str
    person_id: int | None = None


def choose(
    role: str,
    social_worker: Person | None,
    manager: Person | None,
    iro: Person | None,
    people: Sequence[Person],
    legal_address: str | None,
) -> list[Recipient]:
    """The people `role` means for an order with this social worker, manager and IRO."""

    def of(person: Person | None) -> list[Recipient]:
        return [Recipient(person.name, person.email, person.id)] if person is not None and person.active else []

    if role == "social_worker":
        return of(social_worker)
    if role == "team_manager":
        return of(manager)
    if role == "iro":
        return of(iro)
    holders = [p for p in people if p.active and role in p.roles]
    if role == "legal":
        found = [Recipient(p.name, p.email, p.id) for p in holders]
        return found or ([Recipient("Legal", legal_address)] if legal_address else [])
    if role in TEAM_ROLES and social_worker is not None and social_worker.team:
        in_team = [p for p in holders if p.team == social_worker.team]
        holders = in_team or holders
    return [Recipient(p.name, p.email, p.id) for p in sorted(holders, key=lambda p: p.name)]
