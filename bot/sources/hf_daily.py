"""Hugging Face Daily Papers: `GET {base}/api/daily_papers?date=...&p=...&limit=...` -> Paper.

`HFDailySource(cfg, http_cfg).fetch(session, now)` is one poll: every page of today's and
yesterday's list (UTC), since the list fills during the day and upvotes keep changing (the
pipeline refreshes stored papers without alerting again). After downtime (`since`), the
missed days are fetched too, up to `backfill_days`. `fetch_trending(session, cfg, day)` gives
one day's list by upvotes for the daily channel post.

Items are read by `bot.sources.hf_item.paper_from_hf_item` (the reader `paperwatch ingest`
uses too). A bad item is skipped and logged with its id and reason; the rest of the page is
kept. A day whose items are ALL refused (a format change) is an error for that day, not an
empty day, so the poll fails and the day is fetched again later. Paging stops at an empty
page or at a page that brings no new paper (a server ignoring `p`, a page of bad items).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp

from bot.config import HFSourceConfig, HttpConfig
from bot.sources.base import FetchResult
from bot.sources.clean import ItemError
from bot.sources.hf_item import SOURCE, item_label, paper_from_hf_item
from bot.sources.http import Fetcher, FetchError, Sleep
from bot.types import Paper
from bot.wording import plural

log = logging.getLogger(__name__)

MAX_PAGES = 40  # a server that ignores `p` must not keep us paging forever
paper_from_item = paper_from_hf_item  # the name the poller's callers and tests know


def parse_page(items: list[Any], where: str = "",
               now: datetime | None = None) -> tuple[list[Paper], list[str]]:
    """The good papers of one page and one "id: reason" per skipped item (each one logged)."""
    papers: list[Paper] = []
    refused: list[str] = []
    for index, item in enumerate(items):
        try:
            papers.append(paper_from_hf_item(item, now))
        except ItemError as exc:
            label = item_label(item, index)
            refused.append(f"{label}: {exc}")
            log.warning("source=%s id=%s skipped: %s %s", SOURCE, label, exc, where)
    return papers, refused


async def fetch_day(fetcher: Fetcher, cfg: HFSourceConfig, day: date,
                    sort: str | None = None, now: datetime | None = None
                    ) -> tuple[list[Paper], int]:
    """Every page of one day's list: (papers, skipped items). FetchError when the day's
    list has items but every one of them was refused."""
    url = f"{cfg.base_url.rstrip('/')}/api/daily_papers"
    papers: dict[str, Paper] = {}
    refused: list[str] = []
    for page in range(MAX_PAGES):
        params: dict[str, Any] = {"date": day.isoformat(), "p": page, "limit": cfg.page_limit}
        if sort:
            params["sort"] = sort
        try:
            items = await fetcher.get_json(url, params)
        except (RecursionError, ValueError) as exc:  # nested 100,000 deep, a 5,000-digit int
            raise FetchError(url, f"page {page} of {day} is unusable JSON "
                                  f"({type(exc).__name__})") from None
        if not isinstance(items, list):
            raise FetchError(url, f"page {page} of {day} is a JSON {type(items).__name__}, "
                                  "not a list")
        if not items:
            break
        found, bad = parse_page(items, f"(date={day} p={page})", now)
        refused += bad
        new = [p for p in found if p.id not in papers]
        if not new:
            log.warning("source=%s date=%s page %d brings no new paper: stopped paging",
                        SOURCE, day, page)
            break
        for paper in new:
            papers[paper.id] = paper
    else:
        log.warning("source=%s date=%s stopped after %d pages", SOURCE, day, MAX_PAGES)
    if refused and not papers:
        raise FetchError(url, f"all {plural(len(refused), 'item')} refused (first: {refused[0]})")
    return list(papers.values()), len(refused)


async def fetch_trending(session: aiohttp.ClientSession, cfg: HFSourceConfig, day: date, *,
                         http: HttpConfig | None = None, sleep: Sleep = asyncio.sleep
                         ) -> list[Paper]:
    """One day's papers, most upvoted first (raises FetchError when HF cannot be read)."""
    fetcher = Fetcher(session, http or HttpConfig(), sleep=sleep)
    papers, _skipped = await fetch_day(fetcher, cfg, day, sort="trending")
    return sorted(papers, key=lambda p: p.upvotes or 0, reverse=True)


def _utc_date(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


class HFDailySource:
    """The Hugging Face Daily Papers source, as the poller drives it."""

    name = SOURCE

    def __init__(self, cfg: HFSourceConfig, http: HttpConfig | None = None, *,
                 sleep: Sleep = asyncio.sleep, backfill_days: int = 7) -> None:
        self.cfg = cfg
        self.http = http or HttpConfig()
        self.sleep = sleep
        self.backfill_days = backfill_days
        self.poll_seconds = float(cfg.poll_seconds)

    def days_to_poll(self, now: datetime, since: datetime | None) -> list[date]:
        """Today and yesterday (UTC), plus the days missed since `since`, newest first."""
        today = _utc_date(now)
        first = today - timedelta(days=1)
        if since is not None:
            first = min(first, max(_utc_date(since), today - timedelta(days=self.backfill_days)))
        return [today - timedelta(days=n) for n in range((today - first).days + 1)]

    async def fetch(self, http_session: aiohttp.ClientSession, now: datetime, *,
                    since: datetime | None = None) -> FetchResult:
        fetcher = Fetcher(http_session, self.http, sleep=self.sleep)
        papers: dict[str, Paper] = {}
        counts: list[str] = []
        errors: list[str] = []
        skipped = 0
        for day in self.days_to_poll(now, since):
            try:
                found, bad = await fetch_day(fetcher, self.cfg, day, now=now)
            except FetchError as exc:
                log.warning("source=%s date=%s failed: %s", SOURCE, day, exc)
                errors.append(f"{day}: {exc.reason}")
                continue
            skipped += bad
            counts.append(f"{day}: {plural(len(found), 'paper')}")
            for paper in found:
                papers.setdefault(paper.id, paper)
        extra = f"; {plural(skipped, 'bad item')} skipped" if skipped else ""
        if errors:
            return FetchResult(tuple(papers.values()), status="error", skipped=skipped,
                               note="; ".join(errors) + extra)
        if not papers:
            return FetchResult(status="empty", skipped=skipped,
                               note="no papers listed yet (" + ", ".join(counts) + ")" + extra)
        return FetchResult(tuple(papers.values()), status="ok", skipped=skipped,
                           note=", ".join(counts) + extra)
