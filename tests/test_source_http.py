"""The shared fetch helper (bot/sources/http.py) with the real aiohttp client against a fake
server on 127.0.0.1: retries, backoff, Retry-After, timeouts, size cap, no retry on 4xx.
Sleeps are recorded, never slept."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import aiohttp
import pytest

from bot.config import HttpConfig
from bot.sources.http import BodyTooLarge, Fetcher, FetchError, parse_retry_after
from tests.fakes.hf_api import FakeHFAPI

FAST = HttpConfig(timeout_seconds=0.5, max_retries=3, max_body_bytes=1_000_000,
                  backoff_base_seconds=0.01)


class RecordedSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def server() -> AsyncIterator[FakeHFAPI]:
    async with FakeHFAPI() as fake:
        fake.set_day("2025-08-20", [])
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
def sleep() -> RecordedSleep:
    return RecordedSleep()


def url(server: FakeHFAPI) -> str:
    return f"{server.base_url}/api/daily_papers"


PARAMS = {"date": "2025-08-20"}


async def test_429_waits_what_retry_after_asks_then_succeeds(server, session, sleep):
    server.fail("status", status=429, retry_after="7")
    fetcher = Fetcher(session, FAST, sleep=sleep)
    assert await fetcher.get_json(url(server), PARAMS) == []
    assert len(server.requests) == 2
    assert sleep.waits[0] >= 7


async def test_retry_after_as_http_date(server, session, sleep):
    server.fail("status", status=503, retry_after="Wed, 21 Oct 2065 07:28:00 GMT")
    fetcher = Fetcher(session, replace(FAST, max_retry_after_seconds=10**12), sleep=sleep)
    assert await fetcher.get_json(url(server), PARAMS) == []
    assert sleep.waits[0] > 3600  # decades away: honoured, not mistaken for seconds


def test_parse_retry_after_forms():
    now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 60
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_a_retry_after_too_long_gives_up_until_next_cycle(server, session, sleep):
    server.fail("status", status=429, retry_after="86400")
    fetcher = Fetcher(session, replace(FAST, max_retry_after_seconds=600), sleep=sleep)
    with pytest.raises(FetchError, match="next cycle"):
        await fetcher.get(url(server), PARAMS)
    assert len(server.requests) == 1 and sleep.waits == []


async def test_5xx_retried_with_exponential_backoff_and_jitter(server, session, sleep):
    server.fail("status", status=500)
    server.fail("status", status=503)
    server.fail("status", status=502)
    fetcher = Fetcher(session, FAST, sleep=sleep, jitter=lambda: 0.5)  # jitter factor 1.0
    assert await fetcher.get_json(url(server), PARAMS) == []
    assert len(server.requests) == 4
    assert sleep.waits == pytest.approx([0.01, 0.02, 0.04])


def test_backoff_jitter_stays_within_half_and_one_and_a_half():
    low = Fetcher(None, HttpConfig(backoff_base_seconds=2), jitter=lambda: 0.0)  # type: ignore[arg-type]
    high = Fetcher(None, HttpConfig(backoff_base_seconds=2), jitter=lambda: 0.999)  # type: ignore[arg-type]
    assert low.backoff(3, None) == pytest.approx(8)
    assert high.backoff(3, None) == pytest.approx(24, rel=0.01)
    assert low.backoff(0, retry_after=30) == 30
    assert low.backoff(0, None, min_delay=3) == 3


async def test_gives_up_after_max_retries_with_a_clear_reason(server, session, sleep):
    server.fail("status", times=10, status=503)
    fetcher = Fetcher(session, FAST, sleep=sleep)
    with pytest.raises(FetchError) as caught:
        await fetcher.get(url(server), PARAMS)
    assert caught.value.reason == "HTTP 503, gave up after 4 attempts"
    assert caught.value.status == 503
    assert len(server.requests) == 4 and len(sleep.waits) == 3


async def test_other_4xx_is_not_retried(server, session, sleep):
    fetcher = Fetcher(session, FAST, sleep=sleep)
    with pytest.raises(FetchError) as caught:
        await fetcher.get(url(server), {"date": "not-a-date"})  # the fake answers 400 like HF
    assert caught.value.status == 400 and len(server.requests) == 1 and sleep.waits == []
    server.fail("status", status=404)
    with pytest.raises(FetchError, match="HTTP 404"):
        await fetcher.get(url(server), PARAMS)
    assert len(server.requests) == 2


async def test_a_hanging_server_times_out_and_is_retried(server, session, sleep):
    server.fail("hang")
    fetcher = Fetcher(session, HttpConfig(timeout_seconds=0.2, max_retries=2,
                                          backoff_base_seconds=0.01), sleep=sleep)
    assert await fetcher.get_json(url(server), PARAMS) == []
    assert len(server.requests) == 2 and len(sleep.waits) == 1


async def test_a_hanging_server_ends_as_a_timeout_error(server, session, sleep):
    server.fail("hang", times=2)
    fetcher = Fetcher(session, HttpConfig(timeout_seconds=0.1, max_retries=1), sleep=sleep)
    with pytest.raises(FetchError, match=r"timed out after 0.1s, gave up after 2 attempts"):
        await fetcher.get(url(server), PARAMS)


async def test_connection_refused_is_retried_then_reported(session, sleep):
    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fetcher = Fetcher(session, FAST, sleep=sleep)
    with pytest.raises(FetchError, match="connection error"):
        await fetcher.get(f"http://127.0.0.1:{port}/api/daily_papers")
    assert len(sleep.waits) == 3


async def test_a_body_cut_short_is_retried(server, session, sleep):
    server.fail("cut")
    fetcher = Fetcher(session, FAST, sleep=sleep)
    assert await fetcher.get_json(url(server), PARAMS) == []
    assert len(server.requests) == 2


async def test_ten_megabytes_with_content_length_refused_before_reading(server, session, sleep):
    server.fail("big")
    fetcher = Fetcher(session, FAST, sleep=sleep)
    with pytest.raises(BodyTooLarge, match="over the 1000000-byte cap"):
        await fetcher.get(url(server), PARAMS)
    assert len(server.requests) == 1  # not retried: it would be as big again


async def test_ten_megabytes_streamed_stops_at_the_cap(server, session, sleep):
    server.fail("big", chunked=True)
    fetcher = Fetcher(session, FAST, sleep=sleep)
    with pytest.raises(BodyTooLarge, match="stopped reading"):
        await fetcher.get(url(server), PARAMS)
    assert len(server.requests) == 1
    # the session is still usable afterwards
    assert await fetcher.get_json(url(server), PARAMS) == []


async def test_html_instead_of_json_is_a_clear_error(server, session, sleep):
    server.fail("html")
    fetcher = Fetcher(session, FAST, sleep=sleep)
    with pytest.raises(FetchError, match=r"not JSON \(text/html"):
        await fetcher.get_json(url(server), PARAMS)
