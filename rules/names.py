"""Which person a typed name means: forgiving of case, spacing, emoji, trailing punctuation, polite words and a
slip of a letter or two, but never guessing between two people."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TypeVar

Key = TypeVar("Key")

# Words people add around a name that are never part of one.
POLITE = {"please", "pls", "thanks", "thank", "you", "cheers", "ta", "iro", "iro:", "to"}
# A typed name this many letters from a real one is a slip, not another person.
MOST_SLIPS = 2


# Emoji and what joins, tones and styles them; a private-use glyph. Apostrophes stay: they are in names.
SYMBOLS = {"So", "Sk", "Cf", "Cs", "Co", "Mn"}


def without_symbols(text: str) -> str:
    """The text with emoji and other pictographs taken out (and what joins and styles them)."""
    return "".join(ch for ch in unicodedata.normalize("NFC", text) if unicodedata.category(ch) not in SYMBOLS)


def cleaned(text: str) -> str:
    """A name as typed, reduced to what could be a name or an email: no emoji, polite words or end punctuation."""
    words = [w.strip(".,;:!?()\"'“”‘’") for w in without_symbols(text).split()]
    return " ".join(w for w in words if w and w.casefold() not in POLITE)


def slips(typed: str, name: str) -> int:
    """How many letters one must change, add or drop to turn one into the other (Levenshtein distance)."""
    if len(typed) < len(name):
        typed, name = name, typed
    previous = list(range(len(name) + 1))
    for i, a in enumerate(typed, 1):
        current = [i]
        for j, b in enumerate(name, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1]


def meant(typed: str, people: Sequence[tuple[Key, str, str]]) -> list[Key]:
    """The people (key, name, email) a typed name could mean, best kind of match first: an exact name or email,
    else a part of a name, else a name within MOST_SLIPS letters. Empty when none; more than one when unsure."""
    wanted = cleaned(typed).casefold()
    if not wanted:
        return []

    def name_of(name: str) -> str:
        return " ".join(name.split()).casefold()

    exact = [key for key, name, email in people if wanted in (email.casefold(), name_of(name))]
    if exact:
        return exact
    part = [key for key, name, _ in people if f" {wanted} " in f" {name_of(name)} "]
    if part:
        return part
    scored = [(slips(wanted, name_of(name)), key) for key, name, _ in people]
    close = [key for score, key in scored if score <= min(MOST_SLIPS, len(wanted) // 4)]
    return close
