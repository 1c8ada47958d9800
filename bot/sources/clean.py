"""The source boundary: every value from outside is checked and normalized here, once.

`clean_paper(paper)` is applied to every paper that enters paperwatch (HF items, arXiv
entries, ingest files: `Pipeline.ingest` calls it for all of them) and raises `ItemError`
for a paper that cannot be stored. The rules, the same on SQLite and PostgreSQL:

- text: lone surrogates and C0/C1 control characters (NUL, ESC, BEL, backspace, DEL...)
  removed; ordinary whitespace (space, tab, newlines, NBSP...) folded into single spaces;
  trimmed; cut at a per-field length with "…".
- integers: upvotes and the version must be 0..2**31-1 (PostgreSQL INTEGER) or the paper is
  refused; GitHub stars out of that range are dropped (a decoration, not the paper).
- links: http(s) only, no whitespace inside, at most 2,048 characters, else dropped.
- id: an arXiv id without its version (or a bundled `sample-NNNN`); dates aware, 1990..2100.

The helpers (`clean_text`, `clean_url`, `count`, `split_arxiv_id`, `parse_datetime`) are
what the item readers use, so an item is refused for the same reasons whichever path it took.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.types import Paper

MAX_INT = 2**31 - 1  # PostgreSQL INTEGER
MAX_TITLE = 1_000
MAX_SUMMARY = 10_000  # arXiv caps abstracts at 1,920 characters: room for any real one
MAX_AI_SUMMARY = 2_000
MAX_NAME = 300  # one author, category, keyword or organization
MAX_NAMES = 5_000  # collaboration papers list a few thousand authors
MAX_KEYWORDS = 100
MAX_URL = 2_048
MAX_SOURCE = 16  # papers.source is String(16)
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

_ID = re.compile(r"^(?:[a-z][a-z.\-]*/\d{7}|\d{4}\.\d{4,5}|sample-\d{4})(?:v(\d+))?$", re.I)
_BARE_ID = re.compile(r"^(?:[a-z][a-z.\-]{0,30}/\d{7}|\d{4}\.\d{4,5}|sample-\d{4})$", re.I)
# C0 and C1 controls except the whitespace ones (\t \n \v \f \r, NEL), DEL, lone surrogates
_JUNK = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")


class ItemError(ValueError):
    """Why one item (or paper) from outside cannot be used."""


def clean_text(value: str, limit: int) -> str:
    """Controls and lone surrogates removed, whitespace folded, trimmed, at most `limit`."""
    text = " ".join(_JUNK.sub("", value).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def clean_url(value: Any) -> str | None:
    """A trimmed http(s) link, or None for anything else."""
    if not isinstance(value, str):
        return None
    url = _JUNK.sub("", value).strip()
    if (not url.startswith(("https://", "http://")) or len(url) > MAX_URL
            or any(ch.isspace() for ch in url) or len(url) <= len("https://")):
        return None
    return url


def count(value: Any, what: str) -> int | None:
    """None, or a whole number 0..2**31-1; ItemError for anything else (10**30, -3, "12")."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ItemError(f"{what} {_show(value)} is not a count")
    if value > MAX_INT:
        raise ItemError(f"{what} {_show(value)} is out of range")
    return value


def optional_count(value: Any) -> int | None:
    """A count when it is one, else None (for decorations such as GitHub stars)."""
    try:
        return count(value, "count")
    except ItemError:
        return None


def split_arxiv_id(raw: Any) -> tuple[str, int | None]:
    """'2508.13426v2' -> ('2508.13426', 2); raise ItemError for anything not an arXiv id."""
    if not isinstance(raw, str) or not raw.strip():
        raise ItemError("missing id")
    text = raw.strip()
    for prefix in ("oai:arXiv.org:", "http://arxiv.org/abs/", "https://arxiv.org/abs/"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    match = _ID.match(text) if len(text) <= 64 else None
    if not match:
        raise ItemError(f"id {_show(text)} is not an arXiv id")
    version = count(int(match.group(1)), "version") if match.group(1) else None
    return (text[: match.start(1) - 1] if match.group(1) else text), version


def parse_datetime(raw: Any) -> datetime | None:
    """ISO date or datetime -> aware UTC datetime; None when absent; ItemError when absurd."""
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise ItemError(f"date {_show(raw)} is not a string")
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ItemError(f"date {_show(raw)} is not an ISO date") from None
    return _in_range(value, raw)


def _in_range(value: datetime, raw: Any) -> datetime:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        if not EARLIEST <= value <= LATEST:
            raise ItemError(f"date {_show(raw)} is out of range")
        return value.astimezone(UTC)
    except OverflowError:  # an offset that pushes year 1 or 9999 off the calendar
        raise ItemError(f"date {_show(raw)} is out of range") from None


def _show(value: Any) -> str:
    """A short, printable rendering of a bad value for a log line or report."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**12:
        return f"{'-' if value < 0 else ''}~10**{int(abs(value).bit_length() * 0.30103)}"
    text = repr(value if not isinstance(value, (list, dict)) else type(value).__name__)
    return _JUNK.sub("?", text[:42] + ("…" if len(text) > 42 else ""))


def names(values: Any, limit: int = MAX_NAMES, unique: bool = False) -> tuple[str, ...]:
    """Cleaned, non-empty names from an iterable of strings (other entries are dropped)."""
    if isinstance(values, str) or not isinstance(values, (list, tuple)):
        return ()
    out = [clean_text(v, MAX_NAME) for v in values if isinstance(v, str)]
    kept = [v for v in out if v]
    if unique:
        kept = list(dict.fromkeys(kept))
    return tuple(kept[:limit])


def _required_text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ItemError(f"{what} is {type(value).__name__}, not text")
    text = clean_text(value, limit)
    if not text:
        raise ItemError(f"missing {what}")
    return text


def _optional_text(value: Any, limit: int) -> str:
    return clean_text(value, limit) if isinstance(value, str) else ""


def clean_paper(paper: Paper) -> Paper:
    """`paper` with every value normalized as the module docstring says; ItemError if the
    paper cannot be stored (bad id, no title, absurd count or date)."""
    if not isinstance(paper.id, str) or not _BARE_ID.match(paper.id.strip()):
        raise ItemError(f"id {_show(paper.id)} is not an arXiv id")
    published = paper.published
    if published is not None:
        if not isinstance(published, datetime):
            raise ItemError(f"date {_show(published)} is not a date")
        published = _in_range(published, published.isoformat())
    organization = _optional_text(paper.organization, MAX_NAME) or None
    return replace(
        paper,
        id=paper.id.strip(),
        title=_required_text(paper.title, "title", MAX_TITLE),
        summary=_optional_text(paper.summary, MAX_SUMMARY),
        authors=names(paper.authors),
        categories=names(paper.categories, MAX_KEYWORDS, unique=True),
        keywords=names(paper.keywords, MAX_KEYWORDS, unique=True),
        published=published,
        upvotes=count(paper.upvotes, "upvotes"),
        version=count(paper.version, "version"),
        source=_optional_text(paper.source, MAX_SOURCE) or "ingest",
        github_url=clean_url(paper.github_url),
        project_url=clean_url(paper.project_url),
        thumbnail_url=clean_url(paper.thumbnail_url),
        github_stars=optional_count(paper.github_stars),
        ai_summary=_optional_text(paper.ai_summary, MAX_AI_SUMMARY),
        organization=organization,
    )


def clean_papers(papers: Any, where: str = "") -> tuple[list[Paper], list[str]]:
    """The papers that pass `clean_paper`, and one "id: reason" line per refused one."""
    kept: list[Paper] = []
    refused: list[str] = []
    for paper in papers:
        try:
            kept.append(clean_paper(paper))
        except ItemError as exc:
            label = _show(getattr(paper, "id", None))
            refused.append(f"{label.strip(chr(39))}{where}: {exc}")
    return kept, refused
