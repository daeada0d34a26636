"""Reading Adaptive Cards in tests as a person would: every piece of text they show."""

from __future__ import annotations

from typing import Any


def texts(card: Any) -> str:
    """Every text, title, value and label in a card, one per line."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.extend(node[key] for key in ("text", "title", "value", "label") if isinstance(node.get(key), str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(card)
    return "\n".join(found)
