"""What every group of command handlers shares: storage, the live watch index, the clock,
the limits, the "something changed" callbacks, and the time formats replies use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import DeliveryConfig, LimitsConfig
from bot.delivery.local_time import zone
from bot.types import ChatRef, ChatSettings, Incoming, Reply
from bot.watching.live import LiveWatches
from bot.watching.preview import RecentPapers
from bot.watching.query import MAX_QUERY_CHARS, Query, QueryError, parse
from storage import repo

Handler = Callable[[Incoming, str], Awaitable[Reply]]

FOREVER = timedelta(days=36500)  # what /mute with no duration stores


class Context:
    """The command set's dependencies, bound once and shared by every handler group."""

    def __init__(self, sessions: async_sessionmaker, watches: LiveWatches,
                 clock: Callable[[], datetime], limits: LimitsConfig,
                 delivery: DeliveryConfig,
                 on_deliverable: Callable[[], None] | None = None,
                 on_daily_changed: Callable[[], None] | None = None) -> None:
        self.sessions = sessions
        self.watches = watches
        self.clock = clock
        self.limits = limits
        self.delivery = delivery
        self.on_deliverable = on_deliverable
        self.on_daily_changed = on_daily_changed
        self.recent = RecentPapers(sessions)

    async def chat(self, session: AsyncSession, ref: ChatRef) -> ChatSettings:
        """The chat, created on first contact, inside the caller's transaction."""
        return await repo.ensure_chat(session, ref, self.clock())

    async def known_chat(self, ref: ChatRef) -> ChatSettings | None:
        """The chat if it ever talked to us (a read of its own)."""
        async with self.sessions() as session:
            return await repo.get_chat(session, ref)

    def parse_query(self, text: str) -> Query:
        """parse(), with the configured limit on length (limits.max_query_chars) as well."""
        stripped = text.strip()
        limit = self.query_limit
        if len(stripped) > limit:
            raise QueryError(f"The query is {len(stripped)} characters long; the limit is "
                             f"{limit}", text.index(stripped[0]) + limit, "Shorten it.")
        return parse(text)

    @property
    def query_limit(self) -> int:
        return min(self.limits.max_query_chars, MAX_QUERY_CHARS)

    def notify(self) -> None:
        """Wake the delivery worker: a chat's alerts may be due now."""
        if self.on_deliverable is not None:
            self.on_deliverable()

    def notify_daily(self) -> None:
        if self.on_daily_changed is not None:
            self.on_daily_changed()


def fmt_when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def fmt_local(moment: datetime, tz_name: str) -> str:
    """'2026-11-24 13:30 Europe/Paris' (the chat's local time and zone)."""
    return moment.astimezone(zone(tz_name)).strftime("%Y-%m-%d %H:%M ") + tz_name
