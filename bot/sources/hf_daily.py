"""Hugging Face Daily Papers: `GET {base}/api/daily_papers?date=...&p=...&limit=...` -> Paper.

`HFDailySource(cfg, http_cfg).fetch(session, now)` is one poll: every page of today's and
yesterday's list (UTC), since the list fills during the day and upvotes keep changing (the
pipeline refreshes stored papers without alerting again). After downtime (`since`), the
missed days are fetched too, up to `backfill_days`. `fetch_trending(session, cfg, day)` gives
one day's list by upvotes for the daily channel post.

Items are read from their `paper` object, keyed by the arXiv id. A bad item (wrong types,
missing id or title, absurd date, withdrawn) is skipped and logged with its id; the rest of
the page is kept. Malformed decorations (keywords, links, thumbnail) are dropped, not fatal.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp

from bot.config import HFSourceConfig, HttpConfig
from bot.paper_file import ItemError, parse_datetime, split_arxiv_id
from bot.sources.base import FetchResult, not_in_future, plural
from bot.sources.http import Fetcher, FetchError, Sleep
from bot.types import Paper

log = logging.getLogger(__name__)

SOURCE = "hf"
MAX_PAGES = 40  # a server that ignores `p` must not keep us paging forever


def _text(value: Any, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ItemError(f"{key} is {type(value).__name__}, not text")
    return " ".join(value.split())


def _url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def _authors(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ItemError(f"authors is {type(value).__name__}, not a list")
    names = []
    for author in value:
        name = author.get("name") if isinstance(author, dict) else author
        if isinstance(name, str) and name.strip():
            names.append(" ".join(name.split()))
    return tuple(names)


def _keywords(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(" ".join(k.split()) for k in value
                               if isinstance(k, str) and k.strip()))


def paper_from_item(item: Any, now: datetime | None = None) -> Paper:
    """One daily-papers list item -> Paper; ItemError says why the item is unusable.

    With `now`, a date more than two days ahead of it is refused as absurd.
    """
    if not isinstance(item, dict):
        raise ItemError(f"item is {type(item).__name__}, not an object")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise ItemError("no paper object")
    paper_id, version = split_arxiv_id(paper.get("id"))
    if paper.get("withdrawnAt"):
        raise ItemError("withdrawn")
    title = _text(paper.get("title"), "title") or _text(item.get("title"), "title")
    if not title:
        raise ItemError("missing title")
    upvotes = paper.get("upvotes")
    if upvotes is not None and (isinstance(upvotes, bool) or not isinstance(upvotes, int)
                                or upvotes < 0):
        raise ItemError(f"upvotes {upvotes!r} is not a count")
    return not_in_future(Paper(
        id=paper_id, version=version, source=SOURCE, title=title,
        summary=_text(paper.get("summary"), "summary") or _text(item.get("summary"), "summary"),
        authors=_authors(paper.get("authors")),
        keywords=_keywords(paper.get("ai_keywords")),
        published=parse_datetime(paper.get("publishedAt") or item.get("publishedAt")),
        upvotes=upvotes,
        github_url=_url(paper.get("githubRepo")),
        project_url=_url(paper.get("projectPage")),
        thumbnail_url=_url(item.get("thumbnail")) or _url(paper.get("thumbnail")),
    ), now)


def _item_label(item: Any, index: int) -> str:
    paper = item.get("paper") if isinstance(item, dict) else None
    pid = paper.get("id") if isinstance(paper, dict) else None
    return pid[:40] if isinstance(pid, str) and pid.strip() else f"item#{index}"


def parse_page(items: list[Any], where: str = "",
               now: datetime | None = None) -> tuple[list[Paper], int]:
    """The good papers of one page and how many items were skipped (each one logged)."""
    papers: list[Paper] = []
    skipped = 0
    for index, item in enumerate(items):
        try:
            papers.append(paper_from_item(item, now))
        except ItemError as exc:
            skipped += 1
            log.warning("source=%s id=%s skipped: %s %s", SOURCE, _item_label(item, index),
                        exc, where)
    return papers, skipped


async def fetch_day(fetcher: Fetcher, cfg: HFSourceConfig, day: date,
                    sort: str | None = None, now: datetime | None = None
                    ) -> tuple[list[Paper], int]:
    """Every page of one day's list, until an empty page: (papers, skipped items)."""
    url = f"{cfg.base_url.rstrip('/')}/api/daily_papers"
    papers: dict[str, Paper] = {}
    skipped = 0
    for page in range(MAX_PAGES):
        params: dict[str, Any] = {"date": day.isoformat(), "p": page, "limit": cfg.page_limit}
        if sort:
            params["sort"] = sort
        items = await fetcher.get_json(url, params)
        if not isinstance(items, list):
            raise FetchError(url, f"page {page} of {day} is a JSON {type(items).__name__}, "
                                  "not a list")
        if not items:
            break
        found, bad = parse_page(items, f"(date={day} p={page})", now)
        skipped += bad
        if found and all(p.id in papers for p in found):
            log.warning("source=%s date=%s page %d repeats earlier pages: stopped paging",
                        SOURCE, day, page)
            break
        for paper in found:
            papers.setdefault(paper.id, paper)
    else:
        log.warning("source=%s date=%s stopped after %d pages", SOURCE, day, MAX_PAGES)
    return list(papers.values()), skipped


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
