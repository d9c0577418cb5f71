"""Counts as people write them: "1 file", "2 files", "1 policy", "11 policies"."""

from __future__ import annotations


def counted(number: int, singular: str, plural: str | None = None) -> str:
    """``number`` with the noun in the right number (``plural`` for irregular ones)."""
    if number == 1:
        return f"1 {singular}"
    return f"{number} {plural or singular + 's'}"
