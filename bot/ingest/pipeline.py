"""Ingest: store new papers, keep only the never-seen ones, match, enqueue deliveries.

In bounded steps that stay crash-safe (issue 14): one short transaction stores the batch,
marking each new paper `fanout_pending`; then chunks of papers are matched in a worker
thread (bot/ingest/fanout.py), the next chunk while one is written, their delivery rows
written in bulk 10,000 per transaction (sorted by chat), the last one unmarking the chunk's
papers; the watches' hit counts follow once at the end. A restart (or the next ingest) finishes any
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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.ingest.fanout import Batch, Row
from bot.ingest.followups import FollowUp, FollowUpRules, follow_ups
from bot.ops.metrics import Metrics
from bot.sources.clean import clean_papers
from bot.types import Paper
from bot.watching.live import LiveWatches
from storage import repo
from storage.repo import fanout

# papers per matching step: the first chunk small, so the first alerts are queued soon;
# the next ones of about `chunk_rows` rows (their write batches then cover narrower ranges
# of chats, see bot/ingest/fanout.py), at most MAX_CHUNK_PAPERS
FIRST_CHUNK_PAPERS = 100  # ~270k rows at 1M watches
CHUNK_ROWS = 2_000_000  # ~50 MB of planned rows, pickled (25 bytes a row)
COPY_CHUNK_ROWS = 1_000_000  # PostgreSQL: ~140 MB of COPY lines (143 bytes a row)
MAX_CHUNK_PAPERS = 1_000
WRITE_ROWS = 10_000  # delivery rows per transaction: ~100 ms of database work or less
WRITE_SLICE = 0.3  # SQLite: seconds of back-to-back writing before other writers get a turn
YIELD_SECONDS = 0.12  # longer than SQLite's busy handler sleeps between two tries

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


def _dialect(sessions: async_sessionmaker) -> str:
    bind = sessions.kw.get("bind")
    return bind.dialect.name if bind is not None else ""


def _connections_in_use(sessions: async_sessionmaker) -> int:
    """Connections of the session factory's pool checked out right now (0 if unknown)."""
    bind = sessions.kw.get("bind")
    pool = getattr(getattr(bind, "sync_engine", None), "pool", None)
    checkedout = getattr(pool, "checkedout", None)
    return int(checkedout()) if callable(checkedout) else 0


class Pipeline:
    def __init__(self, sessions: async_sessionmaker, watches: LiveWatches,
                 clock: Callable[[], datetime], on_enqueued: Callable[[], None] | None = None,
                 metrics: Metrics | None = None, followups: FollowUpRules | None = None):
        self.sessions = sessions
        self.metrics = metrics or Metrics()
        self.watches = watches
        self.clock = clock
        self.on_enqueued = on_enqueued
        self.followups = followups or FollowUpRules()
        self._lock = asyncio.Lock()  # one ingest at a time per process keeps the index simple
        self._dialect = _dialect(sessions)
        self._slice_started = time.monotonic()
        self.chunk_rows = COPY_CHUNK_ROWS if self._dialect == "postgresql" else CHUNK_ROWS

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
        # read before the refreshed papers are flushed: on SQLite the first write takes the
        # write lock, and this read of deliveries by paper takes about 1 s at 5M rows
        with session.no_autoflush:
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
        self.watches.reset_hit_counts()  # those of a fan-out that failed are redone
        # PostgreSQL's rows come as COPY lines made where they are planned
        copy_at = now if self._dialect == "postgresql" else None

        def plan(chunk: Sequence[Paper]) -> asyncio.Future[list[Batch]]:
            return asyncio.ensure_future(self.watches.plan(chunk, inactive, WRITE_ROWS, copy_at))

        written = rows_planned = 0
        started = time.monotonic()
        waited = 0.0  # for the matching: where the time goes, in the log line
        # the next chunk is matched (in a worker thread or the matching process) while one
        # is written
        chunk, done = papers[:FIRST_CHUNK_PAPERS], 0
        planned: asyncio.Future[list[Batch]] | None = plan(chunk)
        counted: asyncio.Future[None] | None = None
        try:
            while planned is not None:
                ready = time.monotonic()
                batches = await planned
                waited += time.monotonic() - ready
                planned, done = None, done + len(chunk)
                rows_planned += len(batches) * WRITE_ROWS  # about: the last one is partial
                size = self._chunk_papers(rows_planned, done, len(chunk))
                current, chunk = chunk, papers[done:done + size]
                if chunk:
                    planned = plan(chunk)
                elif self._dialect == "postgresql":
                    # all planned, so the hit counts are known: PostgreSQL updates them on
                    # a second connection while the last chunk is copied (4.8 of 45 s at
                    # 1M watches when they came after it); SQLite has one writer
                    counted = asyncio.ensure_future(self._count_hits())
                written += await self._write(batches, [p.id for p in current], now)
        finally:
            for pending in (planned, counted):
                if pending is not None:
                    await asyncio.wait([pending])  # a thread holds the index until it ends
                    if not pending.cancelled():
                        pending.exception()  # retrieved: the error that stopped us is raised
        counting = time.monotonic()
        await (counted if counted is not None else self._count_hits())
        ended = time.monotonic()
        log.info("fan-out papers=%d deliveries=%d seconds=%.1f waiting_for_matching=%.1f "
                 "writing=%.1f hit_counts=%.1f", len(papers), written, ended - started,
                 waited, counting - started - waited, ended - counting)
        return written

    def _chunk_papers(self, rows_planned: int, papers_planned: int, last: int) -> int:
        """How many papers the next chunk takes, from the rows per paper so far: at most
        twice the last chunk, so it is matched in about the time the last one takes to be
        written and the writer waits little."""
        per_paper = max(1, rows_planned // papers_planned)
        return max(FIRST_CHUNK_PAPERS,
                   min(MAX_CHUNK_PAPERS, 2 * last, self.chunk_rows // per_paper))

    async def _count_hits(self) -> None:
        """The fan-out's hit counts, once all is planned, by watch id, a batch per
        transaction: each watch is updated once (not once per batch it had rows in) and a
        transaction changes neighbouring rows. A crash in the middle of a fan-out loses the
        counts of its first part, or, on PostgreSQL in its last chunk, counts the last
        chunk's hits again when it is redone (a display figure; the deliveries are what is
        kept exactly)."""
        for pairs in await self.watches.take_hit_counts():
            async with self.sessions.begin() as session:
                await fanout.add_hit_counts(session, pairs)
            await self._let_others_write()

    async def _let_others_write(self) -> None:
        """Between two write transactions, make room for the other writers of this process.

        SQLite has one writer at a time, and a writer that finds the database locked sleeps
        in its busy handler, polling at most every 100 ms: back-to-back ingest transactions
        would keep it waiting for seconds (a /watch answered after 6 s). When another
        connection is in use, pause a little longer than that poll every WRITE_SLICE of
        writing, so a waiting /watch gets the lock within about half a second.
        """
        if self._dialect != "sqlite":
            return
        now = time.monotonic()
        if now - self._slice_started < WRITE_SLICE:
            await asyncio.sleep(0)
            return
        if _connections_in_use(self.sessions) > 0:
            await asyncio.sleep(YIELD_SECONDS)
        self._slice_started = time.monotonic()

    async def _write(self, batches: list[Batch], paper_ids: list[str], now: datetime) -> int:
        """A chunk's rows, one short transaction per batch; the last one also marks the
        chunk's papers fanned out. The list is emptied as it is written: a batch written is
        let go at once (the next chunk arrives meanwhile)."""
        if not batches:
            async with self.sessions.begin() as session:
                await fanout.mark_fanned_out(session, paper_ids)
            return 0
        written = 0
        batches.reverse()
        while batches:
            batch = batches.pop()
            async with self.sessions.begin() as session:
                if batch.lines is not None:
                    written += await fanout.copy_deliveries(session, batch.lines)
                else:
                    written += await fanout.write_deliveries(session, batch.rows, now)
                if not batches:
                    await fanout.mark_fanned_out(session, paper_ids)
            await self._let_others_write()
        return written
