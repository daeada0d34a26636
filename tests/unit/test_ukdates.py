"""UK dates in emails: every way people write them, read day first, and what is said when one is not a date."""

from datetime import date

import pytest

from rules.ukdates import parse_uk_date


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("3 March 2026", date(2026, 3, 3)),
        ("3rd March 2026", date(2026, 3, 3)),
        ("Tuesday 3rd March 2026", date(2026, 3, 3)),
        ("Tue, 3 Mar 2026", date(2026, 3, 3)),
        ("3 Mar 2026", date(2026, 3, 3)),
        ("3 Mar. 2026", date(2026, 3, 3)),
        ("3rd of March 2026", date(2026, 3, 3)),
        ("3 March, 2026", date(2026, 3, 3)),
        ("3 march 26", date(2026, 3, 3)),
        ("  3   MARCH   2026. ", date(2026, 3, 3)),
        ("3\xa0March\xa02026", date(2026, 3, 3)),
        ("1st September 2026", date(2026, 9, 1)),
        ("22nd Sept 2026", date(2026, 9, 22)),
        ("March 3rd, 2026", date(2026, 3, 3)),  # the month is a word: not ambiguous
        ("03/03/2026", date(2026, 3, 3)),
        ("3/3/26", date(2026, 3, 3)),
        ("3.3.2026", date(2026, 3, 3)),
        ("3-3-2026", date(2026, 3, 3)),
        ("3 / 3 / 2026", date(2026, 3, 3)),
        ("2026-03-03", date(2026, 3, 3)),
        ("2026-3-3", date(2026, 3, 3)),
        ("29/02/2028", date(2028, 2, 29)),
        ("31/12/99", date(2099, 12, 31)),  # two-digit years are this century's
        ("14/07/2015", date(2015, 7, 14)),
    ],
)
def test_uk_dates_as_people_write_them(written: str, meant: date) -> None:
    assert parse_uk_date(written) == meant


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("3/4/26", date(2026, 4, 3)),
        ("03/04/2026", date(2026, 4, 3)),
        ("4.3.2026", date(2026, 3, 4)),
        ("12-01-2026", date(2026, 1, 12)),
        ("01/12/2026", date(2026, 12, 1)),
    ],
)
def test_a_numeric_date_is_always_day_first(written: str, meant: date) -> None:
    assert parse_uk_date(written) == meant


@pytest.mark.parametrize(
    ("written", "error"),
    [
        ("31/02/2026", "'31/02/2026' is not a date (February 2026 has 28 days)."),
        ("29/2/2027", "'29/2/2027' is not a date (February 2027 has 28 days)."),
        ("31st June 2027", "'31st June 2027' is not a date (June 2027 has 30 days)."),
        ("2026-02-30", "'2026-02-30' is not a date (February 2026 has 28 days)."),
        ("0/3/2026", "'0/3/2026' is not a date (there is no day 0): write it like 3 March 2026 or 03/03/2026."),
        ("03/13/2026", "'03/13/2026' is not a date (there is no month 13): write the day first, e.g. 13/03/2026."),
        (
            "13/13/2026",
            "'13/13/2026' is not a date (there is no month 13): write it like 3 March 2026 or 03/03/2026.",
        ),
        (
            "2026-13-03",
            "'2026-13-03' is not a date (there is no month 13): write it like 3 March 2026 or 03/03/2026.",
        ),
        (
            "Wednesday 3 March 2026",
            "'Wednesday 3 March 2026' is not a date: 3 March 2026 is a Tuesday. Check which day you meant.",
        ),
        (
            "3 Marhc 2026",
            "'3 Marhc 2026' is not a date ('marhc' is not a month): write it like 3 March 2026 or 03/03/2026.",
        ),
        ("3 March", "'3 March' has no year: write it like 3 March 2026 or 03/03/2026."),
        ("3/3", "'3/3' has no year: write it like 3 March 2026 or 03/03/2026."),
        ("next Tuesday", "'next Tuesday' is not a date I can read: write it like 3 March 2026 or 03/03/2026."),
        ("3/3-2026", "'3/3-2026' is not a date I can read: write it like 3 March 2026 or 03/03/2026."),
        ("3/3/202", "'3/3/202' is not a date I can read: write it like 3 March 2026 or 03/03/2026."),
        (
            "Funday 3 March 2026",
            "'Funday 3 March 2026' is not a date I can read: write it like 3 March 2026 or 03/03/2026.",
        ),
        ("", "No date given: write it like 3 March 2026 or 03/03/2026."),
    ],
)
def test_what_is_wrong_with_a_date_is_said(written: str, error: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_uk_date(written)
    assert str(raised.value) == error
