"""Log lines as JSON: one object a line, with the order reference a message names."""

import json
import logging

from sobot.logs import JsonLines


def record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("sobot", logging.WARNING, __file__, 1, message, args, exc_info)  # type: ignore[arg-type]


def test_a_line_is_one_json_object_with_the_reference() -> None:
    line = json.loads(JsonLines().format(record("%s: no allocation channel is set", "SO-2026-0007")))
    assert line["level"] == "WARNING" and line["logger"] == "sobot"
    assert line["message"] == "SO-2026-0007: no allocation channel is set"
    assert line["reference"] == "SO-2026-0007" and line["time"].endswith("+00:00")


def test_an_error_names_its_type_and_keeps_the_trace() -> None:
    try:
        raise ConnectionError("the mail server went away")
    except ConnectionError:
        import sys

        line = json.loads(JsonLines().format(record("job mail failed", exc_info=sys.exc_info())))
    assert line["error"] == "ConnectionError" and "the mail server went away" in line["trace"]
    assert "reference" not in line
