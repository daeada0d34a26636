"""What a message of the unit's mailbox is known by in its claim, and how long a failed one waits for its next try."""

from __future__ import annotations

import hashlib

import pytest

from mail.backends import RawMessage
from mail.parsing import read_headers
from mail.poller import _headers_of_all, message_key, retry_delay


def test_a_message_is_known_by_its_header_message_id_never_one_in_its_body() -> None:
    raw = b"Subject: x\r\nMessage-ID: <a.1@council.example>\r\n\r\nMessage-ID: <forged@elsewhere>\r\n"
    assert message_key(raw) == "<a.1@council.example>"
    assert message_key(b"Subject: x\r\n\r\nMessage-ID: <forged@elsewhere>\r\n") == (
        "sha256:" + hashlib.sha256(b"Subject: x\r\n\r\nMessage-ID: <forged@elsewhere>\r\n").hexdigest()
    )


def test_a_message_id_too_long_to_keep_is_known_by_a_hash() -> None:
    raw = b"Message-ID: <" + b"x" * 600 + b"@a>\n\nbody"
    assert message_key(raw).startswith("sha256:") and len(message_key(raw)) < 100


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: x\r\nMessage-ID: <a.1@council.example>\r\n\r\nMessage-ID: <forged@elsewhere>\r\n",
        b"Message-ID:\r\n <folded.2@council.example>\r\nFrom: a@b\r\n\r\nbody",
        b"message-id: <lower.3@council.example> (a comment)\nMessage-ID: <second.3@x>\n\nbody",
        b"Message-ID: <caf\xc3\xa9.4@council.example>\r\n\r\nbody",
        b"Message-ID: no angle brackets\r\n\r\nbody",
        b"Subject: none at all\r\n\r\nMessage-ID: <forged@elsewhere>\r\n",
        b"Message-ID: <" + b"x" * 600 + b"@a>\n\nbody",
    ],
)
def test_the_poll_keys_a_message_as_message_key_does_from_its_one_read_of_the_headers(raw: bytes) -> None:
    [(key, headers)] = _headers_of_all([RawMessage("1", raw)])
    assert key == message_key(raw)
    assert headers == read_headers(raw)


def test_the_pause_before_each_try_doubles_up_to_an_hour() -> None:
    assert [retry_delay(tries, 60) for tries in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay(20, 60) == 3600
