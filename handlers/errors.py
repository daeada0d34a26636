"""What can go wrong with a request, in sentences its user can act on."""

from __future__ import annotations


class RequestError(Exception):
    """A request refused before anything was written; `str()` is the sentence to show the user."""


class InvalidInput(RequestError, ValueError):
    """The request is malformed: a bad date, an unknown key, a last day before the day made."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Ambiguous(InvalidInput):
    """More than one person fits what was typed; `choices` names each (name, email) for the asker to pick."""

    def __init__(self, message: str, field: str | None, choices: tuple[tuple[str, str], ...]) -> None:
        super().__init__(message, field)
        self.choices = choices


class NotFound(RequestError, LookupError):
    """The order, person or step the request names does not exist."""


class NotAllowed(RequestError, PermissionError):
    """The person asking may not do this; the attempt is audited."""


# What is repeated back of what someone typed: enough to recognise it, never a page of it.
ECHO_AT_MOST = 60


def brief(typed: str, most: int = ECHO_AT_MOST) -> str:
    """What someone typed, on one line and cut short, for a sentence that repeats it back to them."""
    line = " ".join(typed.split())
    return line if len(line) <= most else line[: most - 1].rstrip() + "…"
