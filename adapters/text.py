"""Text helpers every adapter shares."""

from __future__ import annotations


def short(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with "…" where it was cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"
