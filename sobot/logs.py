"""The service's log lines: readable text, or one JSON object a line for a council's log collector."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

REFERENCE = re.compile(r"\bSO-\d{4}-\d{4,6}\b")


class JsonLines(logging.Formatter):
    """time, level, logger, message, and the order reference the message names (there is no personal data to add:
    the service logs references, never names)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        reference = getattr(record, "reference", None) or (REFERENCE.search(message) or [None])[0]
        if reference:
            line["reference"] = reference
        if record.exc_info:
            line["error"] = record.exc_info[0].__name__ if record.exc_info[0] else "error"
            line["trace"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str, form: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if form == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))  # fmt: skip
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # A line per job run, or per Teams turn, would bury what matters.
    for chatty in ("apscheduler", "microsoft_agents"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
