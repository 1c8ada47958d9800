"""Polling the sources: each on its own interval, each failure contained, state in the DB.

    poller = SourcePoller(build_sources(cfg.sources), pipeline, sessions, clock)
    await poller.run(stop_event)          # the bot: every source on its own interval
    await poller.run_once(source)         # one cycle (tests, a manual refresh)

One cycle reads the source's row in `source_state`, fetches, and hands the papers to
`Pipeline.ingest`. A source's first successful fetch stores what it finds and alerts nobody
(alert=False), then the source is marked initialized; later cycles alert on papers never
seen before. Success time, status ("ok" / "empty" / "error") and a note ("no announcement
today", "HTTP 503, gave up...") are recorded for `/status` and `paperwatch status`
(`bot.ops.report`). A failing source is logged and tried again on its next cycle; it never
stops the other sources.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import aiohttp
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.config import SourcesConfig
from bot.ingest.pipeline import IngestResult, Pipeline
from bot.sources.arxiv import ArxivSource
from bot.sources.base import FetchResult, Source
from bot.sources.hf_daily import HFDailySource
from bot.sources.http import Sleep
from storage import repo

log = logging.getLogger(__name__)

MAX_NOTE = 500


@dataclass(frozen=True)
class CycleReport:
    source: str
    status: str
    note: str
    alerted: bool  # False on the first fetch of a source: stored, nobody alerted
    new: int = 0
    updated: int = 0
    deliveries: int = 0


def build_sources(cfg: SourcesConfig, *, sleep: Sleep = asyncio.sleep) -> list[Source]:
    """The enabled sources, as configured."""
    sources: list[Source] = []
    if cfg.hf.enabled:
        sources.append(HFDailySource(cfg.hf, cfg.http, sleep=sleep,
                                     backfill_days=cfg.hf.backfill_days))
    if cfg.arxiv.enabled:
        sources.append(ArxivSource(cfg.arxiv, cfg.http, sleep=sleep,
                                   backfill_days=cfg.arxiv.backfill_days,
                                   backfill_max=cfg.arxiv.backfill_max_papers))
    return sources


class SourcePoller:
    def __init__(self, sources: Sequence[Source], pipeline: Pipeline,
                 sessions: async_sessionmaker, clock: Callable[[], datetime], *,
                 http_session: aiohttp.ClientSession | None = None) -> None:
        self.sources = list(sources)
        self.pipeline = pipeline
        self.sessions = sessions
        self.clock = clock
        self.http_session = http_session  # when None, one is opened per run() / run_once()

    async def run_once(self, source: Source) -> CycleReport:
        """One poll of one source: fetch, ingest, record. Raises only if the DB fails."""
        if self.http_session is not None:
            return await self._cycle(source, self.http_session)
        async with aiohttp.ClientSession() as http:
            return await self._cycle(source, http)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every source on its own interval until `stop` is set."""
        http = self.http_session or aiohttp.ClientSession()
        tasks = [asyncio.create_task(self._loop(source, http, stop), name=f"poll-{source.name}")
                 for source in self.sources]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.http_session is None:
                await http.close()

    async def _loop(self, source: Source, http: aiohttp.ClientSession,
                    stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            try:
                await self._cycle(source, http, claim=True)
            except Exception:  # the database, most likely: try again next cycle
                log.exception("source=%s poll cycle failed", source.name)
            wait = max(0.0, source.poll_seconds - (loop.time() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)

    async def _cycle(self, source: Source, http: aiohttp.ClientSession,
                     claim: bool = False) -> CycleReport:
        """One cycle. With claim=True (the polling loop) the cycle is skipped when another
        process polled this source within 90 % of its interval: schedulers in several
        processes share one cadence instead of polling N times."""
        now = self.clock()
        if claim:
            gap = timedelta(seconds=source.poll_seconds * 0.9)
            async with self.sessions.begin() as session:
                if not await repo.claim_source_cycle(session, source.name, now, gap):
                    log.debug("source=%s polled by another process; skipping", source.name)
                    return CycleReport(source.name, "skipped", "polled by another process",
                                       alerted=False)
        async with self.sessions.begin() as session:
            state = await repo.get_source_state(session, source.name)
            initialized = bool(state is not None and state.initialized)
            since = state.last_success_at if initialized and state is not None else None
            await repo.save_source_state(session, source.name, last_attempt_at=now)
        try:
            result = await source.fetch(http, now, since=since)
        except Exception as exc:  # a bug or surprise in one source must not stop the bot
            log.exception("source=%s fetch raised", source.name)
            result = FetchResult(status="error", note=f"{type(exc).__name__}: {exc}")
        ingested = IngestResult()
        if result.papers or result.updates:
            try:
                ingested = await self.pipeline.ingest(result.papers, source=source.name,
                                                      alert=initialized, updates=result.updates)
            except Exception as exc:
                log.exception("source=%s ingest failed", source.name)
                result = FetchResult(status="error", note=f"storing failed: {exc}")
            else:
                result = _with_refusals(result, ingested.refused)
        ok = result.status != "error"
        note = result.note[:MAX_NOTE]
        async with self.sessions.begin() as session:
            await repo.save_source_state(
                session, source.name, last_status=result.status, last_note=note,
                last_success_at=now if ok else None, initialized=True if ok else None)
        report = CycleReport(source.name, result.status, note, alerted=initialized,
                             new=ingested.new, updated=ingested.updated,
                             deliveries=ingested.deliveries)
        level = logging.WARNING if result.status == "error" else logging.INFO
        log.log(level, "source=%s status=%s papers=%d updates=%d skipped=%d new=%d updated=%d "
                "deliveries=%d alert=%s note=%r", source.name, result.status, len(result.papers),
                len(result.updates), result.skipped, ingested.new, ingested.updated,
                ingested.deliveries, initialized, note)
        return report


def _with_refusals(result: FetchResult, refused: tuple[str, ...]) -> FetchResult:
    """Papers the pipeline refused at the boundary count as skipped; when it refused every
    one of them the poll failed (a format change), so the last success stays put."""
    if not refused:
        return result
    skipped = result.skipped + len(refused)
    if len(refused) >= len(result.papers) + len(result.updates):
        return replace(result, status="error", skipped=skipped,
                       note=f"all {len(refused)} papers refused (first: {refused[0]})")
    return replace(result, skipped=skipped,
                   note=f"{result.note}; {len(refused)} refused at storing")
