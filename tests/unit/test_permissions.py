"""The permission table and its pure checks: the README shows the table as it is, and each scope means what it says."""

from __future__ import annotations

from pathlib import Path

import pytest

from handlers.permissions import (
    ACTIONS,
    TABLE,
    Scope,
    Standing,
    allows,
    may_everywhere,
    may_record_step,
    procedure_roles,
    recorders,
    table_markdown,
    told_roles,
    widest_scope,
)
from handlers.queries import OVERSIGHT_ROLES
from rules.procedures import ROLES, load_builtin

README = Path(__file__).parents[2] / "README.md"
SUSSEX = procedure_roles(load_builtin()["sussex"])


def test_the_readme_shows_the_table_as_the_operations_enforce_it() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- permissions table: generated from handlers/permissions.py -->\n")
    end = text.index("\n<!-- end of permissions table -->")
    shown = text[text.index("\n", start) + 1 : end]
    assert shown == table_markdown(), "regenerate the README's table from handlers.permissions.table_markdown()"


def test_every_role_has_a_row_and_the_oversight_roles_see_every_order() -> None:
    assert set(TABLE) == set(ROLES)
    assert all(set(row) <= set(ACTIONS) for row in TABLE.values())
    for role in OVERSIGHT_ROLES:
        assert TABLE[role]["order.view"] is Scope.EVERY, role
    assert [role for role in ROLES if may_everywhere([role], "order.allocate")] == ["safeguarding_unit"]
    assert not any(may_everywhere([role], "order.end") for role in ROLES)


def test_linked_means_this_order_s_own_person_in_that_role() -> None:
    own = Standing(frozenset({"social_worker"}), linked_as=frozenset({"social_worker"}), named=SUSSEX)
    other = Standing(frozenset({"social_worker"}), in_team=True, named=SUSSEX)
    assert allows("order.view", own) and allows("order.extend", own)
    assert not allows("order.view", other)  # a colleague in the same team is not the order's social worker
    # Linked as the IRO gives the IRO's actions, not the social worker's held through another role.
    iro = Standing(frozenset({"iro", "social_worker"}), linked_as=frozenset({"iro"}), named=SUSSEX)
    assert allows("order.view", iro) and not allows("step.record_any", iro)


@pytest.mark.parametrize("role", ["family_support_worker", "practice_manager", "cp_chair"])
def test_a_team_role_acts_in_its_team_on_a_procedure_that_names_it_and_nowhere_else(role: str) -> None:
    named = SUSSEX | {"cp_chair"}
    assert allows("order.view", Standing(frozenset({role}), in_team=True, named=named))
    assert not allows("order.view", Standing(frozenset({role}), in_team=False, named=named))
    assert not allows("order.view", Standing(frozenset({role}), in_team=True, named=frozenset({"social_worker"})))
    assert not allows("order.allocate", Standing(frozenset({role}), in_team=True, named=named))


def test_a_team_role_told_of_another_team_s_order_may_answer_its_reminders_and_nothing_else() -> None:
    told = Standing(frozenset({"family_support_worker"}), named=SUSSEX, told_as=frozenset({"family_support_worker"}))
    assert allows("step.acknowledge", told) and allows("step.snooze", told)
    assert not any(allows(action, told) for action in ("order.view", "event.record", "order.extend"))
    assert told_roles("step.snooze", told) == {"family_support_worker"} and told_roles("order.view", told) == set()


def test_a_step_is_recorded_by_its_owner_or_by_a_role_that_may_record_any() -> None:
    iro = Standing(frozenset({"iro"}), linked_as=frozenset({"iro"}))
    assert may_record_step({"iro"}, iro) and not may_record_step({"social_worker"}, iro)
    unlinked_iro = Standing(frozenset({"iro"}))
    assert not may_record_step({"iro"}, unlinked_iro)  # owning the kind of step is not enough: it must be theirs
    manager = Standing(frozenset({"team_manager"}), linked_as=frozenset({"team_manager"}))
    assert may_record_step({"iro"}, manager)
    head = Standing(frozenset({"head_of_service"}))
    assert may_record_step({"head_of_service"}, head) and not may_record_step({"social_worker"}, head)
    assert recorders({"iro"}) == "the IRO, the social worker, the team manager or the Safeguarding Unit"


def test_nobody_the_directory_knows_may_do_nothing_and_the_administrator_everything() -> None:
    nobody = Standing(frozenset())
    administrator = Standing(frozenset(), administrator=True)
    for action in ACTIONS:
        assert not allows(action, nobody) and allows(action, administrator)
    with pytest.raises(KeyError, match="not an action"):
        allows("order.delete", nobody)


def test_the_oversight_figures_go_to_the_overseeing_roles_a_team_manager_s_to_their_team() -> None:
    assert widest_scope(["team_manager"], "oversight.view") is Scope.TEAM
    for role in ("service_manager", "head_of_service", "safeguarding_unit", "legal"):
        assert widest_scope([role], "oversight.view") is Scope.EVERY, role
    # The widest of a person's roles wins: a team manager who is also a Head of Service sees every order's.
    assert widest_scope(["team_manager", "head_of_service"], "oversight.view") is Scope.EVERY
    others = set(ROLES) - {"team_manager", "service_manager", "head_of_service", "safeguarding_unit", "legal"}
    assert {role for role in others if widest_scope([role], "oversight.view") is not None} == set()
    assert widest_scope(["social_worker"], "order.view") is Scope.LINKED
