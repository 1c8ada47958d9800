"""A platform that enforces flood limits and answers 429 when they are broken.

`FloodRules` is the platform's side of pacing: at most N messages in any W seconds
overall, per chat and per group, counted at the instant a message arrives (as a server
sees it), with the retry_after a platform would answer. Two fakes use it:

- `PacedTelegramAPI`: the fake Telegram Bot API (tests/fakes/telegram_api.py) with
  Telegram's limits (30/s overall, 1/s per chat, 20/min per group by default); a broken
  limit answers HTTP 429 with `parameters.retry_after`, which python-telegram-bot turns
  into RetryAfter. It also records when each message arrived and when a 429 was given.
- `PacedSender`: the same rules in process, for a platform without an HTTP fake; raises
  RateLimited (scope "global" when the overall limit broke, else "chat").
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.types import ChatRef, OutMessage, RateLimited, RichText
from tests.fakes.telegram_api import FakeError, FakeTelegramAPI, _Refused


class _Limit:
    """At most `count` arrivals in any `seconds` (a window (t - seconds, t])."""

    def __init__(self, count: int, seconds: float) -> None:
        self.count = count
        self.seconds = seconds
        self.arrivals: deque[float] = deque()

    def refusal(self, now: float) -> float | None:
        while self.arrivals and self.arrivals[0] <= now - self.seconds:
            self.arrivals.popleft()
        if len(self.arrivals) < self.count:
            return None
        return self.arrivals[0] + self.seconds - now

    def add(self, now: float) -> None:
        self.arrivals.append(now)


@dataclass
class FloodRules:
    """The limits a platform enforces; `check` is called as each message arrives."""

    per_second: int = 30
    chat_per_second: int = 1
    group_per_minute: int = 20
    clock: Callable[[], float] = time.monotonic
    refused: int = 0
    arrivals: list[tuple[float, str]] = field(default_factory=list)  # (time, chat) accepted
    _overall: _Limit | None = None
    _chats: dict[str, _Limit] = field(default_factory=dict)
    _groups: dict[str, _Limit] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._overall = _Limit(self.per_second, 1.0)

    def check(self, chat: str, group: bool) -> tuple[float, str] | None:
        """None if the message is accepted (and counted); else (retry_after, scope)."""
        now = self.clock()
        assert self._overall is not None
        limits = [(self._overall, "global"),
                  (self._chats.setdefault(chat, _Limit(self.chat_per_second, 1.0)), "chat")]
        if group:
            limits.append((self._groups.setdefault(chat, _Limit(self.group_per_minute, 60.0)),
                           "chat"))
        for limit, scope in limits:
            wait = limit.refusal(now)
            if wait is not None:
                self.refused += 1
                return wait, scope
        for limit, _scope in limits:
            limit.add(now)
        self.arrivals.append((now, chat))
        return None


class PacedTelegramAPI(FakeTelegramAPI):
    """The fake Bot API, enforcing Telegram's flood limits on sendMessage."""

    def __init__(self, rules: FloodRules | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rules = rules or FloodRules()
        self.too_many: list[float] = []  # when each 429 was answered (scripted ones too)

    def _scripted_error(self, method: str, chat_id: int | None) -> FakeError | None:
        error = super()._scripted_error(method, chat_id)
        if error is not None and error.status == 429:
            self.too_many.append(self.rules.clock())
        return error

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        refused = self.rules.check(str(chat_id), group=chat_id < 0)
        if refused is not None:
            self.too_many.append(self.rules.clock())
            raise _Refused(FakeError.retry_after(max(1, math.ceil(refused[0]))))
        return await super()._api_sendMessage(params)


class PacedSender:
    """An in-process platform with flood limits (a Sender for the delivery worker)."""

    def __init__(self, platform: str = "telegram", rules: FloodRules | None = None,
                 latency: float = 0.002, max_chars: int = 4096) -> None:
        self.platform = platform
        self.rules = rules or FloodRules()
        self.latency = latency
        self.max_chars = max_chars
        self.sent: list[tuple[ChatRef, OutMessage]] = []

    def measure(self, text: RichText) -> int:
        return len(text.plain())

    async def send(self, chat: ChatRef, message: OutMessage) -> None:
        await asyncio.sleep(self.latency / 2)
        refused = self.rules.check(chat.external_id, chat.kind != "user")
        await asyncio.sleep(self.latency / 2)
        if refused is not None:
            raise RateLimited(max(1.0, math.ceil(refused[0])), scope=refused[1])
        self.sent.append((chat, message))
