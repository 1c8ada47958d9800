"""Pacing: send no faster than each platform allows, and honour its 429 pauses.

A `Pacer` guards one platform with sliding windows ("at most N messages in any W
seconds"): one over all chats, one per chat, one per group or channel. A send takes a
slot in every window that applies and gives it back when the platform has answered.

The windows count a message from its start until W seconds after its answer arrived. The
platform sees the message at some instant between those two, so however long the network
takes, no window of W seconds on the platform's side ever holds more than N of our
messages: pacing can't trip a flood limit that matches its configuration. A 429 pauses the
chat, or the whole platform when the platform says so, for the time it asks.

Time is injectable: windows run on `clock` (seconds, monotonic) and `sleep`; pauses run
on `wall` (the datetime clock the rest of the bot uses, so a test's fake clock ends them).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta

from bot.config import PacingConfig, PlatformPacing
from bot.types import ChatRef

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Wall = Callable[[], datetime]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
IN_FLIGHT = math.inf  # the answer time of a message still waiting for its answer
MAX_NAP = 1.0  # re-check at least this often while waiting for answers


def window_of(per_period: float, period: float) -> tuple[int, float] | None:
    """A rate as (N, W): `per_period` messages per `period` seconds, as N in any W seconds
    with N whole (28.5/s -> 28 in 0.982 s). None for "no limit"."""
    if per_period <= 0:
        return None
    count = max(1, math.floor(per_period))
    return count, period * count / per_period


class Window:
    """At most `count` messages in any `seconds`, counted from start to answer + seconds."""

    def __init__(self, count: int, seconds: float) -> None:
        self.count = count
        self.seconds = seconds
        self.answers: list[float] = []  # answer times; IN_FLIGHT while waiting

    def _prune(self, now: float) -> None:
        self.answers = [t for t in self.answers if t > now - self.seconds]

    def wait(self, now: float) -> float:
        """Seconds until a slot is free (0: free now; inf: only an answer can free one)."""
        self._prune(now)
        excess = len(self.answers) - self.count + 1
        if excess <= 0:
            return 0.0
        answered = sorted(t for t in self.answers if t != IN_FLIGHT)
        if len(answered) < excess:
            return math.inf
        return max(0.0, answered[excess - 1] + self.seconds - now)

    def take(self) -> None:
        self.answers.append(IN_FLIGHT)

    def give_back(self, answered_at: float) -> None:
        """The platform answered one message (any one of those in flight)."""
        self.answers.remove(IN_FLIGHT)
        self.answers.append(answered_at)

    def idle(self, now: float) -> bool:
        self._prune(now)
        return not self.answers


@dataclass
class Slot:
    """The right to send one message; `release()` once the platform answered."""

    pacer: Pacer
    windows: list[Window] = field(default_factory=list)
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.pacer._release(self)


class Pacer:
    """The send limits of one platform in this process (its `share` of the overall rate
    when several workers send for one bot)."""

    def __init__(self, limits: PlatformPacing | None = None, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep, wall: Wall | None = None) -> None:
        self.limits = limits or PlatformPacing()
        self.clock = clock
        self.sleep = sleep
        self.wall = wall or _utcnow
        self.share = 1.0
        overall = window_of(self.limits.per_second, 1.0)
        self.overall = Window(*overall) if overall else None
        self._chat_rate = window_of(self.limits.chat_per_second, 1.0)
        self._group_rate = window_of(self.limits.group_per_minute, 60.0)
        self._chats: dict[str, Window] = {}
        self._groups: dict[str, Window] = {}
        self.paused_until = _EPOCH  # the whole platform (wall clock)
        self._chat_paused: dict[str, datetime] = {}
        self._answered = asyncio.Event()
        self.pauses = 0  # 429s honoured (for reports)

    def set_share(self, share: float) -> None:
        """Send at `share` of the overall rate: the workers of one bot split it. Messages
        already counted stay counted. Per-chat and per-group limits stay whole: a chat is
        served by one worker at a time."""
        self.share = share
        if self.overall is not None:  # changed in place: slots in flight hold this window
            self.overall.count, self.overall.seconds = window_of(
                self.limits.per_second * share, 1.0) or (1, 1.0)

    # --- the windows of one chat ------------------------------------------------------

    def _windows(self, chat: ChatRef) -> list[Window]:
        windows = [self.overall] if self.overall else []
        if self._chat_rate:
            windows.append(self._chats.setdefault(chat.external_id, Window(*self._chat_rate)))
        if self._group_rate and chat.kind != "user":
            windows.append(self._groups.setdefault(chat.external_id, Window(*self._group_rate)))
        return windows

    def _forget_idle(self, now: float) -> None:
        """Drop the windows of chats not written to lately (a million chats stay cheap)."""
        for table in (self._chats, self._groups):
            if len(table) > 1000:
                for key in [k for k, w in table.items() if w.idle(now)]:
                    del table[key]
        if len(self._chat_paused) > 1000:
            wall = self.wall()
            self._chat_paused = {k: t for k, t in self._chat_paused.items() if t > wall}

    def wait_time(self, chat: ChatRef) -> float:
        """Seconds before a message to this chat could start (inf: waiting for answers)."""
        now = self.clock()
        until = max(self.paused_until, self._chat_paused.get(chat.external_id, _EPOCH))
        paused = (until - self.wall()).total_seconds()
        return max([paused, 0.0] + [w.wait(now) for w in self._windows(chat)])

    # --- sending ----------------------------------------------------------------------

    async def acquire(self, chat: ChatRef, deadline: float | None = None) -> Slot | None:
        """Wait for a slot to send to `chat`. None if none comes before `deadline` (a time
        on this pacer's clock): the caller gives its rows back instead of holding them."""
        while True:
            wait = self.wait_time(chat)
            # a free slot after the deadline is still too late: the rows' lease may be gone
            # and another worker may already be sending them (a duplicate)
            if deadline is not None and self.clock() > deadline:
                return None
            if wait <= 0:
                slot = Slot(self, self._windows(chat))
                for window in slot.windows:
                    window.take()
                return slot
            now = self.clock()
            if deadline is not None and now + (0 if math.isinf(wait) else wait) > deadline:
                return None
            nap = wait if deadline is None else min(wait, deadline - now)
            if math.isinf(nap) or nap > MAX_NAP:
                await self._nap_or_answer(MAX_NAP if math.isinf(nap) else nap)
            else:
                await self.sleep(nap)

    async def _nap_or_answer(self, seconds: float) -> None:
        """Sleep, but wake as soon as any message of this platform is answered."""
        answered = asyncio.ensure_future(self._answered.wait())
        nap = asyncio.ensure_future(self.sleep(seconds))
        try:
            await asyncio.wait((answered, nap), return_when=asyncio.FIRST_COMPLETED)
        finally:
            answered.cancel()
            nap.cancel()

    def _release(self, slot: Slot) -> None:
        now = self.clock()
        for window in slot.windows:
            window.give_back(now)
        self._answered.set()
        self._answered = asyncio.Event()
        self._forget_idle(now)

    def pause(self, seconds: float, chat: ChatRef | None = None) -> None:
        """The platform said 429: nothing (or nothing to `chat`) for `seconds`."""
        until = self.wall() + timedelta(seconds=max(0.0, seconds))
        self.pauses += 1
        if chat is None:
            self.paused_until = max(self.paused_until, until)
        else:
            key = chat.external_id
            self._chat_paused[key] = max(self._chat_paused.get(key, _EPOCH), until)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Pacers:
    """One pacer per platform, from configuration (platforms without limits get none)."""

    def __init__(self, config: PacingConfig | None = None, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep, wall: Wall | None = None) -> None:
        self.config = config or PacingConfig()
        self.clock = clock
        self.sleep = sleep
        self.wall = wall
        self.share = 1.0
        self._pacers: dict[str, Pacer] = {}

    def limits(self, platform: str) -> PlatformPacing:
        if platform in {f.name for f in fields(PacingConfig)}:
            return getattr(self.config, platform)
        return PlatformPacing()

    def __call__(self, platform: str) -> Pacer:
        pacer = self._pacers.get(platform)
        if pacer is None:
            pacer = self._pacers[platform] = Pacer(self.limits(platform), self.clock,
                                                   self.sleep, self.wall)
            pacer.set_share(self.share)
        return pacer

    def set_share(self, share: float) -> None:
        """This process's part of every platform's overall rate (1/N for N workers)."""
        self.share = share
        for pacer in self._pacers.values():
            pacer.set_share(share)
