"""Issue 15, the source-boundary proof for arXiv at the wire: arbitrary text (controls,
lone surrogates written as invalid UTF-8, markup characters, long runs) in any field of
one entry of a real-shaped listing feed, served by the fake arXiv on 127.0.0.1 and read by
the real ArxivSource (feedparser), SourcePoller and pipeline, on SQLite and PostgreSQL:
the poll never fails, every good entry of the feed is stored intact (accents included) and
alerts, and every stored text is clean."""

from __future__ import annotations

import asyncio
import unicodedata
from dataclasses import replace
from html import escape
from io import StringIO
from itertools import count
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import App
from bot.config import ArxivSourceConfig, Config, HttpConfig
from bot.sources.arxiv import ArxivSource
from bot.sources.clean import MAX_INT
from bot.sources.poller import SourcePoller
from storage import repo
from storage.models import PaperRow
from tests.conftest import FakeClock
from tests.fakes.arxiv_api import FakeArxivAPI, listing_entry, listing_feed
from tests.helpers import no_sleep

HTTP = HttpConfig(timeout_seconds=5, max_retries=0)
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
FIELDS = ["title", "abstract", "authors", "category", "announce", "published", "version"]
TEXT = st.text(max_size=60) | st.sampled_from([
    "\u0000\u001b[2J\u0007\u0008", "\ud800 lone", "\u009b31m", "</title><x>", "&amp;&bogus;",
    "]]>", "a" * 5000, "\ufeff\u200b", "$\\alpha$ {x}", "Alice (MIT), Bob (ETH"])


def is_clean(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text) and (
        text == " ".join(text.split()))


def odd_entry(arxiv_id: str, where: str, text: str) -> bytes:
    """One listing entry with `text` in one field, as raw bytes (invalid UTF-8 included)."""
    fields: dict[str, Any] = {"title": "Robotics odd one"}
    if where == "title":
        fields["title"] = text
    elif where == "abstract":
        fields["abstract"] = text
    elif where == "authors":
        fields["authors"] = text
    elif where == "category":
        fields["categories"] = (text, "cs.RO")
    entry = listing_entry(arxiv_id, **fields)
    if where == "announce":
        entry = entry.replace("Announce Type: new", f"Announce Type: {escape(text)}").replace(
            "<arxiv:announce_type>new<", f"<arxiv:announce_type>{escape(text)}<")
    elif where == "published":
        entry = entry.replace("2025-08-20T00:00:00-04:00", escape(text))
    elif where == "version":
        entry = entry.replace(f"{arxiv_id}v1", f"{arxiv_id}v{escape(text)}")
    # text went through escape() but may hold characters XML forbids: as sent, bytes
    return entry.encode("utf-8", errors="surrogatepass")


class World:
    """One app, fake arXiv and poller across hypothesis examples (one event loop)."""

    def __init__(self, db_url: str) -> None:
        self.runner = asyncio.Runner()
        self.clock = FakeClock()
        self.ids = count(1)
        self.db_url = db_url

    def __enter__(self) -> World:
        self.runner.run(self._open())
        return self

    def __exit__(self, *_exc: object) -> None:
        self.runner.run(self._close())
        self.runner.close()

    async def _open(self) -> None:
        cfg = Config()
        cfg = replace(cfg, database=replace(cfg.database, url=self.db_url))
        self.app = await App(cfg, clock=self.clock).__aenter__()
        self.arxiv = await FakeArxivAPI().__aenter__()
        self.http = aiohttp.ClientSession()
        self.source = ArxivSource(
            ArxivSourceConfig(enabled=True, categories=("cs.RO",),
                              rss_base_url=self.arxiv.base_url, api_base_url=self.arxiv.base_url),
            HTTP, sleep=no_sleep, backfill_days=0)
        self.poller = SourcePoller([self.source], self.app.pipeline, self.app.sessions,
                                   self.clock, http_session=self.http)
        self.console = self.app.console(out=StringIO())
        assert "Watching" in await self.console.push("/watch robotics")
        self.arxiv.set_listing("cs.RO", listing_feed([listing_entry("2508.00001", "Seed")],
                                                     "cs.RO"))
        await self.poller.run_once(self.source)  # the first fetch: stored, alerts nobody

    async def _close(self) -> None:
        await self.http.close()
        await self.arxiv.__aexit__()
        await self.app.__aexit__()

    def new_ids(self, n: int) -> list[str]:
        return [f"2508.{next(self.ids) + 10000:05d}" for _ in range(n)]

    async def poll(self, body: bytes) -> Any:
        self.arxiv.set_listing("cs.RO", body)
        self.clock.advance(minutes=31)
        return await self.poller.run_once(self.source)

    async def rows(self, ids: list[str]) -> dict[str, PaperRow]:
        async with self.app.sessions() as session:
            return await repo.papers_by_id(session, ids)


def test_arbitrary_text_in_any_field_of_a_feed_entry_never_fails_the_poll(db_url):
    with World(db_url) as world:

        @SETTINGS
        @given(where=st.sampled_from(FIELDS), text=TEXT)
        def example(where: str, text: str) -> None:
            good = world.new_ids(2)
            (odd,) = world.new_ids(1)
            entries = [listing_entry(good[0], f"Robotics à la carte {good[0]}",
                                     authors="Jürgen Müller, Li Wei").encode(),
                       odd_entry(odd, where, text),
                       listing_entry(good[1], f"Robotics {good[1]}").encode()]
            feed = listing_feed([], "cs.RO")
            head, tail = feed.rsplit(b"</feed>", 1)
            report = world.runner.run(world.poll(head + b"".join(entries) + b"</feed>" + tail))
            assert report.status == "ok", report.note
            rows = world.runner.run(world.rows([*good, odd]))
            assert set(good) <= rows.keys(), (report.note, sorted(rows))
            assert report.deliveries >= 2  # the good entries alerted: the batch went through
            kept = rows[good[0]]  # intact, whatever the odd entry did to the feed
            assert (kept.title, kept.authors) == (f"Robotics à la carte {good[0]}",
                                                  ["Jürgen Müller", "Li Wei"])
            for row in rows.values():
                for value in (row.title, row.summary, *row.authors, *row.categories):
                    assert is_clean(value), repr(value)
                assert row.version is None or 0 <= row.version <= MAX_INT

        example()
