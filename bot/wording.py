"""Small wording helpers for text people read, shared by the core and the adapters.

`plural(3, "paper")` -> "3 papers" (`many` for irregular plurals: "bad entries");
`short(text, 160)` -> the text cut to at most 160 characters, "…" where it was cut.
Platform-neutral and free of imports, so every layer may use it (the adapters too).
"""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 paper', '2 papers'; `many` replaces `word + "s"` when the plural is irregular."""
    return f"{n} {word}" if n == 1 else f"{n} {many or word + 's'}"


def short(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with "…" where it was cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"
