"""Ingest: store new papers, keep only the never-seen ones, match, enqueue deliveries.

In bounded steps that stay crash-safe (issue 14): one short transaction stores the batch,
marking each new paper `fanout_pending`; then chunks of papers are matched in a worker
thread (bot/ingest/fanout.py), their delivery rows written in bulk a few thousand per
transaction, and the chunk's papers unmarked. A restart (or the next ingest) finishes any
paper still marked; the unique (chat, paper, kind) rule keeps a resumed fan-out from
writing a delivery twice. Papers already stored are refreshed (upvotes, newer version)
without alerting, and a refresh that gives a paper code, trending upvotes or a revised text
queues one follow-up for each chat that was alerted about it (bot/ingest/followups.py).
Callers: the source poller, `paperwatch ingest`, the console's /ingest.

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
from functools import partial
from typing import TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.ingest.fanout import Row, plan_fan_out
from bot.ingest.followups import FollowUp, FollowUpRules, follow_ups
from bot.ops.metrics import Metrics
from bot.sources.clean import clean_papers
from bot.types import Paper
from bot.watching.watchset import WatchSet
from storage import repo
from storage.repo import fanout

FANOUT_PAPERS = 50  # papers matched per worker-thread step
WRITE_ROWS = 4_000  # delivery rows per transaction: a few tens of ms of database work

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class IngestResult:
    new: int = 0
    updated: int = 0
    deliveries: int = 0
    refused: tuple[str, ...] = ()  # "id: reason" per paper left out at the boundary
    new_papers: tuple[Paper, ...] = ()


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
                 metrics: Metrics | None = None, followups: FollowUpRules | None = None):
        self.sessions = sessions
        self.metrics = metrics or Metrics()
        self.watches = watches
        self.clock = clock
        self.on_enqueued = on_enqueued
        self.followups = followups or FollowUpRules()
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
            resumed = await self._resume() if alert else 0
            result = await self._store(_latest_versions(papers), alert, _latest_versions(updates))
            if alert:
                new_rows = await self._fan_out(result.new_papers)
                result = replace(result, deliveries=result.deliveries + new_rows + resumed)
        if refused:
            result = replace(result, refused=tuple(refused))
        self.metrics.inc("paperwatch_papers_ingested_total", result.new, source=source)
        self.metrics.inc("paperwatch_matches_total", result.deliveries)
        log.info("ingest source=%s papers=%d new=%d updated=%d deliveries=%d alert=%s",
                 source, len(papers), result.new, result.updated, result.deliveries, alert)
        if result.deliveries and self.on_enqueued is not None:
            self.on_enqueued()
        return result

    async def resume(self) -> int:
        """Finish the fan-out of papers a crash or stop left half done; rows written."""
        async with self._lock:
            written = await self._resume()
        if written and self.on_enqueued is not None:
            self.on_enqueued()
        return written

    async def _resume(self) -> int:
        async with self.sessions() as session:
            pending = await fanout.papers_to_fan_out(session)
        if pending:
            log.info("finishing the fan-out of %d papers stored before a stop", len(pending))
        return await self._fan_out(pending)

    async def _store(self, papers: list[Paper], alert: bool,
                     updates: list[Paper]) -> IngestResult:
        """One short transaction: refresh known papers (queueing follow-ups), insert new ones."""
        now = self.clock()
        async with self.sessions.begin() as session:
            existing = await repo.papers_by_id(session, [p.id for p in papers + updates])
            changes: list[tuple[str, list[FollowUp]]] = []
            updated = 0
            for paper in papers + updates:
                row = existing.get(paper.id)
                if row is None:
                    continue
                before = repo.paper_from_row(row)
                if repo.refresh_paper_row(row, paper, now):
                    updated += 1
                    kinds = follow_ups(before, repo.paper_from_row(row), self.followups)
                    if kinds:
                        changes.append((paper.id, kinds))
            followups = await self._queue_follow_ups(session, changes, now) if changes else 0
            fresh = [p for p in papers if p.id not in existing]
            inserted = await repo.insert_new_papers(session, fresh, now, fanout_pending=alert)
        new_papers = tuple(p for p in fresh if p.id in inserted)
        return IngestResult(new=len(new_papers), updated=updated, deliveries=followups,
                            new_papers=new_papers)

    async def _queue_follow_ups(self, session, changes: list[tuple[str, list[FollowUp]]],
                                now: datetime) -> int:
        alerted = await fanout.alerted_chats(session, [paper_id for paper_id, _ in changes])
        rows: list[Row] = [(chat_id, paper_id, kind, [], notes)
                           for paper_id, kinds in changes
                           for chat_id, wanted in alerted.get(paper_id, [])
                           for kind, notes in kinds if kind in wanted]
        return await fanout.write_deliveries(session, rows, now)

    async def _fan_out(self, papers: Sequence[Paper]) -> int:
        """Match and write the deliveries of stored papers in bounded steps; rows written."""
        if not papers:
            return 0
        now = self.clock()
        async with self.sessions() as session:
            await self.watches.refresh(session, now)
            inactive = await fanout.inactive_chat_ids(session)
        written = 0
        for start in range(0, len(papers), FANOUT_PAPERS):
            chunk = papers[start:start + FANOUT_PAPERS]
            batches = await self.watches.off_loop(
                partial(plan_fan_out, papers=chunk, chat_of=self.watches.chat_of,
                        inactive=inactive, batch_rows=WRITE_ROWS))
            for batch in batches:
                async with self.sessions.begin() as session:
                    written += await fanout.write_deliveries(session, batch.rows, now)
                    await fanout.add_hit_counts(session, batch.hit_counts)
            async with self.sessions.begin() as session:
                await fanout.mark_fanned_out(session, [p.id for p in chunk])
        return written
