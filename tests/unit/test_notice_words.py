"""The words of notifications: subjects cut at a word, articles and plurals as English has them."""

from __future__ import annotations

import pytest

from handlers.directory import IroLoad, PersonView
from scheduler.dispatch import Message, cut_at_word, the_role, with_article

LONG = ("SO-2026-0001 (J.M.S.): Tell the Safeguarding Unit of the order (child's details, ID, commencement) is due "
        "Wednesday 11 March 2026 (in 4 working days).")  # fmt: skip


def test_a_long_subject_is_cut_at_a_word_with_an_ellipsis() -> None:
    subject = Message("reminder", LONG).subject
    assert len(subject) <= 120 and subject.endswith("…")
    assert subject.endswith("(child's details, ID, commencement) is due Wednesday 11…")
    assert LONG.startswith(subject[:-1])


def test_a_subject_that_fits_is_whole() -> None:
    assert Message("reminder", "SO-2026-0001 (J.M.S.): Case summary is due today.").subject == (
        "SO-2026-0001 (J.M.S.): Case summary is due today."
    )


@pytest.mark.parametrize(
    ("text", "cut"),
    [
        ("one two three four five six", "one two three…"),  # never mid-word
        ("one two, threefour five", "one two…"),  # nor after a comma
        ("one two, three four five", "one two, three…"),  # a whole word that fits is kept
        ("abcdefghijklmnopqrstuvwxyz", "abcdefghijklmn…"),  # one long word is cut where it must be
    ],
)
def test_cut_at_word(text: str, cut: str) -> None:
    assert cut_at_word(text, 15) == cut
    assert len(cut) <= 15


@pytest.mark.parametrize(
    ("noun", "words"), [("escalation", "an escalation"), ("reminder", "a reminder"), ("note", "a note"),
                        ("unconfirmed", "an unconfirmed"), ("", "a notice")],
)  # fmt: skip
def test_the_article_fits_the_noun(noun: str, words: str) -> None:
    assert with_article(noun) == words


def test_roles_read_as_people_say_them() -> None:
    assert (the_role("iro"), the_role("legal"), the_role("team_manager")) == ("the IRO", "Legal", "the team manager")
    assert the_role("receiving_authority_lead") == "the receiving authority lead"


@pytest.mark.parametrize(("count", "words"), [(0, "0 open orders"), (1, "1 open order"), (2, "2 open orders")])
def test_an_iros_load_counts_in_words(count: int, words: str) -> None:
    person = PersonView(1, "Ian Reviewer", "ian@example.gov.uk", ("iro",), "IROs")
    assert IroLoad(person, count).load == words
