"""Papers -> a BibTeX file (`/export`): one @misc entry per paper, arXiv-style fields.

Each entry carries title, authors, year, the arXiv id as eprint, its primary category and
the abstract URL, the way arXiv's own "Export BibTeX citation" writes them. Text is made
safe for BibTeX: TeX's special characters are escaped outside inline maths ($...$, left as
the paper wrote it) and unbalanced braces are dropped, so one odd title cannot break the
file for the rest.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from bot.types import Paper

_SPECIAL = {"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_"}
_MATH = re.compile(r"(\$[^$]*\$)")


def _balanced(text: str) -> str:
    """Drop the braces that have no partner (BibTeX stops reading at an unbalanced one)."""
    keep = [True] * len(text)
    open_at: list[int] = []
    for index, char in enumerate(text):
        if char == "{":
            open_at.append(index)
        elif char == "}":
            if open_at:
                open_at.pop()
            else:
                keep[index] = False
    for index in open_at:
        keep[index] = False
    return "".join(c for c, k in zip(text, keep, strict=True) if k)


def tex_text(text: str) -> str:
    """Plain paper text -> BibTeX field text: specials escaped outside $...$ maths."""
    text = "".join(c for c in " ".join(text.split()) if unicodedata.category(c) != "Cc")
    parts = []
    for part in _MATH.split(text):
        if _MATH.fullmatch(part):
            parts.append(part)
        else:
            parts.append("".join(_SPECIAL.get(c, c) for c in part))
    return _balanced("".join(parts))


def citation_key(paper: Paper) -> str:
    """A key unique per paper and stable across exports: the arXiv id, made key-safe."""
    first = paper.authors[0].split()[-1] if paper.authors else "anon"
    surname = re.sub(r"[^a-z]", "", unicodedata.normalize("NFKD", first).lower()) or "anon"
    year = f"{paper.published.year}" if paper.published else ""
    return f"{surname}{year}_{re.sub(r'[^0-9A-Za-z.]', '.', paper.id)}"


def entry(paper: Paper) -> str:
    """One paper as a BibTeX @misc entry."""
    fields = [("title", "{" + tex_text(paper.title) + "}")]
    if paper.authors:
        fields.append(("author", " and ".join(tex_text(name) for name in paper.authors)))
    if paper.published is not None:
        fields.append(("year", str(paper.published.year)))
    if not paper.id.startswith("sample-"):
        fields += [("eprint", paper.id), ("archivePrefix", "arXiv")]
        if paper.categories:
            fields.append(("primaryClass", paper.categories[0]))
        fields.append(("url", f"https://arxiv.org/abs/{paper.id}"))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{citation_key(paper)},\n{body}\n}}\n"


def bibtex_file(papers: Iterable[Paper]) -> str:
    """Every paper once (first sighting kept), as the text of a .bib file."""
    seen: dict[str, Paper] = {}
    for paper in papers:
        seen.setdefault(paper.id, paper)
    return "\n".join(entry(p) for p in seen.values())
