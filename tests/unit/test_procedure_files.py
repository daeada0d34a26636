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
        (
            ('document = "town.txt"', 'document = "town.txt"\nacknowledge_days = 0'),
            "town.toml: acknowledge_days: must be a whole number of working days from 1 to 60",
        ),
        (
            ('document = "town.txt"', 'document = "town.txt"\nacknowledge_days = "a week"'),
            "town.toml: acknowledge_days: must be a whole number",
        ),
    ],
)
def test_a_malformed_file_is_refused_with_file_key_and_reason(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ProcedureError) as refused:
        parse_procedure(GOOD.replace(*change), "town.toml")
    assert str(refused.value).startswith(message)


def test_a_file_may_set_how_long_an_acknowledgement_holds_and_otherwise_the_settings_do() -> None:
    assert parse_procedure(GOOD, "town.toml").acknowledge_days is None
    own = parse_procedure(GOOD.replace('document = "town.txt"', 'document = "town.txt"\nacknowledge_days = 3'),
                          "town.toml")  # fmt: skip
    assert own.acknowledge_days == 3


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


CIRCLE = """
[[milestones]]
key = "plan"
title = "Plan agreed"
owner = "social_worker"
due = "visit + 5 working days"
source = "§2"

[[milestones]]
key = "visit"
title = "Visit made"
owner = "social_worker"
due = "plan + 10 working days"
source = "§3"
"""


def test_steps_that_wait_on_each_other_in_a_circle_are_refused() -> None:
    with pytest.raises(ProcedureError) as refused:
        parse_procedure(GOOD + CIRCLE, "town.toml")
    assert str(refused.value).startswith(
        "town.toml: milestones.plan.due: the steps wait on each other in a circle (plan → visit → plan)"
    )
    by_completion = GOOD + CIRCLE.replace('key = "visit"', 'key = "visit"\ncompleted_by = "visited"').replace(
        'due = "visit +', 'due = "visited +'
    )
    with pytest.raises(ProcedureError, match=r"circle \(plan → visit → plan\)"):
        parse_procedure(by_completion, "town.toml")
    itself = GOOD.replace('due = "outcome + 10 working days"', 'due = "gateway + 10 working days"')
    with pytest.raises(ProcedureError, match=r"milestones.gateway.due: .* circle \(gateway → gateway\)"):
        parse_procedure(itself, "town.toml")
    # A chain that ends on something recorded on its own is not a circle.
    chain = GOOD + CIRCLE.replace('due = "plan + 10 working days"', 'due = "first_cin_meeting + 1 week"')
    assert [m.key for m in parse_procedure(chain, "town.toml").milestones][-2:] == ["plan", "visit"]


def test_a_file_that_is_not_utf8_is_refused_not_a_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "town.toml").write_bytes(GOOD.replace("Town Council", "Town Council’s").encode("cp1252"))
    for load in (lambda: load_procedure("town", extra_dirs=[tmp_path]), lambda: load_builtin(extra_dirs=[tmp_path])):
        with pytest.raises(ProcedureError, match=r"town.toml: is not UTF-8 text \(byte \d+ is not\): save it as UTF-8"):
            load()


def test_a_file_may_not_take_a_built_in_procedures_id(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "wirral.toml").write_text(GOOD.replace('id = "town"', 'id = "wirral"'), encoding="utf-8")
    with pytest.raises(ProcedureError, match="wirral.toml: id: 'wirral' is a built-in procedure's id"):
        load_builtin(extra_dirs=[tmp_path])
    with pytest.raises(ProcedureError, match="a built-in procedure's id"):
        load_procedure("wirral", extra_dirs=[tmp_path])
    other = tmp_path / "other"
    other.mkdir()
    (tmp_path / "wirral.toml").unlink()
    (tmp_path / "town.toml").write_text(GOOD, encoding="utf-8")
    (other / "town.toml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(ProcedureError, match="town.toml: id: 'town' is the id of .*town.toml too"):
        load_builtin(extra_dirs=[tmp_path, other])


def test_a_recurrence_that_would_pass_the_limit_says_so() -> None:
    weekly = GOOD.replace('source = "§5.4"', 'source = "§5.4"\nrepeat = { every = "1 week" }')
    with pytest.raises(ProcedureError) as refused:
        parse_procedure(weekly, "town.toml")
    assert str(refused.value).startswith(
        "town.toml: milestones.review.repeat.every: every 1 week could repeat about 156 times in an order of three "
        "years, and sobot projects at most 120 of a step"
    )
    fortnightly = weekly.replace("1 week", "2 weeks")
    assert parse_procedure(fortnightly, "town.toml").milestones[0].repeat is not None
