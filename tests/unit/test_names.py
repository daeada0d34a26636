"""Which person a typed name means: slips forgiven when only one person fits, never a guess between two."""

from __future__ import annotations

from rules.names import cleaned, meant, slips

PEOPLE = [(1, "Megan Bowen", "meganb@example.com"), (2, "Adele Vance", "adelev@example.com"),
          (3, "Ian Reviewer", "ian@example.com"), (4, "Ian Reeves", "ianr@example.com")]  # fmt: skip


def test_case_polite_words_punctuation_and_emoji_are_forgiven() -> None:
    assert meant("adele vance please", PEOPLE) == [2]
    assert meant("Adele Vance.", PEOPLE) == [2]
    assert meant("👉 Megan Bowen 🙏", PEOPLE) == [1]
    assert meant("IRO: MEGANB@EXAMPLE.COM", PEOPLE) == [1]
    assert cleaned("👍🏽 to Megan Bowen, thanks!") == "Megan Bowen", "the name as typed, to repeat back"


def test_a_letter_or_two_out_is_forgiven_when_one_person_fits() -> None:
    assert slips("megan bowan", "megan bowen") == 1
    assert meant("Megan Bowan", PEOPLE) == [1]
    assert meant("Adel Vanse", PEOPLE) == [2]
    assert meant("Ian Reviewr", PEOPLE) == [3]


def test_two_who_fit_are_both_given_and_nobody_is_guessed() -> None:
    assert sorted(meant("Ian", PEOPLE)) == [3, 4]
    assert meant("Ian Reevs", PEOPLE) == [4]
    assert meant("Jane Smith", PEOPLE) == []
    assert meant("Bo", PEOPLE) == [], "a short word is nobody's name by a slip"
    assert meant("🙏 please", PEOPLE) == []
