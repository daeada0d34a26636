"""Who the council's mail system vouches for: its Authentication-Results (RFC 8601) or Exchange's marker."""

from __future__ import annotations

import pytest

from mail.parsing import read_headers
from mail.trust import SenderTrust, read_authentication_results, trust_method, vouched

OURS = SenderTrust("authentication-results", ("mx.council.gov.uk",))
SUE = "sue.unit@council.gov.uk"


@pytest.mark.parametrize(
    "header",
    [
        "mx.council.gov.uk; dmarc=pass action=none header.from=council.gov.uk",
        "MX.Council.gov.uk 1; dmarc=pass (p=reject) header.from=Council.gov.uk",
        "mx.council.gov.uk; spf=pass smtp.mailfrom=sue.unit@council.gov.uk; dkim=pass header.d=council.gov.uk",
        "mx.council.gov.uk; spf=pass (sender IP is 10.0.0.4) smtp.mailfrom=council.gov.uk;\r\n dkim=pass (signature "
        "was verified) header.d=council.gov.uk; dmarc=bestguesspass header.from=council.gov.uk",
    ],
)
def test_the_councils_server_saying_pass_for_the_from_domain_vouches(header: str) -> None:
    assert vouched(OURS, SUE, [header], [])


@pytest.mark.parametrize(
    "headers",
    [
        [],
        ["mx.council.gov.uk; dmarc=fail header.from=council.gov.uk"],
        ["mx.council.gov.uk; none"],
        ["mx.council.gov.uk; spf=pass smtp.mailfrom=council.gov.uk; dkim=fail header.d=council.gov.uk"],
        ["mx.council.gov.uk; spf=pass smtp.mailfrom=council.gov.uk"],
        ["mx.council.gov.uk; dkim=pass header.d=council.gov.uk"],
        ["mx.council.gov.uk; spf=pass smtp.mailfrom=evil.example; dkim=pass header.d=council.gov.uk"],
        ["mx.council.gov.uk; dmarc=pass header.from=evil.example"],
        ["mx.council.gov.uk; dmarc=pass header.from=council.gov.uk.evil.example"],
        # Someone else's server (the forger's own) says pass: it is not ours to believe.
        ["mx.evil.example; dmarc=pass header.from=council.gov.uk"],
        # Ours, on top, said fail; a forged one of our id written below it by the sender is not read.
        ["mx.council.gov.uk; dmarc=fail header.from=council.gov.uk",
         "mx.council.gov.uk; dmarc=pass header.from=council.gov.uk"],
        # A pass in a comment is a comment.
        ["mx.council.gov.uk; dmarc=fail (dmarc=pass header.from=council.gov.uk) header.from=council.gov.uk"],
        ["mx.council.gov.uk; dmarc=fail reason=\"dmarc=pass header.from=council.gov.uk\""],
        ["mx.council.gov.uk (unclosed; dmarc=pass header.from=council.gov.uk"],
        ["; dmarc=pass header.from=council.gov.uk"],
    ],
)  # fmt: skip
def test_anything_else_does_not_vouch(headers: list[str]) -> None:
    assert not vouched(OURS, SUE, headers, ["Internal"])


def test_no_authserv_id_named_vouches_for_no_one() -> None:
    header = "mx.council.gov.uk; dmarc=pass header.from=council.gov.uk"
    assert not vouched(SenderTrust(), SUE, [header], [])


def test_exchange_vouches_by_its_internal_marker_only() -> None:
    exchange = SenderTrust("exchange")
    passing = ["mx.council.gov.uk; dmarc=pass header.from=council.gov.uk"]
    assert vouched(exchange, SUE, [], ["Internal"])
    assert not vouched(exchange, SUE, passing, ["Anonymous"])
    assert not vouched(exchange, SUE, passing, [])
    # Exchange's own stamp is the topmost: a forged one below it is not read.
    assert not vouched(exchange, SUE, [], ["Anonymous", "Internal"])


def test_auto_is_the_backends_own_way() -> None:
    assert trust_method("auto", "graph") == trust_method("auto", "ews") == "exchange"
    assert trust_method("auto", "imap") == trust_method("auto", "maildir") == "authentication-results"
    assert trust_method("exchange", "imap") == "exchange"


def test_a_header_is_read_into_its_results() -> None:
    found = read_authentication_results('mx.example 1; spf=pass smtp.mailfrom="a@b.example"; dmarc=none')
    assert found is not None and found.authserv_id == "mx.example"
    assert [(r.method, r.result, r.properties) for r in found.results] == [
        ("spf", "pass", {"smtp.mailfrom": "a@b.example"}), ("dmarc", "none", {}),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("from_line", "ambiguous"),
    [
        ("Sue Unit <sue.unit@council.gov.uk>", False),
        ("sue.unit@council.gov.uk", False),
        ('"sue.unit@council.gov.uk" <sue.unit@council.gov.uk>', False),
        ("sue.unit@council.gov.uk <attacker@evil.example>", True),
        ('"sue.unit@council.gov.uk" <attacker@evil.example>', True),
        ("=?utf-8?q?sue.unit=40council.gov.uk?= <attacker@evil.example>", True),
        ("Sue <sue.unit@council.gov.uk>, Tom <tom@council.gov.uk>", True),
        ("sue.unit@council.gov.uk (attacker@evil.example)", True),
        ("Team: sue.unit@council.gov.uk, tom@council.gov.uk;", True),
        ("", True),
    ],
)
def test_a_from_line_that_could_be_two_people_is_ambiguous(from_line: str, ambiguous: bool) -> None:
    assert read_headers(f"From: {from_line}\nSubject: hi\n\nJane Smith\n".encode()).sender_is_ambiguous is ambiguous


def test_two_from_lines_are_ambiguous() -> None:
    raw = b"From: sue.unit@council.gov.uk\nFrom: attacker@evil.example\n\nhi\n"
    assert read_headers(raw).sender_is_ambiguous


def test_the_headers_list_authentication_topmost_first() -> None:
    raw = (b"Authentication-Results: top; dmarc=fail\nX-MS-Exchange-Organization-AuthAs: Anonymous\n"
           b"Authentication-Results: below; dmarc=pass\nX-MS-Exchange-Organization-AuthAs: Internal\n"
           b"From: sue.unit@council.gov.uk\n\nhi\n")  # fmt: skip
    headers = read_headers(raw)
    assert headers.authentication_results == ("top; dmarc=fail", "below; dmarc=pass")
    assert headers.exchange_auth_as == ("Anonymous", "Internal")
