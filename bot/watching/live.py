"""What the pipeline and the commands need of the live watch index, wherever it lives.

Two implementations: `WatchSet` keeps the index in this process and matches in a worker
thread (small bots, tests); `MatcherProcess` keeps it in a child process, so that matching
at a million watches never competes for the interpreter lock with the event loop and the
database driver. `run.matching` picks one ("auto": the process from
`run.matching_process_above` stored watches on).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.ingest.fanout import Batch
from bot.types import Paper
from bot.watching.query import Query


class LiveWatches(Protocol):
    @property
    def loaded(self) -> bool: ...

    def __len__(self) -> int: ...

    def add(self, watch_id: int, query: Query, chat_id: int = 0) -> None:
        """A watch made by a command: live for the next match (ignored until loaded)."""

    def remove(self, watch_id: int) -> None:
        """A watch deleted by a command (ignored until loaded)."""

    async def refresh(self, session: AsyncSession, now: datetime) -> None:
        """Load every watch the first time, then what other processes changed since."""

    async def plan(self, papers: Sequence[Paper], inactive: set[int], batch_rows: int,
                   copy_at: datetime | None = None) -> list[Batch]:
        """Match papers off the event loop; their delivery rows in write batches (as
        PostgreSQL COPY lines stamped `copy_at` when given)."""

    def reset_hit_counts(self) -> None:
        """Forget the hits planned so far (a fan-out starts; an earlier one failed)."""

    async def take_hit_counts(self) -> Iterable[list[tuple[int, int]]]:
        """The hits per watch planned since the last call, as (watch id, n) lists by id."""

    async def close(self) -> None:
        """Stop whatever runs the index (quickly: shutdown is bounded)."""
