"""The live watch index of this process, kept in step with the watches table.

Commands add and remove watches here at once; `refresh` picks up what other processes
changed (new rows since the last look, deletions since the last look) without a rebuild.

Nothing CPU-heavy runs on the event loop: the first load reads the table in pages and parses
and indexes them in a worker thread, and `off_loop` runs matching there too. While a thread
holds the index, adds and removes from commands wait in a queue and are applied the moment
it hands the index back, so a `/watch` never waits for an ingest. Until the first load (a
process that does not match, such as a gateway, never loads), adds and removes are ignored:
the load reads them from the table anyway.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from array import array
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.ingest.fanout import Batch, HitCounts, plan_fan_out
from bot.types import Paper
from bot.watching.matching import WatchIndex
from bot.watching.query import Query, QueryError, parse
from storage.repo import fanout

log = logging.getLogger(__name__)

_T = TypeVar("_T")
# Rows committed by another process up to this long after their timestamp are still seen.
OVERLAP = timedelta(minutes=2)
PAGE = 50_000  # rows read per await during the first load (each page ~50 ms of the loop)


class WatchSet:
    """A WatchIndex plus the bookkeeping to refresh it incrementally from the database."""

    def __init__(self) -> None:
        self.index = WatchIndex()
        self.queries: dict[int, str] = {}
        self._chat_of = array("q")  # watch id -> chat id (0: not known here)
        self._max_id = 0
        self._last_refresh: datetime | None = None
        self._busy = 0  # worker threads holding the index right now
        self._queued: list[tuple[str, int, Query | None, int]] = []
        self._refreshing = asyncio.Lock()
        self._counts = HitCounts()  # hits per watch of the fan-out under way

    def __len__(self) -> int:
        return len(self.index)

    @property
    def loaded(self) -> bool:
        return self._last_refresh is not None

    # --- changes from commands and refreshes ----------------------------------------------

    def add(self, watch_id: int, query: Query, chat_id: int = 0) -> None:
        if not self.loaded:
            return
        if self._busy:
            self._queued.append(("add", watch_id, query, chat_id))
            return
        self.add_now(watch_id, query, chat_id)

    def remove(self, watch_id: int) -> None:
        if not self.loaded:
            return
        if self._busy:
            self._queued.append(("remove", watch_id, None, 0))
            return
        self.remove_now(watch_id)

    def add_now(self, watch_id: int, query: Query, chat_id: int) -> None:
        if watch_id not in self.queries:
            self.index.add(watch_id, query)
            self.queries[watch_id] = query.text
        if chat_id:
            if watch_id >= len(self._chat_of):
                self._chat_of.extend([0] * (watch_id + 1 - len(self._chat_of)))
            self._chat_of[watch_id] = chat_id
        self._max_id = max(self._max_id, watch_id)

    def remove_now(self, watch_id: int) -> None:
        if self.queries.pop(watch_id, None) is not None:
            self.index.remove(watch_id)

    def _apply_queued(self) -> None:
        queued, self._queued = self._queued, []
        for op, watch_id, query, chat_id in queued:
            if op == "add" and query is not None:
                self.add_now(watch_id, query, chat_id)
            else:
                self.remove_now(watch_id)

    async def off_loop(self, work: Callable[[WatchIndex], _T]) -> _T:
        """Run `work(index)` in a worker thread; changes made meanwhile wait, then apply."""
        self._busy += 1
        try:
            return await asyncio.to_thread(work, self.index)
        finally:
            self._busy -= 1
            if not self._busy:
                self._apply_queued()

    # --- the fan-out (the interface the pipeline uses, also offered by MatcherProcess) -----

    async def plan(self, papers: Sequence[Paper], inactive: set[int], batch_rows: int,
                   copy_at: datetime | None = None) -> list[Batch]:
        """Match papers in a worker thread; their delivery rows in batches (see
        plan_fan_out). The hits per watch add up until `take_hit_counts`."""
        return await self.off_loop(
            lambda _index: self.plan_now(papers, inactive, batch_rows, copy_at))

    def plan_now(self, papers: Sequence[Paper], inactive: set[int], batch_rows: int,
                 copy_at: datetime | None = None) -> list[Batch]:
        """`plan` in the calling thread (a worker thread, or the matching process)."""
        return list(self.plan_batches(papers, inactive, batch_rows, copy_at))

    def plan_batches(self, papers: Sequence[Paper], inactive: set[int], batch_rows: int,
                     copy_at: datetime | None = None) -> Iterator[Batch]:
        """`plan_now` one batch at a time (the matching process packs each as it comes)."""
        return plan_fan_out(self.index, papers, self._chat_of, inactive, batch_rows,
                            self._counts, copy_at)

    def reset_hit_counts(self) -> None:
        self._counts = HitCounts()

    async def take_hit_counts(self) -> Iterator[list[tuple[int, int]]]:
        """The hits per watch planned since the last call, as (watch id, n) lists by id."""
        return self.take_hit_counts_now()

    def take_hit_counts_now(self) -> Iterator[list[tuple[int, int]]]:
        counts, self._counts = self._counts, HitCounts()
        return counts.batches()

    async def close(self) -> None:
        """Nothing to stop: the index lives in this process."""

    # --- loading from the table -------------------------------------------------------------

    def add_rows(self, rows: list[tuple[int, int, str]]) -> None:
        """Worker thread (or the matching process): parse and index (id, chat id, query) rows."""
        for watch_id, chat_id, text in rows:
            try:
                self.add_now(watch_id, parse(text), chat_id)
            except QueryError as exc:  # stored under older rules: skip, do not crash
                log.warning("watch %s cannot be parsed any more: %s", watch_id, exc.describe())

    async def _first_load(self, session: AsyncSession) -> int:
        loaded, after = 0, 0
        self._busy += 1  # commands queue their changes while the thread builds the index
        try:
            while True:
                rows = await fanout.watch_rows(session, after, PAGE)
                if not rows:
                    break
                await asyncio.to_thread(self.add_rows, rows)
                loaded += len(rows)
                after = rows[-1][0]
        finally:
            self._busy -= 1
        return loaded

    async def refresh(self, session: AsyncSession, now: datetime) -> None:
        """Load watches added or deleted since the last refresh (all of them the first time)."""
        async with self._refreshing:
            if self._last_refresh is None:
                loaded = await self._first_load(session)
                self._last_refresh = now
                self._apply_queued()
                if loaded:
                    # The first load makes one object per watch and phrase, and they live as
                    # long as the process: move them out of the collector's sight, or every
                    # full collection walks them all (~1 s per 300,000 watches).
                    gc.freeze()
                return
            since = self._last_refresh - OVERLAP
            added, removed = await fanout.watch_changes(session, self._max_id, since)
            fresh = [row for row in added if row[0] not in self.queries]
            if len(fresh) > 1000:
                await self.off_loop(lambda _index: self.add_rows(fresh))
            else:
                self.add_rows(fresh)
            for watch_id in removed:
                self.remove(watch_id)
            self._last_refresh = now
