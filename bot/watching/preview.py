"""The /watch preview: the stored papers of the last days that a new query would have hit.

`RecentPapers` keeps the last days' papers in memory and reloads them only when the
papers table's recent rows changed (their count, latest first_seen and updated_at, total
upvotes and versions: one small aggregate query), so a burst of /watch commands costs one
load. The matching runs in a worker thread on an index of its own (nothing shared with
the bot's live index), so a week of papers does not stall the event loop that serves
every other chat.

Each paper's joined text (`bot.watching.prefilter.paper_text`, what the matching prefilter
reads) is made once, in the worker thread, and kept across reloads while the paper's
title, summary and keywords stay the same, so a preview mostly costs the prefilter's
substring tests plus the full match of the few papers that pass them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.types import Paper
from bot.watching.matching import matching_papers
from bot.watching.prefilter import paper_text, same_text
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
        # One mark check and reload at a time: /watch commands arriving during a reload
        # (a burst, or an ingest changing the mark) then find it done instead of each
        # reloading every recent paper on the event loop again.
        self._reloading = asyncio.Lock()
        self.texts_made = 0  # joined texts computed rather than reused (for tests)
        self._texts: dict[str, tuple[Paper, str]] = {}  # id -> (paper, its joined text)
        self._texts_of: list[Paper] | None = None  # the list `_text_list` belongs to
        self._text_list: list[str] = []

    async def get(self, now: datetime) -> list[Paper]:
        since = now - timedelta(days=self.days)
        async with self._reloading, self.sessions() as session:
            mark = await repo.recent_papers_mark(session, since)
            if mark != self._mark:
                self._papers = await repo.recent_papers(session, since)
                self._mark = mark
                self.loads += 1
            return self._papers

    async def get_with_texts(self, now: datetime) -> tuple[list[Paper], list[str]]:
        """The recent papers and their joined texts, in the same order."""
        papers = await self.get(now)
        if self._texts_of is papers:
            return papers, self._text_list
        texts = await asyncio.to_thread(self._make_texts, papers)
        if papers is self._papers:  # not replaced by a reload meanwhile
            self._texts_of, self._text_list = papers, texts
        return papers, texts

    def _make_texts(self, papers: list[Paper]) -> list[str]:
        """Worker thread: reuse the texts of papers whose text fields did not change."""
        old = self._texts  # only ever replaced, never changed in place: safe to read here
        kept: dict[str, tuple[Paper, str]] = {}
        out: list[str] = []
        made = 0
        for paper in papers:
            cached = old.get(paper.id)
            if cached is not None and same_text(cached[0], paper):
                text = cached[1]
            else:
                text = paper_text(paper)
                made += 1
            kept[paper.id] = (paper, text)
            out.append(text)
        self._texts = kept
        self.texts_made += made
        return out


async def preview(recent: RecentPapers, query: Query, now: datetime,
                  clock: Callable[[], datetime]) -> list[Paper]:
    """The recent papers `query` matches, most upvoted (then newest) first."""
    papers, texts = await recent.get_with_texts(now)
    matched = await asyncio.to_thread(matching_papers, query, papers, texts)
    matched.sort(key=lambda p: (p.upvotes or 0, p.published or clock()), reverse=True)
    return matched
