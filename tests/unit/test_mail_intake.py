"""What a message of the unit's mailbox is known by in its claim, and how long a failed one waits for its next try."""

from __future__ import annotations

import hashlib

from mail.poller import message_key, retry_delay


def test_a_message_is_known_by_its_header_message_id_never_one_in_its_body() -> None:
    raw = b"Subject: x\r\nMessage-ID: <a.1@council.example>\r\n\r\nMessage-ID: <forged@elsewhere>\r\n"
    assert message_key(raw) == "<a.1@council.example>"
    assert message_key(b"Subject: x\r\n\r\nMessage-ID: <forged@elsewhere>\r\n") == (
        "sha256:" + hashlib.sha256(b"Subject: x\r\n\r\nMessage-ID: <forged@elsewhere>\r\n").hexdigest()
    )


def test_a_message_id_too_long_to_keep_is_known_by_a_hash() -> None:
    raw = b"Message-ID: <" + b"x" * 600 + b"@a>\n\nbody"
    assert message_key(raw).startswith("sha256:") and len(message_key(raw)) < 100


def test_the_pause_before_each_try_doubles_up_to_an_hour() -> None:
    assert [retry_delay(tries, 60) for tries in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert retry_delay(20, 60) == 3600
