"""The dashboard's pure parts: which orders the permission table lets a person see, a step's section in words, and
the shapes of the timeline picture."""

from __future__ import annotations

from datetime import date

from handlers.caseload import seeing, shows_full_name
from handlers.directory import PersonView
from handlers.order_page import StepLine, section
from rules.procedures import load_builtin
from web.timeline import picture

PROCEDURES = load_builtin()


def person(*roles: str, team: str | None = "North") -> PersonView:
    return PersonView(7, "Pat", "pat@example.gov.uk", roles, team)


def test_who_sees_which_orders_follows_the_permission_table() -> None:
    assert seeing(person("safeguarding_unit"), PROCEDURES).every
    assert seeing(person("legal"), PROCEDURES).every
    worker = seeing(person("social_worker"), PROCEDURES)
    assert (worker.every, worker.as_social_worker, worker.as_manager, worker.as_iro) == (False, True, False, False)
    assert seeing(person("team_manager"), PROCEDURES).as_manager
    assert seeing(person("iro"), PROCEDURES).as_iro
    # A practice manager sees their team's orders under the procedures that give the role a step: Sussex's.
    practice = seeing(person("practice_manager"), PROCEDURES)
    assert (practice.team, practice.team_procedures) == ("North", ("sussex",))
    nobody = seeing(person("receiving_authority"), PROCEDURES)
    assert not (nobody.every or nobody.as_social_worker or nobody.as_manager or nobody.as_iro or nobody.team)


def test_the_full_name_only_through_a_role_linked_to_the_order() -> None:
    assert shows_full_name(person("social_worker"), 7, None, None)
    assert not shows_full_name(person("iro"), 7, None, None), "the social worker's seat, but not the role"
    assert shows_full_name(person("team_manager"), 3, 7, None)
    assert shows_full_name(person("iro"), 3, 4, 7)
    assert not shows_full_name(person("safeguarding_unit", "head_of_service"), 3, 4, 5)


def test_a_steps_section_names_the_procedure() -> None:
    wirral = PROCEDURES["wirral"]
    assert section(wirral, "§4.1(d)") == "Wirral procedure §4.1(d)"
    assert section(PROCEDURES["bradford"], "The process, bullet 2") == "Bradford procedure: The process, bullet 2"


def step(key: str, occurrence: int, due: date | None, state: str, *, done_on: date | None = None,
         recurring: bool = False, waiting_on: str | None = None) -> StepLine:  # fmt: skip
    return StepLine(key, occurrence, key.replace("_", " "), "the IRO", due, None, waiting_on, state, done_on, "§1",
                    recurring, False)  # fmt: skip


def test_the_picture_gives_each_state_its_own_shape_and_chains_reviews() -> None:
    made, last_day, limit, today = date(2026, 1, 5), date(2027, 1, 4), date(2029, 1, 4), date(2026, 6, 1)
    steps = [
        step("told", 1, date(2026, 1, 7), "done", done_on=date(2026, 1, 6)),
        step("review", 1, date(2026, 4, 1), "overdue", recurring=True),
        step("review", 2, date(2026, 7, 1), "open", recurring=True),
        step("review", 3, date(2026, 10, 1), "open", recurring=True),
        step("minutes", 1, None, "waiting", waiting_on="the review"),
    ]
    shown = picture("SO-2026-0001", made, last_day, limit, today, steps)
    assert [row.label for row in shown.rows] == ["told", "review", "minutes"], "one row per step"
    told, review, minutes = shown.rows
    assert [m.shape for m in told.marks] == ["circle"]
    assert [m.shape for m in review.marks] == ["triangle", "ring", "ring"]
    assert [m.shape for m in minutes.marks] == ["square"]
    assert len(review.chain) == 3 and told.chain == (), "a recurring step's occurrences are chained"
    assert review.marks[0].title == "review (1): due 01 April 2026, overdue"
    assert minutes.marks[0].title == "minutes: waiting on the review"
    assert told.marks[0].x < review.marks[0].x < review.marks[1].x < shown.span[1] < shown.limit_x
    assert shown.today_x is not None and review.marks[0].x < shown.today_x < review.marks[1].x
    assert shown.span[0] == shown.plot[0], "the picture starts on the day made"
    later = picture("SO-2026-0001", made, last_day, limit, date(2030, 1, 1), steps)
    assert later.today_x is None, "no today's line past the picture's end"
