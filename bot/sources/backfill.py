"""`paperwatch backfill`: fetch a source's history over a date range and store it.

Hugging Face is read one day's list at a time; arXiv through the export API
(`submittedDate` range over the configured categories, paced at one request every 3 s as
arXiv asks). What is found goes through `Pipeline.ingest` like a poll, so papers already
stored are refreshed, not duplicated; nobody is alerted unless `alert` is set, and then
only for papers new to the database. A day that cannot be read is reported and the
others still run. Progress is a bar on a terminal and plain lines otherwise.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TextIO

import aiohttp

from bot.config import SourcesConfig
from bot.ingest.pipeline import Pipeline
from bot.sources.arxiv import ArxivExportClient, ArxivSource
from bot.sources.hf_daily import fetch_day
from bot.sources.http import Fetcher, FetchError, Sleep
from bot.wording import plural

SOURCES = ("hf", "arxiv")
MAX_DAYS = 366


class BackfillError(ValueError):
    """The request itself is wrong (dates, source); nothing was fetched."""


@dataclass
class BackfillReport:
    source: str
    since: date
    until: date
    fetched: int = 0
    new: int = 0
    updated: int = 0
    deliveries: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (f"Back-filled {self.source} {self.since}..{self.until}: {self.fetched} papers "
                f"fetched, {self.new} new, {self.updated} updated, "
                f"{self.deliveries} alerts queued.")
        if self.errors:
            text += "\nIncomplete: " + "; ".join(self.errors)
        return text


class Progress:
    """A one-line bar on a terminal (`\\r`-rewritten), else one plain line per step."""

    WIDTH = 24

    def __init__(self, label: str, out: TextIO | None = None, tty: bool | None = None) -> None:
        self.label = label
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self._drawn = False

    def step(self, done: int, total: int, note: str) -> None:
        if not self.tty:
            print(f"{self.label}: {done}/{total} {note}", file=self.out, flush=True)
            return
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        print(f"\r{self.label} [{bar}] {done}/{total} {note}\x1b[K", end="", file=self.out,
              flush=True)
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            print(file=self.out, flush=True)


def date_range(since: date, until: date, today: date) -> tuple[date, date]:
    """The range checked: not empty, not in the future (clipped to today), not too long."""
    until = min(until, today)
    if since > until:
        raise BackfillError(f"--since {since} is after --until {until}")
    if (until - since).days + 1 > MAX_DAYS:
        raise BackfillError(f"at most {MAX_DAYS} days at a time "
                            f"({since}..{until} is {(until - since).days + 1})")
    return since, until


async def backfill(pipeline: Pipeline, cfg: SourcesConfig, source: str, since: date,
                   until: date, *, alert: bool = False, max_papers: int = 10_000,
                   progress: Progress | None = None, sleep: Sleep = asyncio.sleep,
                   export: ArxivExportClient | None = None) -> BackfillReport:
    """Fetch `source` for the days `since`..`until` (UTC) and ingest what it lists."""
    if source not in SOURCES:
        raise BackfillError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    since, until = date_range(since, until, pipeline.clock().astimezone(UTC).date())
    report = BackfillReport(source, since, until)
    progress = progress or Progress(f"backfill {source}")
    try:
        async with aiohttp.ClientSession() as http_session:
            if source == "hf":
                await _hf(pipeline, cfg, http_session, report, alert, progress, sleep)
            else:
                export = export or ArxivExportClient(cfg.arxiv, cfg.http, sleep=sleep)
                await _arxiv(pipeline, cfg, http_session, export, report, alert, max_papers,
                             progress)
    finally:
        progress.close()
    return report


async def _ingest(pipeline: Pipeline, report: BackfillReport, papers: list, source: str,
                  alert: bool) -> int:
    result = await pipeline.ingest(papers, source=source, alert=alert)
    report.fetched += len(papers)
    report.new += result.new
    report.updated += result.updated
    report.deliveries += result.deliveries
    return result.new


async def _hf(pipeline: Pipeline, cfg: SourcesConfig, http_session: aiohttp.ClientSession,
              report: BackfillReport, alert: bool, progress: Progress, sleep: Sleep) -> None:
    fetcher = Fetcher(http_session, cfg.http, sleep=sleep)
    days = (report.until - report.since).days + 1
    for n in range(days):
        day = report.since + timedelta(days=n)
        try:
            papers, skipped = await fetch_day(fetcher, cfg.hf, day, now=pipeline.clock())
        except FetchError as exc:
            report.errors.append(f"{day}: {exc.reason}")
            progress.step(n + 1, days, f"days; {day}: not read ({exc.reason})")
            continue
        new = await _ingest(pipeline, report, papers, "hf", alert)
        bad = f", {plural(skipped, 'bad item')} skipped" if skipped else ""
        progress.step(n + 1, days, f"days; {day}: {plural(len(papers), 'paper')}, {new} new{bad}")


async def _arxiv(pipeline: Pipeline, cfg: SourcesConfig, http_session: aiohttp.ClientSession,
                 export: ArxivExportClient, report: BackfillReport, alert: bool,
                 max_papers: int, progress: Progress) -> None:
    start = datetime.combine(report.since, time.min, UTC)
    end = datetime.combine(report.until, time(23, 59), UTC)
    try:
        found = await export.submitted_between(
            http_session, start, end, cfg.arxiv.categories, max_papers,
            on_page=lambda done, total: progress.step(done, total, "papers"))
    except FetchError as exc:
        report.errors.append(f"export API: {exc.reason}")
        return
    if found.note:
        report.errors.append(found.note)
    wanted = ArxivSource(cfg.arxiv, cfg.http)
    await _ingest(pipeline, report, [p for p in found.papers if wanted.wanted(p)], "arxiv",
                  alert)
