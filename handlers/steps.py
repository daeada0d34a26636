"""Which step or event of a procedure a person's words name ("initial review", "outcome B"), in any channel (pure)."""

from __future__ import annotations

from handlers.errors import InvalidInput, brief
from rules.procedures import Procedure


def step_and_value(procedure: Procedure, text: str) -> tuple[str, str | None]:
    """The step or event `text` names, and the value it ends with when that event takes one ("outcome B").

    InvalidInput, listing the procedure's steps, when the words name none of them or more than one equally.
    """
    words = text.split()
    if len(words) > 1:
        key = step_key(procedure, " ".join(words[:-1]), quiet=True)
        event = procedure.event_keys().get(key or "")
        value = next((v for v in (event.values if event else ()) if v.upper() == words[-1].upper()), None)
        if key and value:
            return key, value
    return step_key(procedure, text) or "", None


def step_key(procedure: Procedure, text: str, *, quiet: bool = False) -> str | None:
    """The procedure's step or event that `text` names: its key, or words of its title that pick it out.

    With `quiet`, None when nothing is picked out; otherwise InvalidInput saying which steps there are.
    """
    wanted = "_".join(text.lower().replace("-", " ").split())
    known: dict[str, str] = {key: event.title for key, event in procedure.event_keys().items()}
    known.update({rule.key: rule.title for rule in procedure.milestones})
    if wanted in known:
        return wanted
    words = set(text.lower().split())
    scored = sorted(
        ((len(words & set(title.lower().replace("(", " ").split())) + len(words & set(key.split("_"))), key)
         for key, title in known.items()),
        reverse=True,
    )  # fmt: skip
    if scored and scored[0][0] > 0 and (len(scored) == 1 or scored[0][0] > scored[1][0]):
        return scored[0][1]
    if quiet:
        return None
    raise InvalidInput(f"I can't tell which step {brief(text)!r} is. Its steps are: {names(procedure)}.", "key")


def names(procedure: Procedure) -> str:
    """The procedure's steps and events as people know them, by title, for a sentence listing them."""
    titles = {rule.title for rule in procedure.milestones} | {event.title for event in procedure.event_keys().values()}
    return "; ".join(sorted(titles, key=str.lower))


def title(procedure: Procedure, key: str) -> str:
    """The title of the step or event `key`, or the key itself when the procedure has neither."""
    named = procedure.event_keys().get(key) or procedure.milestone(key)
    return named.title if named else key
