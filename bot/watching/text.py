"""Text normalization shared by the watch language and the matching engine.

Both sides of a match go through the same steps, one character at a time: Unicode NFKC,
case folding, accents removed (NFKD, then nonspacing marks dropped), invisible format
characters (soft hyphen, zero-width joiner, bidi marks) dropped. Words are then the runs
of letters and digits; every other character separates words.

Plurals: a word also matches its plural and its singular, by regular English suffix rules
(`transformer`/`transformers`, `strategy`/`strategies`, `approach`/`approaches`,
`analysis`/`analyses`, `matrix`/`matrices`). There is no other stemming.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_ASCII_WORD = re.compile(r"[a-z0-9]+")


def _is_word_char(ch: str) -> bool:
    # Spacing combining marks (Mc) belong to the word in Indic and similar scripts.
    return ch.isalnum() or unicodedata.category(ch) == "Mc"


def fold_char(ch: str) -> str:
    """One character folded: lower-case, accent-free word characters, or " " for a separator.

    Returns "" for characters that vanish (accents, format characters) and may return
    several characters (`ß` -> `ss`, `ﬁ` -> `fi`, `½` -> `1 2`).
    """
    category = unicodedata.category(ch)
    if category == "Cf":
        return ""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", ch).casefold())
    out = []
    for c in folded:
        if unicodedata.category(c) == "Mn":
            continue
        out.append(c if _is_word_char(c) else " ")
    return "".join(out)


class _FoldTable(dict):
    """str.translate table that folds each code point on first sight and remembers it."""

    def __missing__(self, code: int) -> str:
        value = fold_char(chr(code))
        self[code] = value
        return value


_TABLE = _FoldTable()


def normalize_words(text: str) -> list[str]:
    """The normalized words of `text`: "Jürgen's re-ranking" -> jurgen, s, re, ranking."""
    if text.isascii():
        return _ASCII_WORD.findall(text.lower())
    return text.translate(_TABLE).split()


def word_spans(text: str) -> list[tuple[str, int, int]]:
    """Each normalized word with the [start, end) character range it comes from in `text`.

    The words are exactly those of `normalize_words(text)`.
    """
    if text.isascii():
        return [(m.group(), m.start(), m.end()) for m in _ASCII_WORD.finditer(text.lower())]
    spans: list[tuple[str, int, int]] = []
    current: list[str] = []
    start = end = 0
    for i, ch in enumerate(text):
        for c in _TABLE[ord(ch)]:
            if c == " ":
                if current:
                    spans.append(("".join(current), start, end))
                    current = []
                continue
            if not current:
                start = i
            current.append(c)
            end = i + 1
    if current:
        spans.append(("".join(current), start, end))
    return spans


# --- plurals ----------------------------------------------------------------------------

_VOWELS = frozenset("aeiou")
# Words whose regular plural is a different common word: IT/its, US/uses, new/news.
_NO_PLURAL = frozenset({"it", "us", "new", "ha", "hi", "wa", "thi", "thu", "ye",
                        "do", "go", "no", "so", "to"})


def plurals(word: str) -> tuple[str, ...]:
    """The regular plural forms of a word (empty for one letter, digits, other scripts)."""
    if len(word) < 2 or not ("a" <= word[-1] <= "z") or word in _NO_PLURAL:
        return ()
    out: list[str] = []
    if word.endswith(("s", "x", "z", "ch", "sh")):
        out.append(word + "es")
    elif word[-1] == "y" and word[-2] not in _VOWELS:
        out.append(word[:-1] + "ies")
    else:
        out.append(word + "s")
        if word[-1] == "o":
            out.append(word + "es")
    if len(word) >= 4 and word.endswith("is"):
        out.append(word[:-2] + "es")
    if len(word) >= 4 and word.endswith(("ix", "ex")):
        out.append(word[:-2] + "ices")
    return tuple(out)


def _singular_candidates(word: str) -> list[str]:
    out = []
    if word.endswith("s"):
        out.append(word[:-1])
    if word.endswith("es"):
        out.append(word[:-2])
        out.append(word[:-2] + "is")
    if word.endswith("ies"):
        out.append(word[:-3] + "y")
    if word.endswith("ices"):
        out.append(word[:-4] + "ix")
        out.append(word[:-4] + "ex")
    return out


def singulars(word: str) -> tuple[str, ...]:
    """The words of which `word` is a regular plural (the exact inverse of `plurals`)."""
    return tuple(c for c in _singular_candidates(word) if c and word in plurals(c))


@lru_cache(maxsize=65536)
def related_forms(word: str) -> tuple[str, ...]:
    """The word itself, its plurals and its singulars: every word it matches."""
    return tuple(dict.fromkeys((word, *plurals(word), *singulars(word))))


def same_word(a: str, b: str) -> bool:
    """Whether two normalized words match: equal, or one is a plural of the other."""
    return a == b or b in plurals(a) or a in plurals(b)
