"""arXiv: the daily listing feed -> new papers and replacements; the export API for back-fill.

`ArxivSource(cfg, http_cfg).fetch(session, now)` reads `{rss_base_url}/rss/{cat+cat}` (RSS or
Atom, parsed by feedparser). Entries announced `new` (and `cross` when `include_cross`)
become papers; `replace`/`replace-cross` become updates, which only refresh papers already
stored. An empty feed (weekends, holidays) is status "empty", "no announcement today"; a
"Feed error for query" feed or a body that is no feed at all is an error. Bad entries are
skipped and logged with their id, the others kept (a truncated feed keeps its whole entries).

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
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import feedparser

from bot.config import ArxivSourceConfig, HttpConfig
from bot.paper_file import ItemError, split_arxiv_id
from bot.sources.base import FetchResult, Status, not_in_future, plural
from bot.sources.http import Fetcher, FetchError, Sleep
from bot.types import Paper

log = logging.getLogger(__name__)

SOURCE = "arxiv"
NO_ANNOUNCEMENT = "no announcement today"
FEED_ERROR = "Feed error for query"
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_PREFIX = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*\S+\s*(?:Abstract:\s*)?", re.I)
_TITLE_SUFFIX = re.compile(r"\s*\(arXiv:[^)]*\)\s*$")
_AND = re.compile(r"\s+(?:and|&)\s+")
_NAME_SUFFIX = re.compile(r"^(?:Jr|Sr|II|III|IV)\.?$")


# --- entries -> papers -------------------------------------------------------------------


def strip_abstract_prefix(summary: str) -> str:
    """'arXiv:2508.13426v1 Announce Type: new \\nAbstract: Text' -> 'Text' (whitespace folded)."""
    return " ".join(_PREFIX.sub("", summary or "", count=1).split())


def split_authors(creator: str) -> tuple[str, ...]:
    """dc:creator 'A, B and C' -> ('A', 'B', 'C'); 'Jr.'-style suffixes stay with their name."""
    names: list[str] = []
    for part in creator.split(","):
        for name in _AND.split(part):
            name = " ".join(name.split())
            if not name:
                continue
            if _NAME_SUFFIX.match(name) and names:
                names[-1] = f"{names[-1]}, {name}"
            else:
                names.append(name)
    return tuple(names)


def _when(entry: Any, key: str) -> datetime | None:
    """A feedparser date (already normalised to UTC) -> aware datetime; ItemError if absurd."""
    parsed = entry.get(f"{key}_parsed")
    if parsed is None:
        if entry.get(key):
            raise ItemError(f"{key} date {str(entry.get(key))[:40]!r} is unreadable")
        return None
    value = datetime(*parsed[:6], tzinfo=UTC)
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


def paper_from_entry(entry: Any, now: datetime | None = None) -> Paper:
    """A listing-feed or export-API entry -> Paper (source "arxiv"); ItemError if unusable."""
    raw_id = entry.get("id") or entry.get("link")
    paper_id, version = split_arxiv_id(raw_id)
    title = _TITLE_SUFFIX.sub("", " ".join((entry.get("title") or "").split()))
    if not title:
        raise ItemError("missing title")
    creator = entry.get("author") or ""
    if len(entry.get("authors") or []) > 1:  # export API: one <author> per person
        authors = tuple(" ".join(a["name"].split()) for a in entry["authors"] if a.get("name"))
    else:
        authors = split_authors(creator)
    return not_in_future(Paper(
        id=paper_id, version=version, source=SOURCE, title=title,
        summary=strip_abstract_prefix(entry.get("summary") or ""), authors=authors,
        categories=_categories(entry),
        published=_when(entry, "published") or _when(entry, "updated")), now)


def _entry_label(entry: Any, index: int) -> str:
    raw = entry.get("id") or entry.get("link")
    return str(raw)[:60] if raw else f"entry#{index}"


def _parse_feed(body: bytes) -> Any:
    # A stream, never bytes or str: feedparser would treat a short string as a path or URL.
    return feedparser.parse(io.BytesIO(body))


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
    feed = _parse_feed(body)
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
            paper = paper_from_entry(entry, now)
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
    feed = _parse_feed(body)
    if not feed.get("version") and not feed.entries:
        raise FetchError(url, "the export API answer is not an Atom feed")
    papers: list[Paper] = []
    skipped = 0
    for index, entry in enumerate(feed.entries):
        if "/api/errors" in str(entry.get("id", "")):
            message = " ".join(str(entry.get("summary") or "error").split())
            raise FetchError(url, f"export API error: {message[:200]}")
        try:
            papers.append(paper_from_entry(entry))
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
        return parse_export(response.body, self.url)

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
        listing = parse_listing(response.body, self.cfg.include_cross, now)
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
