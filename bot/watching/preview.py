"""The /watch preview: the stored papers of the last days that a new query would have hit.

`RecentPapers` keeps the last days' papers in memory and reloads them only when the
papers table's recent rows changed (their count, latest first_seen and updated_at, total
upvotes and versions: one small aggregate query), so a burst of /watch commands costs one
load. The matching runs in a worker thread on an index of its own (nothing shared with
the bot's live index), so a week of papers does not stall the event loop that serves
every other chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.types import Paper
from bot.watching.matching import matching_papers
from bot.watching.query import Query
from storage import repo

PREVIEW_DAYS = 7


class RecentPapers:
    """The papers first seen in the last `days`, cached while the table says unchanged."""

    def __init__(self, sessions: async_sessionmaker, days: int = PREVIEW_DAYS) -> None:
        self.sessions = sessions
        self.days = days
        self.loads = 0  # how many times the papers were read (for tests)
        self._mark: tuple | None = None
        self._papers: list[Paper] = []

    async def get(self, now: datetime) -> list[Paper]:
        since = now - timedelta(days=self.days)
        async with self.sessions() as session:
            mark = await repo.recent_papers_mark(session, since)
            if mark != self._mark:
                self._papers = await repo.recent_papers(session, since)
                self._mark = mark
                self.loads += 1
        return self._papers


async def preview(recent: RecentPapers, query: Query, now: datetime,
                  clock: Callable[[], datetime]) -> list[Paper]:
    """The recent papers `query` matches, most upvoted (then newest) first."""
    papers = await recent.get(now)
    matched = await asyncio.to_thread(matching_papers, query, papers)
    matched.sort(key=lambda p: (p.upvotes or 0, p.published or clock()), reverse=True)
    return matched
