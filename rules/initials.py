"""A child's initials: notifications name the child by initials only, never in full."""

from __future__ import annotations


def initials(name: str) -> str:
    """'Jane Mary Smith' → 'J.M.S.'."""
    return "".join(f"{part[0].upper()}." for part in name.replace("-", " ").split() if part)
