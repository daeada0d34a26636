"""A procedure file is checked at load: a mistake names the file, the key and what is wrong."""

import pytest

from rules.procedures import ProcedureError, UnknownProcedure, load_builtin, load_procedure, parse_procedure

GOOD = """
id = "town"
title = "Town procedure"
authority = "Town Council"
document = "town.txt"

[events]
first_cin_meeting = "First CIN meeting held"
outcome = { title = "Outcome decided", values = ["A", "B"] }

[[milestones]]
key = "review"
title = "Review"
owner = "iro"
due = "commenced + 9 months"
source = "§5.4"

[[milestones]]
key = "gateway"
title = "Evidence to Legal Gateway"
owner = "head_of_service"
due = "outcome + 10 working days"
when = ["outcome is B"]
source = "§7.2"
default = true
"""


def test_a_good_file_loads() -> None:
    procedure = parse_procedure(GOOD, "town.toml")
    assert [m.key for m in procedure.milestones] == ["review", "gateway"]
    assert set(procedure.event_keys()) == {"first_cin_meeting", "outcome", "review", "gateway"}
    assert procedure.milestones[0].reminders[0].unit == "working_days"
    assert [step.to for step in procedure.milestones[0].escalation] == [
        "team_manager",
        "service_manager",
        "head_of_service",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('owner = "iro"', 'owner = "boss"'), "town.toml: milestones.review.owner: unknown role 'boss'"),
        (("+ 9 months", "+ 9 moons"), "town.toml: milestones.review.due: cannot read '+ 9 moons'"),
        (("commenced + 9", "started + 9"), "town.toml: milestones.review.due: unknown anchor 'started'"),
        (("outcome is B", "outcome is C"), "town.toml: milestones.gateway.when[0]: 'C' is not a value of outcome"),
        (('key = "gateway"', 'key = "review"'), "town.toml: milestones[1].key: 'review' is used twice"),
        (('id = "town"', 'id = "city"'), "town.toml: id: 'city' must match the file name"),
        (('source = "§5.4"', 'sauce = "§5.4"'), "town.toml: milestones[0].sauce: is not a field of a milestone"),
        (('title = "Review"\n', ""), "town.toml: milestones.review.title: is missing"),
        (("default = true", 'default = "yes"'), "town.toml: milestones.gateway.default: must be true or false"),
        (("[events]", "[events"), "town.toml: is not valid TOML"),
    ],
)
def test_a_malformed_file_is_refused_with_file_key_and_reason(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ProcedureError) as refused:
        parse_procedure(GOOD.replace(*change), "town.toml")
    assert str(refused.value).startswith(message)


def test_a_deadline_override_replaces_the_chosen_default() -> None:
    procedure = parse_procedure(GOOD, "town.toml", {"gateway": "outcome + 5 working days"})
    assert procedure.milestones[1].due.text == "outcome + 5 working days"
    with pytest.raises(ProcedureError, match="overrides.nothing: no milestone has that key"):
        parse_procedure(GOOD, "town.toml", {"nothing": "made + 1 day"})


def test_an_authority_adds_its_own_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "town.toml").write_text(GOOD, encoding="utf-8")
    assert load_procedure("town", extra_dirs=[tmp_path]).title == "Town procedure"
    assert "town" in load_builtin(extra_dirs=[tmp_path])


def test_an_unknown_procedure_lists_the_ones_there_are() -> None:
    with pytest.raises(UnknownProcedure) as refused:
        load_procedure("atlantis")
    assert "wirral" in str(refused.value)
    assert "atlantis" in str(refused.value)


def test_every_built_in_file_loads() -> None:
    procedures = load_builtin()
    assert set(procedures) == {"wirral", "camden", "leicestershire", "sussex", "bradford"}
