"""How "away …" reads in chat: forgiving of words and typos, one sentence for what it cannot read."""

from __future__ import annotations

from datetime import date

import pytest

from bot.commands import parse

TODAY = date(2026, 8, 10)


@pytest.mark.parametrize(
    ("line", "who", "first", "last", "cover"),
    [
        ("away 14/08/2026 to 28/08/2026, cover Jane Smith", "", date(2026, 8, 14), date(2026, 8, 28), "Jane Smith"),
        ("Away from 14 August 2026 until 28 August 2026 covered by jane smith.", "", date(2026, 8, 14),
         date(2026, 8, 28), "jane smith"),
        ("awya 14/08/2026 - 28/08/2026", "", date(2026, 8, 14), date(2026, 8, 28), ""),
        ("away 14/08/2026", "", date(2026, 8, 14), date(2026, 8, 14), ""),
        ("away for Megan Bowen 14/08/2026 to 28/08/2026; covering: Jane Smith", "Megan Bowen", date(2026, 8, 14),
         date(2026, 8, 28), "Jane Smith"),
    ],
)  # fmt: skip
def test_away_reads_who_the_days_and_the_cover(line: str, who: str, first: date, last: date, cover: str) -> None:
    command = parse(line, TODAY)
    assert (command.name, command.problem) == ("away", None)
    assert (command.text, command.on, command.data["last_day"], command.data["cover"]) == (
        who, first, last.isoformat(), cover)  # fmt: skip


@pytest.mark.parametrize(
    ("line", "sentence"),
    [
        ("away next week", "'next week' is not a date I can read"),
        ("away 14/08/2026 to 31/02/2026", "'31/02/2026' is not a date (February 2026 has 28 days)."),
        ("away 14 Aug to 28 Aug", "has no year"),
        ("away soon 14/08/2026", "I can't read 'soon' as a date."),
    ],
)
def test_what_away_cannot_read_gets_one_sentence_with_an_example(line: str, sentence: str) -> None:
    command = parse(line, TODAY)
    assert command.name == "away" and command.problem is not None
    assert sentence in command.problem and "away 14/08/2026 to 28/08/2026, cover Jane Smith" in command.problem


@pytest.mark.parametrize(
    ("line", "name"),
    [("who is away", "who_is_away"), ("away", "who_is_away"), ("back", "back"), ("I'm back", "back"),
     ("cancel away", "cancel_away")],
)  # fmt: skip
def test_back_cancel_and_who_is_away(line: str, name: str) -> None:
    assert parse(line, TODAY).name == name
