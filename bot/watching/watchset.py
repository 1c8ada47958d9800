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
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.watching.matching import WatchIndex
from bot.watching.query import Query, QueryError, parse
from storage.repo import fanout

log = logging.getLogger(__name__)

_T = TypeVar("_T")
# Rows committed by another process up to this long after their timestamp are still seen.
_OVERLAP = timedelta(minutes=2)
_PAGE = 50_000  # rows read per await during the first load (each page ~50 ms of the loop)


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

    def __len__(self) -> int:
        return len(self.index)

    @property
    def loaded(self) -> bool:
        return self._last_refresh is not None

    def chat_of(self, watch_id: int) -> int:
        """The chat a loaded watch belongs to (0 when this process does not know it)."""
        return self._chat_of[watch_id] if watch_id < len(self._chat_of) else 0

    # --- changes from commands and refreshes ----------------------------------------------

    def add(self, watch_id: int, query: Query, chat_id: int = 0) -> None:
        if not self.loaded:
            return
        if self._busy:
            self._queued.append(("add", watch_id, query, chat_id))
            return
        self._add(watch_id, query, chat_id)

    def remove(self, watch_id: int) -> None:
        if not self.loaded:
            return
        if self._busy:
            self._queued.append(("remove", watch_id, None, 0))
            return
        self._remove(watch_id)

    def _add(self, watch_id: int, query: Query, chat_id: int) -> None:
        if watch_id not in self.queries:
            self.index.add(watch_id, query)
            self.queries[watch_id] = query.text
        if chat_id:
            if watch_id >= len(self._chat_of):
                self._chat_of.extend([0] * (watch_id + 1 - len(self._chat_of)))
            self._chat_of[watch_id] = chat_id
        self._max_id = max(self._max_id, watch_id)

    def _remove(self, watch_id: int) -> None:
        if self.queries.pop(watch_id, None) is not None:
            self.index.remove(watch_id)

    def _apply_queued(self) -> None:
        queued, self._queued = self._queued, []
        for op, watch_id, query, chat_id in queued:
            if op == "add" and query is not None:
                self._add(watch_id, query, chat_id)
            else:
                self._remove(watch_id)

    async def off_loop(self, work: Callable[[WatchIndex], _T]) -> _T:
        """Run `work(index)` in a worker thread; changes made meanwhile wait, then apply."""
        self._busy += 1
        try:
            return await asyncio.to_thread(work, self.index)
        finally:
            self._busy -= 1
            if not self._busy:
                self._apply_queued()

    # --- loading from the table -------------------------------------------------------------

    def _parse_and_add(self, rows: list[tuple[int, int, str]]) -> None:
        """Worker thread: parse and index a page of (id, chat id, query) rows."""
        for watch_id, chat_id, text in rows:
            try:
                self._add(watch_id, parse(text), chat_id)
            except QueryError as exc:  # stored under older rules: skip, do not crash
                log.warning("watch %s cannot be parsed any more: %s", watch_id, exc.describe())

    async def _first_load(self, session: AsyncSession) -> int:
        loaded, after = 0, 0
        self._busy += 1  # commands queue their changes while the thread builds the index
        try:
            while True:
                rows = await fanout.watch_rows(session, after, _PAGE)
                if not rows:
                    break
                await asyncio.to_thread(self._parse_and_add, rows)
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
            since = self._last_refresh - _OVERLAP
            added, removed = await fanout.watch_changes(session, self._max_id, since)
            fresh = [row for row in added if row[0] not in self.queries]
            if len(fresh) > 1000:
                await self.off_loop(lambda _index: self._parse_and_add(fresh))
            else:
                self._parse_and_add(fresh)
            for watch_id in removed:
                self.remove(watch_id)
            self._last_refresh = now
