"""Ingest: store new papers, keep only the never-seen ones, match, enqueue deliveries.

One call is one transaction: a paper is either stored together with every delivery it
causes, or not at all. Papers already stored are refreshed (upvotes, newer version)
without alerting. Callers: the source poller, `paperwatch ingest`, the console's /ingest.

Every paper passes `clean_paper` first (the source boundary, bot/sources/clean.py): one
that cannot be stored is left out, logged with its id and reason and listed in
`IngestResult.refused`; the rest of the batch is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.ops.metrics import Metrics
from bot.sources.clean import clean_papers
from bot.types import MatchHit, Paper
from bot.watching.watchset import WatchSet
from storage import repo

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class IngestResult:
    new: int = 0
    updated: int = 0
    deliveries: int = 0
    refused: tuple[str, ...] = ()  # "id: reason" per paper left out at the boundary


def _latest_versions(papers: Sequence[Paper]) -> list[Paper]:
    """One paper per id: the highest version seen in this batch (first one on a tie)."""
    best: dict[str, Paper] = {}
    for paper in papers:
        kept = best.get(paper.id)
        if kept is None or (paper.version or 0) > (kept.version or 0):
            best[paper.id] = paper
    return list(best.values())


async def _off_loop(func: Callable[..., _T], items: Sequence[Paper], *args: str) -> _T:
    if len(items) < 100:
        return func(items, *args)
    return await asyncio.to_thread(func, items, *args)


class Pipeline:
    def __init__(self, sessions: async_sessionmaker, watches: WatchSet,
                 clock: Callable[[], datetime], on_enqueued: Callable[[], None] | None = None,
                 metrics: Metrics | None = None):
        self.sessions = sessions
        self.metrics = metrics or Metrics()
        self.watches = watches
        self.clock = clock
        self.on_enqueued = on_enqueued
        self._lock = asyncio.Lock()  # one ingest at a time per process keeps the index simple

    async def ingest(self, papers: Sequence[Paper], *, source: str, alert: bool,
                     updates: Sequence[Paper] = ()) -> IngestResult:
        """Store and (when alert) match papers; `updates` only refresh stored papers."""
        # ~30 us a paper: a 1,500-paper arXiv feed is cleaned off the event loop
        papers, refused = await _off_loop(clean_papers, papers)
        updates, refused_updates = await _off_loop(clean_papers, updates, " (update)")
        refused += refused_updates
        for line in refused:
            log.warning("ingest source=%s refused %s", source, line)
        async with self._lock:
            result = await self._ingest(_latest_versions(papers), alert, _latest_versions(updates))
        if refused:
            result = replace(result, refused=tuple(refused))
        self.metrics.inc("paperwatch_papers_ingested_total", result.new, source=source)
        self.metrics.inc("paperwatch_matches_total", result.deliveries)
        log.info("ingest source=%s papers=%d new=%d updated=%d deliveries=%d alert=%s",
                 source, len(papers), result.new, result.updated, result.deliveries, alert)
        if result.deliveries and self.on_enqueued is not None:
            self.on_enqueued()
        return result

    async def _ingest(self, papers: list[Paper], alert: bool,
                      updates: list[Paper]) -> IngestResult:
        now = self.clock()
        async with self.sessions.begin() as session:
            existing = await repo.papers_by_id(session, [p.id for p in papers + updates])
            updated = sum(repo.refresh_paper_row(existing[p.id], p, now)
                          for p in papers + updates if p.id in existing)
            fresh = [p for p in papers if p.id not in existing]
            inserted = await repo.insert_new_papers(session, fresh, now)
            new_papers = [p for p in fresh if p.id in inserted]
            deliveries = 0
            if alert and new_papers:
                await self.watches.refresh(session, now)
                hits = self.watches.index.match_many(new_papers)
                deliveries = await self._enqueue(session, hits, now)
        return IngestResult(new=len(new_papers), updated=updated, deliveries=deliveries)

    async def _enqueue(self, session, hits: dict[str, list[MatchHit]], now: datetime) -> int:
        """One delivery per (chat, paper), listing every watch of that chat that hit."""
        watch_chat = await repo.active_watch_ids(
            session, {h.watch_id for paper_hits in hits.values() for h in paper_hits})
        rows = []
        hit_counts: dict[int, int] = {}
        for paper_id, paper_hits in hits.items():
            per_chat: dict[int, list[MatchHit]] = {}
            for hit in paper_hits:
                if hit.watch_id in watch_chat:
                    per_chat.setdefault(watch_chat[hit.watch_id], []).append(hit)
            for chat_id, chat_hits in per_chat.items():
                why = list(dict.fromkeys(term for h in chat_hits for term in h.terms))
                rows.append({"chat_id": chat_id, "paper_id": paper_id,
                             "watch_ids": sorted(h.watch_id for h in chat_hits),
                             "why": [list(t) for t in why], "state": "pending", "attempts": 0,
                             "next_attempt_at": now, "created_at": now})
                for h in chat_hits:
                    hit_counts[h.watch_id] = hit_counts.get(h.watch_id, 0) + 1
        inserted = await repo.enqueue_deliveries(session, rows)
        await repo.add_hits(session, hit_counts)
        return inserted
