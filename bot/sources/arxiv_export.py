"""The arXiv export API (`/api/query`): back-fill by submission date, enrichment by id.

`ArxivExportClient` keeps arXiv's terms: one request at a time, each starting at least
`interval` (3 s) after the previous one ended (`Pacer`), backing off on 429/503 (the
Fetcher); tests inject `interval`, `sleep` and `clock`. `parse_export` reads one answer
(an Atom feed, entries as in `bot.sources.arxiv_entries`); an arXiv error entry or an
answer that is no feed is a FetchError. arXiv sometimes answers an empty page by mistake:
`submitted_between` retries it before concluding.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bot.config import ArxivSourceConfig, HttpConfig
from bot.sources.arxiv_entries import SOURCE, entry_label, paper_from_entry, parse_feed, take_raw
from bot.sources.clean import ItemError, split_arxiv_id
from bot.sources.http import Fetcher, FetchError, Sleep
from bot.types import Paper

log = logging.getLogger("bot.sources.arxiv")  # one logger for the whole arXiv source


@dataclass
class ExportPage:
    papers: list[Paper]
    total: int | None
    skipped: int


def parse_export(body: bytes, url: str = "") -> ExportPage:
    """One export-API answer -> papers; an arXiv error entry or a non-feed is a FetchError."""
    feed, raws = parse_feed(body)
    if not feed.get("version") and not feed.entries:
        raise FetchError(url, "the export API answer is not an Atom feed")
    papers: list[Paper] = []
    skipped = 0
    for index, entry in enumerate(feed.entries):
        if "/api/errors" in str(entry.get("id", "")):
            message = " ".join(str(entry.get("summary") or "error").split())
            raise FetchError(url, f"export API error: {message[:200]}")
        try:
            papers.append(paper_from_entry(entry, raw=take_raw(raws, entry)))
        except ItemError as exc:
            skipped += 1
            log.warning("source=%s id=%s skipped: %s (export API)", SOURCE,
                        entry_label(entry, index), exc)
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
