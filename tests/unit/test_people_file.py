"""The people CSV read before anything is imported: each problem named with its line."""

from __future__ import annotations

import pytest

from handlers.errors import InvalidInput
from handlers.people import parse_people

HEADER = "name,email,roles,team,manager_email,entra_id\n"
TESS = "Tess Manager,tess@example.gov.uk,team_manager,North,,entra-tess\n"
SAM = "Sam Worker,sam@example.gov.uk,social_worker,North,tess@example.gov.uk,entra-sam\n"


def refusal(text: str) -> str:
    with pytest.raises(InvalidInput) as refused:
        parse_people(HEADER + text)
    assert str(refused.value).startswith("Nothing was imported")
    return str(refused.value)


def test_a_good_file_is_its_rows_with_their_lines() -> None:
    rows = parse_people(HEADER + TESS + '"Worker, Sam",sam@example.gov.uk,social_worker,"North\nWest",,\n' + SAM
                        .replace("sam@", "sal@").replace("entra-sam", ""))  # fmt: skip
    assert [(row.line, row.email) for row in rows] == [(2, "tess@example.gov.uk"), (3, "sam@example.gov.uk"),
                                                       (5, "sal@example.gov.uk")]  # fmt: skip
    assert rows[1].name == "Worker, Sam" and rows[1].team == "North\nWest"


def test_an_unterminated_quote_is_named_where_it_opens() -> None:
    assert 'line 3: a quote (") opened here is never closed' in refusal(TESS + '"Sam Worker,sam@example.gov.uk,iro\n'
                                                                          "Ann,ann@example.gov.uk,iro\n")  # fmt: skip
    assert 'line 2: a quote (") is misplaced' in refusal('"Sam" Worker,sam@example.gov.uk,iro\n')


@pytest.mark.parametrize(
    "address", ["@", "a@b@c", "sam", "sam@example", "sam worker@example.gov.uk", "@example.gov.uk"]
)
def test_an_address_that_is_not_one_is_refused(address: str) -> None:
    assert f"line 3: {address!r} is not an email address" in refusal(TESS + SAM.replace("sam@example.gov.uk", address))


def test_a_manager_address_that_is_not_one_is_refused() -> None:
    assert "line 3: the manager's email 'a@b@c' is not an email address" in refusal(
        TESS + SAM.replace("tess@example.gov.uk", "a@b@c")
    )


def test_an_entra_id_twice_is_refused_naming_both_lines() -> None:
    assert "line 3: the Entra id entra-tess is also on line 2" in refusal(TESS + SAM.replace("entra-sam", "entra-tess"))


def test_managers_who_manage_each_other_are_refused() -> None:
    both = refusal(TESS.replace(",,entra", ",sam@example.gov.uk,entra") + SAM)
    assert "line 2: tess@example.gov.uk and sam@example.gov.uk are given as each other's manager" in both
    assert "line 3: sam@example.gov.uk and tess@example.gov.uk are given as each other's manager" in both
    ann = "Ann Head,ann@example.gov.uk,head_of_service,,sam@example.gov.uk,\n"
    three = refusal(TESS.replace(",,entra", ",ann@example.gov.uk,entra") + SAM + ann)
    assert "line 2: tess@example.gov.uk's managers lead back to them (tess@example.gov.uk → ann@example.gov.uk → " \
           "sam@example.gov.uk → tess@example.gov.uk)" in three  # fmt: skip
    assert "line 2: tess@example.gov.uk is given as their own manager" in refusal(
        TESS.replace(",,entra", ",tess@example.gov.uk,entra")
    )
