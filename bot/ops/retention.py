"""Retention: sent and failed deliveries older than `delivery.keep_days` are pruned.

At a million watches a day makes millions of (chat, paper) rows; a month of them would be
~150 M. They are deleted in batches of a few thousand, one short transaction each, with a
pause between, so the outbox and commands never wait on it. Pruning cannot make an alert
repeat: a paper alerts only when it is stored for the first time, and the paper row stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from storage.repo import fanout

log = logging.getLogger(__name__)

BATCH = 5_000
PAUSE_SECONDS = 0.05  # between batches: other writers get the database in between
EVERY_SECONDS = 3600.0


async def prune_once(sessions: async_sessionmaker, now: datetime, keep_days: int,
                     batch: int = BATCH) -> int:
    """Delete every delivery past retention, `batch` rows per transaction; how many."""
    before = now - timedelta(days=keep_days)
    total = 0
    while True:
        async with sessions.begin() as session:
            deleted = await fanout.prune_deliveries(session, before, batch)
        total += deleted
        if deleted < batch:
            break
        await asyncio.sleep(PAUSE_SECONDS)
    if total:
        log.info("retention: pruned %d deliveries older than %d days", total, keep_days)
    return total


async def run_retention(sessions: async_sessionmaker, clock: Callable[[], datetime],
                        keep_days: int, stop: asyncio.Event) -> None:
    """Prune once an hour until `stop` is set; a failed round is logged and retried."""
    while not stop.is_set():
        try:
            await prune_once(sessions, clock(), keep_days)
        except Exception:  # the database may be briefly away: try again next round
            log.exception("retention round failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), EVERY_SECONDS)
