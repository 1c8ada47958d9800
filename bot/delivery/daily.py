"""The daily trending post: each configured chat's trending papers once a day at its
local time.

A chat's `channel_posts` settings (time, time zone, top N, minimum upvotes, topic query,
a note on empty days, weekdays only) make it a subscriber: a channel or group, or a
person in their private chat (Telegram) or DM (Discord), which is how someone gets the
day's list like the Hugging Face email. Like RoboDanny's reminder loop the poster sleeps
until the next post is due and is woken early by `notify()` when a setting changed. The
database is the truth: a post is a `daily_posts` row keyed by (chat, local date) before it
is a message, so restarts and several posters never post one day twice; a crashed
poster's claim expires and the post is taken over (at most the one post in flight at the
crash can go out twice).

The day's papers come from an injected `fetch(day)` (the Hugging Face Daily Papers API
in production, `stored_trending_fetch` from the papers table otherwise), most upvoted
first.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.config import DeliveryConfig
from bot.delivery.local_time import local_at, zone
from bot.delivery.outbox import remember_sent
from bot.delivery.pacing import Pacers
from bot.delivery.render import no_trending_note, trending_post
from bot.types import (
    ChannelPostSettings,
    ChatMoved,
    DailyPostState,
    DeliveryChat,
    MessageRejected,
    OutMessage,
    Paper,
    PermanentSendError,
    RateLimited,
    Sender,
    SendError,
)
from bot.watching.matching import matching_papers
from bot.watching.query import QueryError, parse
from storage import repo

log = logging.getLogger(__name__)

DONE_STATES = ("sent", "empty", "failed")
KEEP_DAILY_ROWS_DAYS = 60
SATURDAY = 5


def post_day(day: date, weekdays: bool) -> date:
    """The first day from `day` on which the post goes out (weekdays: Monday-Friday)."""
    while weekdays and day.weekday() >= SATURDAY:
        day += timedelta(days=1)
    return day


# --- the day's trending papers ----------------------------------------------------------

TrendingFetch = Callable[[date], Awaitable[list[Paper]]]


def stored_trending_fetch(sessions: async_sessionmaker) -> TrendingFetch:
    """Trending papers of a day from the papers table (Hugging Face papers of that day,
    most upvoted first): for when the live list is not wired or not reachable."""
    async def fetch(day: date) -> list[Paper]:
        async with sessions() as session:
            return await repo.stored_trending(session, day)
    return fetch


def select_trending(papers: list[Paper], post: ChannelPostSettings) -> list[Paper]:
    """The top N papers with enough upvotes that match the chat's topic query, if any."""
    chosen = [p for p in papers if (p.upvotes or 0) >= post.min_upvotes]
    if post.topic_query:
        try:
            query = parse(post.topic_query)
        except QueryError as exc:
            log.warning("daily post of chat %d: topic %r ignored: %s", post.chat_id,
                        post.topic_query, exc)
        else:
            chosen = matching_papers(query, chosen)
    chosen.sort(key=lambda p: p.upvotes or 0, reverse=True)
    return chosen[:post.top_n]


# --- the daily post loop ----------------------------------------------------------------


@dataclass
class _Due:
    post: ChannelPostSettings
    chat: DeliveryChat
    day: date  # the chat's local date
    at: datetime  # when this chat next needs attention


class DailyPoster:
    """Posts the daily trending message of every configured chat at its local time."""

    def __init__(self, sessions: async_sessionmaker, senders: Mapping[str, Sender],
                 clock: Callable[[], datetime], *, fetch: TrendingFetch | None = None,
                 config: DeliveryConfig | None = None, pacers: Pacers | None = None,
                 worker_id: str | None = None) -> None:
        self.sessions = sessions
        self.senders = senders
        self.clock = clock
        self.fetch = fetch or stored_trending_fetch(sessions)
        self.config = config or DeliveryConfig()
        self.pacers = pacers or Pacers(self.config.pacing, wall=clock)
        self.worker_id = worker_id or f"poster-{uuid.uuid4().hex[:8]}"
        self.wake = asyncio.Event()
        self.posted = 0  # messages this poster sent (for reports and tests)
        self._pruned_on: date | None = None

    def notify(self) -> None:
        """A daily-post setting changed: look again now."""
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Post until `stop` is set, sleeping until the next post is due."""
        while not stop.is_set():
            self.wake.clear()  # before the round: a change made during it wakes the next
            try:
                next_at = await self.run_once()
            except Exception:  # one bad round must not end the daily posts
                log.exception("daily post round failed")
                next_at = None
            delay = self.config.daily_check_seconds
            if next_at is not None:
                delay = min(delay, max(1.0, (next_at - self.clock()).total_seconds()))
            waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def run_once(self) -> datetime | None:
        """Make every post due now; return when the next one is due (None: none set up)."""
        now = self.clock()
        fetched: dict[date, list[Paper] | Exception] = {}
        for item in await self._schedule(now):
            if item.at <= now:
                await self._post(item, fetched)
        later = [item.at for item in await self._schedule(self.clock())]
        if self._pruned_on != now.date():
            async with self.sessions.begin() as session:
                await repo.prune_daily_posts(
                    session, now.date() - timedelta(days=KEEP_DAILY_ROWS_DAYS))
            self._pruned_on = now.date()
        return min(later) if later else None

    async def _schedule(self, now: datetime) -> list[_Due]:
        async with self.sessions() as session:
            targets = await repo.daily_post_targets(session, list(self.senders))
            items = []
            for post, chat in targets:
                tz = zone(post.timezone)
                day = post_day(now.astimezone(tz).date(), post.weekdays)
                items.append(_Due(post, chat, day, local_at(day, post.post_time, tz)))
            rows = await repo.daily_posts_of(session, [(i.chat.id, i.day) for i in items])
        for item in items:
            item.at = self._attention(item, rows.get((item.chat.id, item.day)))
        return items

    @staticmethod
    def _attention(item: _Due, row: DailyPostState | None) -> datetime:
        """When this chat's post needs a look: its time today; a lease's or a retry's end;
        or tomorrow's time once today's is done."""
        if row is None:
            return item.at
        if row.state == "claimed" and row.claimed_until is not None:
            return row.claimed_until + timedelta(microseconds=1)
        if row.state == "retry" and row.next_attempt_at is not None:
            return row.next_attempt_at
        tz = zone(item.post.timezone)
        following = post_day(item.day + timedelta(days=1), item.post.weekdays)
        return local_at(following, item.post.post_time, tz)

    async def _papers(self, day: date, fetched: dict[date, list[Paper] | Exception]
                      ) -> list[Paper]:
        if day not in fetched:
            try:
                fetched[day] = await self.fetch(day)
            except Exception as exc:  # the source is outside: log, retry later
                log.warning("trending papers of %s could not be fetched: %s", day, exc)
                fetched[day] = exc
        got = fetched[day]
        if isinstance(got, Exception):
            raise got
        return got

    async def _post(self, item: _Due, fetched: dict[date, list[Paper] | Exception]) -> None:
        lease = self.config.lease_seconds
        chat_id, day = item.chat.id, item.day
        # fetch before claiming: a slow source must not outlast the claim's lease
        failure: Exception | None = None
        try:
            papers = select_trending(await self._papers(day, fetched), item.post)
        except Exception as exc:
            failure, papers = exc, []
        now = self.clock()
        async with self.sessions.begin() as session:
            row = await repo.claim_daily_post(session, chat_id, day, self.worker_id, now,
                                              now + timedelta(seconds=lease))
        if row is None:
            return
        ref = item.chat.ref
        sender = self.senders[ref.platform]
        if failure is not None:
            await self._finish(chat_id, day, "retry", error=f"fetch failed: {failure}",
                               next_at=now + timedelta(seconds=self.config.daily_retry_seconds))
            return
        message: OutMessage
        if papers:
            message = trending_post(papers, day, sender.max_chars, sender.measure,
                                    topic=item.post.topic_query)
        elif item.post.post_empty_note:
            message = no_trending_note(day)
        else:
            await self._finish(chat_id, day, "empty")
            log.info("daily post chat=%s:%s day=%s: no papers", ref.platform,
                     ref.external_id, day)
            return
        pacer = self.pacers(ref.platform)
        slot = await pacer.acquire(ref, deadline=pacer.clock() + lease * 0.5)
        if slot is None:
            wait = min(pacer.wait_time(ref), lease)
            await self._finish(chat_id, day, "retry", attempt=False,
                               next_at=self.clock() + timedelta(seconds=wait))
            return
        try:
            await sender.send(ref, message)
        except SendError as exc:
            await self._failed(item, row, exc)
            return
        except Exception as exc:  # an adapter bug must not stop the other posts
            log.exception("daily post to %s crashed", ref)
            await self._failed(item, row, SendError(repr(exc)))
            return
        finally:
            slot.release()
        self.posted += 1
        await self._finish(chat_id, day, "sent", papers=len(papers))
        await remember_sent(self.sessions, chat_id, message, self.clock())  # /like 3 (issue 17)
        log.info("daily post chat=%s:%s day=%s papers=%d", ref.platform, ref.external_id,
                 day, len(papers))

    async def _finish(self, chat_id: int, day: date, state: str, *, papers: int = 0,
                      error: str | None = None, next_at: datetime | None = None,
                      attempt: bool = True) -> None:
        async with self.sessions.begin() as session:
            await repo.finish_daily_post(session, chat_id, day, state, now=self.clock(),
                                         papers=papers, error=error, next_at=next_at,
                                         attempt=attempt)

    async def _failed(self, item: _Due, row: DailyPostState, exc: SendError) -> None:
        now = self.clock()
        ref = item.chat.ref
        chat_id, day = item.chat.id, item.day
        if isinstance(exc, PermanentSendError):
            log.warning("daily post: chat %s:%s refuses messages: %s", ref.platform,
                        ref.external_id, exc.reason)
            async with self.sessions.begin() as session:
                await repo.set_chat_state(session, chat_id, "blocked", exc.reason)
                await repo.disable_channel_post(session, chat_id, exc.reason)
            await self._finish(chat_id, day, "failed", error=exc.reason)
        elif isinstance(exc, MessageRejected):
            await self._finish(chat_id, day, "failed", error=exc.reason)
        elif isinstance(exc, ChatMoved):
            async with self.sessions.begin() as session:
                await repo.move_chat(session, ref, exc.new_external_id)
            await self._finish(chat_id, day, "retry", error=exc.reason, next_at=now,
                               attempt=False)
        elif isinstance(exc, RateLimited):
            self.pacers(ref.platform).pause(exc.retry_after,
                                            None if exc.scope == "global" else ref)
            await self._finish(chat_id, day, "retry", error=exc.reason, attempt=False,
                               next_at=now + timedelta(seconds=exc.retry_after))
        elif row.attempts + 1 >= self.config.max_attempts:
            await self._finish(chat_id, day, "failed",
                               error=f"{exc.reason} (after {row.attempts + 1} attempts)")
        else:
            delay = self.config.daily_retry_seconds * (2 ** row.attempts)
            await self._finish(chat_id, day, "retry", error=exc.reason,
                               next_at=now + timedelta(seconds=delay))
