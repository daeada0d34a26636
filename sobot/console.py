"""How the `sobot` command answers on the terminal: one-sentence failures with an exit status, and plain tables."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

from sobot.settings import Settings, SettingsError, load_settings

BAD_INPUT = 2


def fail(message: str, status: int = BAD_INPUT) -> NoReturn:
    """One sentence on stderr and an exit status: 2 for bad input, never a traceback."""
    print(f"sobot: {message}", file=sys.stderr)
    raise SystemExit(status)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        fail(str(error))


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
             for row in [headers, *rows]]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
