"""arXiv RSS/Atom entries -> Papers: feedparser for the structure, the XML for the text.

Used for the daily listing feed (`bot.sources.arxiv`) and the export API
(`bot.sources.arxiv_export`) alike. `raw_entries` reads every whole <item>/<entry> of the
XML (a truncated body keeps the entries before the break); `paper_from_entry` turns one
feedparser entry, with its raw text, into a Paper: the id and version from the entry's id,
the title and author names with TeX turned into Unicode outside maths, the abstract
without its "arXiv:... Announce Type: ... Abstract:" line, whitespace folded, dates checked
(ItemError when the entry is unusable). `parse_feed` parses a body both ways, off the
event loop in the callers.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from bot.sources.arxiv_authors import split_authors
from bot.sources.base import not_in_future
from bot.sources.clean import ItemError, split_arxiv_id
from bot.sources.tex import tex_to_unicode
from bot.types import Paper

SOURCE = "arxiv"
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_PREFIX = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s*(?:Abstract:\s*)?", re.I)
_TITLE_SUFFIX = re.compile(r"\s*\(arXiv:[^)]*\)\s*$")
_DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"


# --- entries -> papers -------------------------------------------------------------------
#
# feedparser reads the feed's structure (feed title, dates, categories, announce types), but
# it treats an RSS <description> as HTML: `&` comes back as `&amp;`, `x<s<1` loses `<s`, whole
# sentences vanish. The text fields (title, abstract, authors) are therefore read from the
# XML itself: the element's text, entities decoded once by the XML parser, nothing dropped.


@dataclass(frozen=True)
class RawEntry:
    """An entry's text fields exactly as the XML carries them (entities decoded once)."""

    title: str | None = None
    summary: str | None = None
    creator: str | None = None  # dc:creator: every author in one string (listing feeds)
    names: tuple[str, ...] = ()  # one Atom <author><name> per person (the export API)


def strip_abstract_prefix(summary: str) -> str:
    """'arXiv:2508.13426v1 Announce Type: new \\nAbstract: Text' -> 'Text' (whitespace folded)."""
    return " ".join(_PREFIX.sub("", summary or "", count=1).split())


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(elem: ET.Element | None) -> str | None:
    return None if elem is None else "".join(elem.itertext())


def _raw_entry(elem: ET.Element) -> tuple[str, RawEntry]:
    children: dict[str, ET.Element] = {}
    names: list[str] = []
    for child in elem:
        local = _local(child.tag)
        if local == "author":
            name = next((c for c in child if _local(c.tag) == "name"), None)
            names.append(_text(name) or "")
        elif child.tag == _DC_CREATOR or local not in children:
            children[_DC_CREATOR if child.tag == _DC_CREATOR else local] = child
    key = _text(children.get("guid")) or _text(children.get("id")) or ""
    if not key.strip() and "link" in children:
        link = children["link"]
        key = link.get("href") or _text(link) or ""
    summary = children.get("description", children.get("summary"))
    return " ".join(key.split()), RawEntry(
        title=_text(children.get("title")), summary=_text(summary),
        creator=_text(children.get(_DC_CREATOR)), names=tuple(names))


def raw_entries(body: bytes) -> dict[str, list[RawEntry]]:
    """Every whole <item>/<entry> of the XML, keyed by guid/id (else link). A body that breaks
    off (truncated) keeps the entries before the break; a non-XML body gives none."""
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("end",))
    found: dict[str, list[RawEntry]] = {}
    parser.feed(body)  # a parse error is queued as an event, not raised here
    with suppress(ET.ParseError):
        parser.close()
    try:
        for event in parser.read_events():
            elem = event[-1]  # ("end", element) for every event asked for
            if isinstance(elem, ET.Element) and _local(elem.tag) in ("item", "entry"):
                key, raw = _raw_entry(elem)
                found.setdefault(key, []).append(raw)
                elem.clear()
    except ET.ParseError:
        pass
    return found


def take_raw(raws: dict[str, list[RawEntry]], entry: Any) -> RawEntry | None:
    key = " ".join(str(entry.get("id") or entry.get("link") or "").split())
    queue = raws.get(key)
    return queue.pop(0) if queue else None


def _when(entry: Any, key: str) -> datetime | None:
    """A feedparser date (already normalised to UTC) -> aware datetime; ItemError if absurd."""
    parsed = entry.get(f"{key}_parsed")
    if parsed is None:
        if entry.get(key):
            raise ItemError(f"{key} date {str(entry.get(key))[:40]!r} is unreadable")
        return None
    value = datetime(*parsed[:6]).replace(tzinfo=UTC)
    if not _EARLIEST <= value <= _LATEST:
        raise ItemError(f"{key} date {value:%Y-%m-%d} is out of range")
    return value


def _categories(entry: Any) -> tuple[str, ...]:
    terms = []
    primary = entry.get("arxiv_primary_category")
    if isinstance(primary, dict) and primary.get("term"):
        terms.append(primary["term"])
    terms += [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
    return tuple(dict.fromkeys(" ".join(str(t).split()) for t in terms))


def _authors(entry: Any, raw: RawEntry | None) -> tuple[str, ...]:
    if raw is not None and raw.creator is not None:
        names: tuple[str, ...] = split_authors(raw.creator)
    elif raw is not None and raw.names:
        names = tuple(raw.names)  # export API: one <author> per person, never re-split
    elif len(entry.get("authors") or []) > 1:
        names = tuple(a["name"] for a in entry["authors"] if a.get("name"))
    else:
        names = split_authors(entry.get("author") or "")
    return tuple(n for n in (tex_to_unicode(name) for name in names) if n)


def paper_from_entry(entry: Any, now: datetime | None = None,
                     raw: RawEntry | None = None) -> Paper:
    """A listing-feed or export-API entry -> Paper (source "arxiv"); ItemError if unusable.

    `raw` is the entry's text as the XML carries it (see `raw_entries`); without it the
    text comes from feedparser. Normalization: the title and each author name have TeX
    accents and escapes turned into Unicode outside maths (`tex_to_unicode`) and whitespace
    folded; the abstract loses its "arXiv:... Announce Type: ... Abstract:" prefix and has
    its whitespace folded, nothing else (TeX and maths in abstracts stay as sent)."""
    raw_id = entry.get("id") or entry.get("link")
    paper_id, version = split_arxiv_id(raw_id)
    raw_title = raw.title if raw is not None and raw.title is not None else entry.get("title")
    title = tex_to_unicode(_TITLE_SUFFIX.sub("", " ".join((raw_title or "").split())))
    if not title:
        raise ItemError("missing title")
    summary = raw.summary if raw is not None and raw.summary is not None \
        else entry.get("summary")
    return not_in_future(Paper(
        id=paper_id, version=version, source=SOURCE, title=title,
        summary=strip_abstract_prefix(summary or ""), authors=_authors(entry, raw),
        categories=_categories(entry),
        published=_when(entry, "published") or _when(entry, "updated")), now)


def entry_label(entry: Any, index: int) -> str:
    raw = entry.get("id") or entry.get("link")
    return str(raw)[:60] if raw else f"entry#{index}"


def parse_feed(body: bytes) -> tuple[Any, dict[str, list[RawEntry]]]:
    # A stream, never bytes or str: feedparser would treat a short string as a path or URL.
    return feedparser.parse(io.BytesIO(body)), raw_entries(body)
