"""arXiv author lists: a dc:creator string -> the names, affiliations kept apart.

A listing feed carries every author of a paper in one dc:creator string, e.g.
"A (Univ, Dept), B and C". `parse_authors` cuts it on arXiv's separators (', ', ' and ',
', and ') only outside parentheses, keeps a parenthesized affiliation with its name (never
as an author), keeps 'Jr.'-style suffixes with their name, and falls back to cutting at
every separator when the parentheses are unbalanced. TeX is left as sent (the caller turns
it into Unicode). `split_authors` gives the names only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEPARATOR = re.compile(r"[(){}]|,|\s+(?:and|&)\s+")
_NAME_SUFFIX = re.compile(r"^(?:Jr|Sr|II|III|IV)\.?$")


@dataclass(frozen=True)
class Author:
    """One name of a dc:creator list; `affiliation` is what followed it in parentheses."""

    name: str
    affiliation: str | None = None


def _top_level_parts(creator: str, aware: bool = True) -> list[str]:
    """Cut at ',', ' and ', ' & ' outside (...) and {...} (all of them when not `aware`)."""
    parts, depth, start = [], 0, 0
    for match in _SEPARATOR.finditer(creator):
        token = match.group(0)
        if token in ("(", "{"):
            depth += 1 if aware else 0
        elif token in (")", "}"):
            depth = max(0, depth - 1)
        elif depth == 0:
            parts.append(creator[start:match.start()])
            start = match.end()
    parts.append(creator[start:])
    return parts


def _author(part: str) -> Author | None:
    """'Alexandre Benoist (LORIA, CNRS)' -> Author('Alexandre Benoist', 'LORIA, CNRS');
    nested parentheses belong to the affiliation they sit in."""
    name: list[str] = []
    groups: list[list[str]] = []
    depth = 0
    for char in part:
        if char == "(":
            depth += 1
            if depth == 1:
                groups.append([])
                continue
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                name.append(" ")
                continue
        (groups[-1] if depth else name).append(char)
    full_name = " ".join("".join(name).split())
    if not full_name:
        return None
    affiliations = [" ".join("".join(g).split()) for g in groups]
    return Author(full_name, "; ".join(a for a in affiliations if a) or None)


def parse_authors(creator: str) -> tuple[Author, ...]:
    """dc:creator -> authors, cut on arXiv's separators (', ', ' and ', ', and ') only
    outside parentheses; an affiliation in parentheses stays with its name, never becomes
    an author. Unbalanced parentheses fall back to cutting at every separator."""
    text = creator or ""
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    authors: list[Author] = []
    for part in _top_level_parts(text, aware=depth == 0):
        author = _author(part)
        if author is None:
            continue
        if _NAME_SUFFIX.match(author.name) and authors:
            last = authors[-1]
            authors[-1] = Author(f"{last.name}, {author.name}",
                                 last.affiliation or author.affiliation)
        else:
            authors.append(author)
    return tuple(authors)


def split_authors(creator: str) -> tuple[str, ...]:
    """dc:creator 'A (Univ, Dept), B and C' -> ('A', 'B', 'C'): the names, affiliations
    left out; 'Jr.'-style suffixes stay with their name. TeX is left as sent."""
    return tuple(a.name for a in parse_authors(creator))
