"""arXiv: the daily listing feed -> new papers and replacements; the export API for back-fill.

`ArxivSource(cfg, http_cfg).fetch(session, now)` reads `{rss_base_url}/rss/{cat+cat}` (RSS or
Atom, parsed by feedparser). Entries announced `new` (and `cross` when `include_cross`)
become papers; `replace`/`replace-cross` become updates, which only refresh papers already
stored. An empty feed (weekends, holidays) is status "empty", "no announcement today"; a
"Feed error for query" feed or a body that is no feed at all is an error. Bad entries are
skipped and logged with their id, the others kept (a truncated feed keeps its whole entries).

Text fields come from the XML itself, not from feedparser (which reads an RSS description
as HTML and mangles `&`, `<` and whole sentences): entities decoded once, nothing dropped.
The documented normalization (`paper_from_entry`): abstract = the description without its
"arXiv:... Announce Type: ... Abstract:" line, whitespace folded, TeX left as sent; title and
author names = TeX accents and escapes turned into Unicode outside maths (`bot.sources.tex`),
whitespace folded; dc:creator cut on ", ", " and ", ", and " only outside parentheses, the
parenthesized affiliation kept apart (`parse_authors`) and out of the name. Parsing is CPU
work (about half a second for the 2.8 MB all-archives feed): `fetch` and the export client
run it in a worker thread, never on the event loop.

After downtime (`since` older than a day) the announcements missed are back-filled through
the export API (`submittedDate` range over the configured categories). `ArxivExportClient`
keeps arXiv's terms: one request at a time, at least `interval` (3 s) apart, backing off
on 429/503; tests inject `interval`, `sleep` and `clock`.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import feedparser

from bot.config import ArxivSourceConfig, HttpConfig
from bot.sources.base import FetchResult, Status, not_in_future, plural
from bot.sources.clean import ItemError, split_arxiv_id
from bot.sources.http import Fetcher, FetchError, Sleep
from bot.sources.tex import tex_to_unicode
from bot.types import Paper

log = logging.getLogger(__name__)

SOURCE = "arxiv"
NO_ANNOUNCEMENT = "no announcement today"
FEED_ERROR = "Feed error for query"
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_PREFIX = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s*(?:Abstract:\s*)?", re.I)
_TITLE_SUFFIX = re.compile(r"\s*\(arXiv:[^)]*\)\s*$")
_SEPARATOR = re.compile(r"[(){}]|,|\s+(?:and|&)\s+")
_DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
_NAME_SUFFIX = re.compile(r"^(?:Jr|Sr|II|III|IV)\.?$")


# --- entries -> papers -------------------------------------------------------------------
#
# feedparser reads the feed's structure (feed title, dates, categories, announce types), but
# it treats an RSS <description> as HTML: `&` comes back as `&amp;`, `x<s<1` loses `<s`, whole
# sentences vanish. The text fields (title, abstract, authors) are therefore read from the
# XML itself: the element's text, entities decoded once by the XML parser, nothing dropped.


@dataclass(frozen=True)
class Author:
    """One name of a dc:creator list; `affiliation` is what followed it in parentheses."""

    name: str
    affiliation: str | None = None


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


def _take_raw(raws: dict[str, list[RawEntry]], entry: Any) -> RawEntry | None:
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


def _entry_label(entry: Any, index: int) -> str:
    raw = entry.get("id") or entry.get("link")
    return str(raw)[:60] if raw else f"entry#{index}"


def _parse_feed(body: bytes) -> tuple[Any, dict[str, list[RawEntry]]]:
    # A stream, never bytes or str: feedparser would treat a short string as a path or URL.
    return feedparser.parse(io.BytesIO(body)), raw_entries(body)


@dataclass
class Listing:
    """One listing feed, read: what to ingest, and what the feed said about itself."""

    papers: list[Paper] = field(default_factory=list)
    updates: list[Paper] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # announce type -> entries
    skipped: int = 0
    error: str | None = None  # the feed is unusable
    malformed: bool = False  # parsed with errors (truncated?): whole entries kept
    announced: date | None = None

    @property
    def empty(self) -> bool:
        return self.error is None and not self.counts and not self.skipped


def parse_listing(body: bytes, include_cross: bool = True,
                  now: datetime | None = None) -> Listing:
    """Listing feed bytes -> Listing. Never raises for what the network sends."""
    feed, raws = _parse_feed(body)
    listing = Listing(malformed=bool(feed.get("bozo")))
    title = " ".join(str(feed.feed.get("title") or "").split())
    if title.startswith(FEED_ERROR):
        listing.error = f"arXiv answered {title!r} (is every category in the list valid?)"
        return listing
    if not feed.get("version") and not feed.entries:
        listing.error = "the answer is not an RSS/Atom feed"
        return listing
    if listing.malformed and not feed.entries:
        listing.error = f"malformed feed: {feed.get('bozo_exception')}"
        return listing
    updated = feed.feed.get("updated_parsed")
    listing.announced = date(*updated[:3]) if updated else None
    for index, entry in enumerate(feed.entries):
        kind = str(entry.get("arxiv_announce_type") or "").strip().lower()
        try:
            if not kind:
                raise ItemError("no announce type (truncated entry?)")
            if kind not in ("new", "cross", "replace", "replace-cross"):
                raise ItemError(f"unknown announce type {kind!r}")
            paper = paper_from_entry(entry, now, _take_raw(raws, entry))
        except ItemError as exc:
            listing.skipped += 1
            log.warning("source=%s id=%s skipped: %s", SOURCE, _entry_label(entry, index), exc)
            continue
        listing.counts[kind] = listing.counts.get(kind, 0) + 1
        if kind == "new" or (kind == "cross" and include_cross):
            listing.papers.append(paper)
        elif kind.startswith("replace"):
            listing.updates.append(paper)
    return listing


# --- the export API ------------------------------------------------------------------------


@dataclass
class ExportPage:
    papers: list[Paper]
    total: int | None
    skipped: int


def parse_export(body: bytes, url: str = "") -> ExportPage:
    """One export-API answer -> papers; an arXiv error entry or a non-feed is a FetchError."""
    feed, raws = _parse_feed(body)
    if not feed.get("version") and not feed.entries:
        raise FetchError(url, "the export API answer is not an Atom feed")
    papers: list[Paper] = []
    skipped = 0
    for index, entry in enumerate(feed.entries):
        if "/api/errors" in str(entry.get("id", "")):
            message = " ".join(str(entry.get("summary") or "error").split())
            raise FetchError(url, f"export API error: {message[:200]}")
        try:
            papers.append(paper_from_entry(entry, raw=_take_raw(raws, entry)))
        except ItemError as exc:
            skipped += 1
            log.warning("source=%s id=%s skipped: %s (export API)", SOURCE,
                        _entry_label(entry, index), exc)
    try:
        total: int | None = int(feed.feed.get("opensearch_totalresults"))
    except (TypeError, ValueError):
        total = None
    return ExportPage(papers, total, skipped)


class Pacer:
    """One request at a time, each starting at least `interval` after the previous ended."""

    def __init__(self, interval: float, sleep: Sleep = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.sleep = sleep
        self.clock = clock
        self._lock = asyncio.Lock()
        self._last: float | None = None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._lock:
            if self._last is not None:
                wait = self._last + self.interval - self.clock()
                if wait > 0:
                    await self.sleep(wait)
            try:
                yield
            finally:
                self._last = self.clock()


@dataclass
class ExportResult:
    papers: list[Paper]
    skipped: int = 0
    note: str = ""


class ArxivExportClient:
    """The export API (`/api/query`) within arXiv's terms: paced, one request at a time."""

    def __init__(self, cfg: ArxivSourceConfig, http: HttpConfig | None = None, *,
                 interval: float = 3.0, sleep: Sleep = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic, page_size: int = 100,
                 empty_page_retries: int = 2) -> None:
        self.url = f"{cfg.api_base_url.rstrip('/')}/api/query"
        self.http = http or HttpConfig()
        self.sleep = sleep
        self.pacer = Pacer(interval, sleep, clock)
        self.page_size = page_size
        self.empty_page_retries = empty_page_retries

    async def _query(self, session: aiohttp.ClientSession, params: dict[str, Any]) -> ExportPage:
        fetcher = Fetcher(session, self.http, sleep=self.sleep)
        async with self.pacer.slot():
            response = await fetcher.get(self.url, params, min_delay=self.pacer.interval)
        # A 100-entry page is cheap, but parsing is CPU work: never on the event loop.
        return await asyncio.to_thread(parse_export, response.body, self.url)

    async def by_ids(self, session: aiohttp.ClientSession, ids: Sequence[str],
                     batch: int = 100) -> ExportResult:
        """The latest version of each id (for enrichment), `batch` ids per request."""
        keys = list(dict.fromkeys(split_arxiv_id(i)[0] for i in ids))
        result = ExportResult([])
        for start in range(0, len(keys), batch):
            chunk = keys[start:start + batch]
            page = await self._query(session, {"id_list": ",".join(chunk), "start": 0,
                                               "max_results": len(chunk)})
            result.papers += page.papers
            result.skipped += page.skipped
        return result

    async def submitted_between(self, session: aiohttp.ClientSession, start: datetime,
                                end: datetime, categories: Sequence[str],
                                max_results: int = 2000,
                                on_page: Callable[[int, int], None] | None = None
                                ) -> ExportResult:
        """Papers of `categories` submitted in [start, end], newest first, paging the API;
        `on_page(done, expected)` is told after every page."""
        cats = " OR ".join(f"cat:{c}" for c in categories)
        window = f"submittedDate:[{start.astimezone(UTC):%Y%m%d%H%M} TO " \
                 f"{end.astimezone(UTC):%Y%m%d%H%M}]"
        result = ExportResult([])
        offset, empty_tries = 0, 0
        while offset < max_results:
            page = await self._query(session, {
                "search_query": f"({cats}) AND {window}", "start": offset,
                "max_results": min(self.page_size, max_results - offset),
                "sortBy": "submittedDate", "sortOrder": "descending"})
            result.skipped += page.skipped
            count = len(page.papers) + page.skipped
            if count == 0:
                # arXiv sometimes answers an empty page by mistake: retry before concluding.
                if page.total is not None and offset < page.total \
                        and empty_tries < self.empty_page_retries:
                    empty_tries += 1
                    continue
                if page.total is not None and offset < page.total:
                    result.note = f"export API kept answering empty pages at {offset}/{page.total}"
                break
            empty_tries = 0
            result.papers += page.papers
            offset += count
            if on_page is not None:
                on_page(offset, min(max_results, page.total if page.total is not None
                                    else max_results))
            if page.total is not None and offset >= page.total:
                break
        else:
            result.note = f"back-fill capped at {max_results} papers"
        return result


# --- the source ----------------------------------------------------------------------------


class ArxivSource:
    """The arXiv listing-feed source, as the poller drives it."""

    name = SOURCE

    def __init__(self, cfg: ArxivSourceConfig, http: HttpConfig | None = None, *,
                 sleep: Sleep = asyncio.sleep, export: ArxivExportClient | None = None,
                 backfill_days: int = 7, backfill_after: timedelta = timedelta(hours=24),
                 backfill_max: int = 2000) -> None:
        self.cfg = cfg
        self.http = http or HttpConfig()
        self.sleep = sleep
        self.export = export or ArxivExportClient(cfg, self.http, sleep=sleep)
        self.backfill_days = backfill_days
        self.backfill_after = backfill_after
        self.backfill_max = backfill_max
        self.poll_seconds = float(cfg.poll_seconds)

    @property
    def listing_url(self) -> str:
        return f"{self.cfg.rss_base_url.rstrip('/')}/rss/{'+'.join(self.cfg.categories)}"

    async def fetch(self, http_session: aiohttp.ClientSession, now: datetime, *,
                    since: datetime | None = None) -> FetchResult:
        try:
            response = await Fetcher(http_session, self.http, sleep=self.sleep).get(
                self.listing_url)
        except FetchError as exc:
            return FetchResult(status="error", note=f"listing feed: {exc.reason}")
        # feedparser takes ~0.5 s on the 2.8 MB all-archives feed: off the loop, or every
        # chat stalls while it runs.
        listing = await asyncio.to_thread(parse_listing, response.body,
                                          self.cfg.include_cross, now)
        if listing.error:
            log.warning("source=%s listing feed unusable: %s", SOURCE, listing.error)
            return FetchResult(status="error", note=listing.error)
        papers = {p.id: p for p in listing.papers}
        notes = [self._describe(listing)]
        status: Status = "empty" if listing.empty else "ok"
        if listing.skipped and not listing.counts:
            status = "error"  # every entry was bad: something is wrong with the feed
        skipped = listing.skipped
        if since is not None and self.backfill_days > 0 and now - since > self.backfill_after:
            start = max(since - timedelta(days=4), now - timedelta(days=self.backfill_days))
            try:
                filled = await self.export.submitted_between(
                    http_session, start, now, self.cfg.categories, self.backfill_max)
            except FetchError as exc:
                status = "error"  # the gap stays open: since is not advanced, retried next cycle
                notes.append(f"back-fill failed: {exc.reason}")
            else:
                kept = [p for p in filled.papers if self.wanted(p)]
                added = [p for p in kept if p.id not in papers]
                papers.update((p.id, p) for p in added)
                skipped += filled.skipped
                notes.append(f"back-filled {plural(len(added), 'paper')} since {since:%Y-%m-%d}"
                             + (f" ({filled.note})" if filled.note else ""))
                if added and status == "empty":
                    status = "ok"
        return FetchResult(tuple(papers.values()), tuple(listing.updates), status=status,
                           note="; ".join(notes), skipped=skipped)

    def wanted(self, paper: Paper) -> bool:
        """Back-filled papers: cross-lists only when configured (primary category first)."""
        if self.cfg.include_cross:
            return True
        return bool(paper.categories) and paper.categories[0] in self.cfg.categories

    def _describe(self, listing: Listing) -> str:
        if listing.empty:
            return f"{NO_ANNOUNCEMENT} (weekend or holiday: the feed is empty)"
        when = f"announcement of {listing.announced}" if listing.announced else "announcement"
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(listing.counts.items()))
        text = f"{when}: {counts or 'nothing usable'}"
        if listing.skipped:
            text += f"; {plural(listing.skipped, 'bad entry', 'bad entries')} skipped"
        if listing.malformed:
            text += "; feed was malformed (truncated?), whole entries kept"
        return text
