"""The live watch index of this process, kept in step with the watches table.

Commands add and remove watches here at once; `refresh` picks up what other processes
changed (new rows since the last look, deletions since the last look) without a rebuild.
"""

from __future__ import annotations

import gc
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.watching.matching import WatchIndex
from bot.watching.query import Query, QueryError, parse
from storage import repo

log = logging.getLogger(__name__)

# Rows committed by another process up to this long after their timestamp are still seen.
_OVERLAP = timedelta(minutes=2)


class WatchSet:
    """A WatchIndex plus the bookkeeping to refresh it incrementally from the database."""

    def __init__(self) -> None:
        self.index = WatchIndex()
        self.queries: dict[int, str] = {}
        self._max_id = 0
        self._last_refresh: datetime | None = None

    def __len__(self) -> int:
        return len(self.index)

    def add(self, watch_id: int, query: Query) -> None:
        if watch_id not in self.queries:
            self.index.add(watch_id, query)
            self.queries[watch_id] = query.text
        self._max_id = max(self._max_id, watch_id)

    def remove(self, watch_id: int) -> None:
        if self.queries.pop(watch_id, None) is not None:
            self.index.remove(watch_id)

    async def refresh(self, session: AsyncSession, now: datetime) -> None:
        """Load watches added or deleted since the last refresh (all of them the first time)."""
        since = self._last_refresh - _OVERLAP if self._last_refresh else None
        added, removed = await repo.watches_changed(session, self._max_id, since, since)
        for watch_id, text in added:
            if watch_id in self.queries:
                continue
            try:
                self.add(watch_id, parse(text))
            except QueryError as exc:  # stored under older rules: skip, do not crash
                log.warning("watch %s cannot be parsed any more: %s", watch_id, exc.describe())
        for watch_id in removed:
            self.remove(watch_id)
        if since is None and added:
            # The first load makes one object per watch and phrase, and they live as long as
            # the process: move them out of the collector's sight, or every full collection
            # walks them all (measured ~1 s per 300,000 watches, stalling the event loop).
            gc.freeze()
        self._last_refresh = now
