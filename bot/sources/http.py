"""One way for every source to GET a URL: timeout, retries with backoff, capped body size.

`Fetcher(session, HttpConfig())` wraps an `aiohttp.ClientSession` the caller owns:

    body = await Fetcher(session, cfg).get(url, params={"p": 0})

Timeouts, connection errors, truncated bodies, 408, 429 and 5xx answers are retried with
exponential backoff and jitter, waiting at least what `Retry-After` asks (seconds or an HTTP
date); other 4xx answers fail at once. A body larger than `max_body_bytes` is refused while
it streams in, so a 10 MB answer never sits in memory. Every failure ends as one
`FetchError` whose `reason` is a single line fit for logs and `/status`. Tests pass their own
`sleep` so that backoff costs no real time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from bot.config import HttpConfig

log = logging.getLogger(__name__)

USER_AGENT = "paperwatch/0.1 (research-paper alert bot; aiohttp)"
CHUNK_BYTES = 64 * 1024

Sleep = Callable[[float], Awaitable[None]]


class FetchError(Exception):
    """A request that gave no usable body. `reason` is one line naming what went wrong."""

    def __init__(self, url: str, reason: str, *, status: int | None = None) -> None:
        super().__init__(f"{reason} ({url})")
        self.url = url
        self.reason = reason
        self.status = status


class BodyTooLarge(FetchError):
    """The answer was bigger than the configured cap; it was not read to the end."""


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    content_type: str
    body: bytes


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds to wait: a number of seconds or an HTTP date; None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class Fetcher:
    """GET with the retry and size policy of `HttpConfig`, over a session the caller owns."""

    session: aiohttp.ClientSession
    config: HttpConfig = field(default_factory=HttpConfig)
    sleep: Sleep = asyncio.sleep
    jitter: Callable[[], float] = random.random
    headers: Mapping[str, str] = field(default_factory=dict)

    async def get(self, url: str, params: Mapping[str, Any] | None = None, *,
                  min_delay: float = 0.0) -> Response:
        """GET `url` with retries; `min_delay` is the least wait between two attempts."""
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            try:
                return await self._once(url, params)
            except _Retryable as exc:
                if attempt + 1 >= attempts:
                    raise FetchError(url, f"{exc.reason}, gave up after {attempts} attempts",
                                     status=exc.status) from None
                delay = self.backoff(attempt, exc.retry_after, min_delay)
                if delay > self.config.max_retry_after_seconds:
                    raise FetchError(url, f"{exc.reason}, asked to wait {delay:.0f}s: "
                                          "trying again next cycle", status=exc.status) from None
                log.info("http retry url=%s reason=%r attempt=%d wait=%.2fs",
                         url, exc.reason, attempt + 1, delay)
                await self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET and decode JSON; an HTML error page or broken JSON is a FetchError."""
        response = await self.get(url, params)
        try:
            return json.loads(response.body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            kind = response.content_type or "unknown content"
            raise FetchError(url, f"answer is not JSON ({kind}, {len(response.body)} bytes)",
                             status=response.status) from None

    def backoff(self, attempt: int, retry_after: float | None, min_delay: float = 0.0) -> float:
        """Exponential backoff with jitter (50-150 %), never shorter than Retry-After."""
        delay = self.config.backoff_base_seconds * (2 ** attempt) * (0.5 + self.jitter())
        return max(delay, min_delay, retry_after or 0.0)

    async def _once(self, url: str, params: Mapping[str, Any] | None) -> Response:
        cap = self.config.max_body_bytes
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
        headers = {"User-Agent": USER_AGENT, **self.headers}
        try:
            async with self.session.get(url, params=params, timeout=timeout,
                                        headers=headers) as resp:
                status = resp.status
                if status in (408, 429) or status >= 500:
                    raise _Retryable(f"HTTP {status}",
                                     parse_retry_after(resp.headers.get("Retry-After")), status)
                if status >= 400:
                    raise FetchError(url, f"HTTP {status}", status=status)
                if resp.content_length is not None and resp.content_length > cap:
                    raise BodyTooLarge(url, f"answer of {resp.content_length} bytes is over "
                                            f"the {cap}-byte cap", status=status)
                body = bytearray()
                async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
                    body += chunk
                    if len(body) > cap:
                        raise BodyTooLarge(url, f"answer is over the {cap}-byte cap "
                                                "(stopped reading)", status=status)
                return Response(str(resp.url), status, resp.content_type or "", bytes(body))
        except TimeoutError:
            raise _Retryable(f"timed out after {self.config.timeout_seconds:g}s") from None
        except aiohttp.ClientPayloadError as exc:
            raise _Retryable(f"answer cut short: {exc}") from None
        except aiohttp.ClientError as exc:
            raise _Retryable(f"connection error: {type(exc).__name__}: {exc}") from None
