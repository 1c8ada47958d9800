"""What every source gives the poller: a `FetchResult`, and the `Source` protocol.

A source turns one poll into papers (never seen ones may alert), updates (only refresh what
is stored: arXiv replacements) and a status: "ok", "empty" (nothing announced: not a
failure) or "error" (the note says why; papers fetched before the error are still given).
Sources never raise for outside trouble; the poller catches anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

import aiohttp

from bot.sources.clean import ItemError
from bot.types import Paper

Status = Literal["ok", "empty", "error"]
FUTURE_SLACK = timedelta(days=2)  # time zones and announcement schedules, not more


@dataclass(frozen=True)
class FetchResult:
    papers: tuple[Paper, ...] = ()
    updates: tuple[Paper, ...] = ()
    status: Status = "ok"
    note: str = ""
    skipped: int = 0  # bad items left out (each one logged with its source and id)


class Source(Protocol):
    """A paper source as the poller drives it."""

    name: str
    poll_seconds: float

    async def fetch(self, http_session: aiohttp.ClientSession, now: datetime, *,
                    since: datetime | None = None) -> FetchResult:
        """Poll once. `since`: the last successful poll (None on a source's first fetch),
        so a source can fill the gap left by downtime."""
        ...


def not_in_future(paper: Paper, now: datetime | None) -> Paper:
    """Refuse a paper dated days ahead of `now`: it would top every date-sorted list."""
    if now is not None and paper.published is not None and paper.published > now + FUTURE_SLACK:
        raise ItemError(f"date {paper.published:%Y-%m-%d} is in the future")
    return paper
