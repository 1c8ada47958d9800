"""The /foryou daily task: once a day, at each person's local time, their top picks.

For every person with /foryou on whose local time has come today: the stored papers first
seen in the last day that no watch of theirs matched (no alert row for their chat) and that
they have not marked, best first by their ranking model (`RankingService.for_you_many`, in
a worker thread), each with the three words that weighed most. They are queued as outbox
rows of kind "foryou" and sent by the delivery worker like any alert (rendered as one
"✨ For you" list), so a pick is never sent twice (unique chat, paper, kind) and never lost.
The person's local day is taken in the same transaction as the rows
(`take_foryou_day`), so two schedulers or a restart queue it once. A person with fewer
than 3 likes, or a day with nothing above their model's bar, gets nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.delivery.local_time import local_at, zone
from bot.ranking.service import RankingService
from bot.ranking.types import ForYouSetting
from storage.repo import feedback_refs as refs

log = logging.getLogger(__name__)

PICKS = 5
WINDOW = timedelta(days=1)
CHECK_SECONDS = 60.0


def due_day(setting: ForYouSetting, now: datetime) -> tuple[date, datetime]:
    """(the person's local day now, when today's picks are due)."""
    tz = zone(setting.timezone)
    today = now.astimezone(tz).date()
    return today, local_at(today, setting.post_time, tz)


class ForYouPoster:
    """Queues each person's daily /foryou picks (one per process with the scheduler role)."""

    def __init__(self, sessions: async_sessionmaker, ranking: RankingService,
                 clock: Callable[[], datetime], on_enqueued: Callable[[], None] | None = None,
                 check_seconds: float = CHECK_SECONDS) -> None:
        self.sessions = sessions
        self.ranking = ranking
        self.clock = clock
        self.on_enqueued = on_enqueued
        self.check_seconds = check_seconds

    async def run(self, stop: asyncio.Event) -> None:
        """Queue picks until `stop` is set, looking every `check_seconds`."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # one bad round must not end /foryou
                log.exception("foryou round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.check_seconds)

    async def run_once(self) -> int:
        """Queue the picks of everyone due now; returns how many rows were queued."""
        now = self.clock()
        async with self.sessions() as session:
            settings = await refs.foryou_enabled(session)
            due = []
            for setting in settings:
                today, at = due_day(setting, now)
                if at <= now and (setting.last_day is None or setting.last_day < today):
                    matched = await refs.matched_since(session, setting.chat_id, now - WINDOW)
                    due.append((setting, today, matched))
        if not due:
            return 0
        picks = await self.ranking.for_you_many({s.person: m for s, _, m in due},
                                                now - WINDOW, PICKS)
        queued = 0
        for setting, today, _matched in due:
            chosen = picks.get(setting.person)
            rows = [(p.paper_id, p.words) for p in chosen.picks] if chosen else []
            async with self.sessions.begin() as session:
                if not await refs.take_foryou_day(session, setting.person, today):
                    continue  # another scheduler (or this one before a restart) did it
                queued += await refs.enqueue_foryou(session, setting.chat_id, rows, now)
            log.info("foryou person=%s picks=%d", setting.person.key(), len(rows))
        if queued and self.on_enqueued is not None:
            self.on_enqueued()
        return queued
