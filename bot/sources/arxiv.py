"""arXiv: the daily listing feed -> new papers and replacements; the export API for back-fill.

`ArxivSource(cfg, http_cfg).fetch(session, now)` reads `{rss_base_url}/rss/{cat+cat}` (RSS or
Atom, parsed by feedparser). Entries announced `new` (and `cross` when `include_cross`)
become papers; `replace`/`replace-cross` become updates, which only refresh papers already
stored. An empty feed (weekends, holidays) is status "empty", "no announcement today"; a
"Feed error for query" feed or a body that is no feed at all is an error. Bad entries are
skipped and logged with their id, the others kept (a truncated feed keeps its whole entries).

The arXiv source is in parts: `arxiv_entries` (RSS/Atom entries -> papers, the XML's own
text), `arxiv_authors` (dc:creator -> authors), `arxiv_export` (the export API client);
this module reads the listing feed and is the source the poller drives. Import from here.

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
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import aiohttp

from bot.config import ArxivSourceConfig, HttpConfig
from bot.sources.arxiv_authors import Author, parse_authors, split_authors
from bot.sources.arxiv_entries import (
    SOURCE,
    RawEntry,
    entry_label,
    paper_from_entry,
    parse_feed,
    raw_entries,
    strip_abstract_prefix,
    take_raw,
)
from bot.sources.arxiv_export import (
    ArxivExportClient,
    ExportPage,
    ExportResult,
    Pacer,
    parse_export,
)
from bot.sources.base import FetchResult, Status
from bot.sources.clean import ItemError
from bot.sources.http import Fetcher, FetchError, Sleep
from bot.types import Paper
from bot.wording import plural

__all__ = [
    "FEED_ERROR", "NO_ANNOUNCEMENT", "SOURCE", "ArxivExportClient", "ArxivSource", "Author",
    "ExportPage", "ExportResult", "Listing", "Pacer", "RawEntry", "paper_from_entry",
    "parse_authors", "parse_export", "parse_listing", "raw_entries", "split_authors",
    "strip_abstract_prefix",
]

log = logging.getLogger(__name__)

NO_ANNOUNCEMENT = "no announcement today"
FEED_ERROR = "Feed error for query"


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
    feed, raws = parse_feed(body)
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
            paper = paper_from_entry(entry, now, take_raw(raws, entry))
        except ItemError as exc:
            listing.skipped += 1
            log.warning("source=%s id=%s skipped: %s", SOURCE, entry_label(entry, index), exc)
            continue
        listing.counts[kind] = listing.counts.get(kind, 0) + 1
        if kind == "new" or (kind == "cross" and include_cross):
            listing.papers.append(paper)
        elif kind.startswith("replace"):
            listing.updates.append(paper)
    return listing


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
