"""The source poller end to end: fake HF and arXiv servers on 127.0.0.1, the real sources,
the real pipeline and a real SQLite file (the `app` fixture), a console chat watching
"federated learning". Proves: no flood on a source's first fetch, only never-seen papers
alert, refreshed upvotes and arXiv replacements never alert, one paper from two sources
alerts once, a source that is down does not stop the other, weekends are not errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

import aiohttp
import pytest
from sqlalchemy import select

from bot.config import ArxivSourceConfig, HFSourceConfig, HttpConfig, SourcesConfig
from bot.ops.report import queue_report
from bot.sources.arxiv import ArxivSource
from bot.sources.base import FetchResult
from bot.sources.hf_daily import HFDailySource
from bot.sources.poller import SourcePoller, build_sources
from bot.types import Paper
from storage import repo
from storage.models import Delivery
from tests.fakes.arxiv_api import FakeArxivAPI, empty_listing, listing_entry, listing_feed
from tests.fakes.hf_api import FakeHFAPI, fixture_items, hf_item
from tests.helpers import no_sleep

HTTP = HttpConfig(timeout_seconds=0.5, max_retries=2, backoff_base_seconds=0.01)
TODAY = "2026-11-24"  # the FakeClock of tests/conftest.py starts at 2026-11-24 12:00 UTC
CATS = "cs.LG"


@pytest.fixture
async def arxiv() -> AsyncIterator[FakeArxivAPI]:
    async with FakeArxivAPI() as fake:
        fake.set_listing(CATS, empty_listing(CATS))
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def hf_source(hf: FakeHFAPI) -> HFDailySource:
    return HFDailySource(HFSourceConfig(base_url=hf.base_url), HTTP, sleep=no_sleep)


@pytest.fixture
def arxiv_source(arxiv: FakeArxivAPI) -> ArxivSource:
    cfg = ArxivSourceConfig(enabled=True, categories=(CATS,), rss_base_url=arxiv.base_url,
                            api_base_url=arxiv.base_url)
    return ArxivSource(cfg, HTTP, sleep=no_sleep)


@pytest.fixture
async def poller(app, clock, http, hf_source, arxiv_source) -> SourcePoller:
    return SourcePoller([hf_source, arxiv_source], app.pipeline, app.sessions, clock,
                        http_session=http)


@pytest.fixture
async def watching(console) -> object:
    assert "Watching" in await console.push("/watch federated learning")
    return console


async def delivered(app) -> list[str]:
    """Paper ids that got a delivery row (an alert), in insertion order."""
    async with app.sessions() as session:
        return list(await session.scalars(select(Delivery.paper_id).order_by(Delivery.id)))


async def state(app, name: str):
    async with app.sessions() as session:
        return await repo.get_source_state(session, name)


async def test_first_fetch_stores_and_alerts_nobody_then_only_new_papers_alert(
        app, poller, hf, hf_source, watching, clock):
    items = fixture_items()
    hf.set_day(TODAY, items[:40])
    first = await poller.run_once(hf_source)
    assert (first.status, first.alerted, first.new, first.deliveries) == ("ok", False, 40, 0)
    assert (await state(app, "hf")).initialized
    await app.flush_deliveries()
    assert watching.sent == [] and await delivered(app) == []

    clock.advance(minutes=30)
    hf.set_day(TODAY, items)  # the list filled up during the day
    second = await poller.run_once(hf_source)
    assert second.alerted and second.new == 30 and second.deliveries > 0
    alerted = await delivered(app)
    later_ids = {item["paper"]["id"] for item in items[40:]}
    assert alerted and set(alerted) <= later_ids
    await app.flush_deliveries()
    assert len(watching.sent) == 1  # the hits of one poll coalesce into one message
    text = watching.sent[0].body.plain()
    assert "Personalized Subgraph Federated Learning" in text
    assert "Tackling Data Heterogeneity in Federated Learning" not in text  # first fetch

    clock.advance(minutes=30)
    third = await poller.run_once(hf_source)  # nothing new: no repeats
    assert (third.new, third.deliveries) == (0, 0)
    assert await delivered(app) == alerted


async def test_upvote_changes_update_without_alerting(app, poller, hf, hf_source, watching,
                                                      clock):
    hf.set_day(TODAY, [hf_item("2611.00001", "Federated learning at the edge", 3)])
    await poller.run_once(hf_source)
    clock.advance(minutes=30)
    hf.set_upvotes("2611.00001", 250)
    report = await poller.run_once(hf_source)
    assert (report.new, report.updated, report.deliveries) == (0, 1, 0)
    async with app.sessions() as session:
        assert (await repo.papers_by_id(session, ["2611.00001"]))["2611.00001"].upvotes == 250
    assert await delivered(app) == []


async def test_a_paper_from_both_sources_alerts_once(app, poller, hf, arxiv, hf_source,
                                                     arxiv_source, watching, clock):
    await poller.run_once(hf_source)  # both sources initialized on empty lists
    await poller.run_once(arxiv_source)
    hf.set_day(TODAY, [hf_item("2611.00010", "Federated learning without servers", 40)])
    arxiv.set_listing(CATS, listing_feed([
        listing_entry("2611.00010", "Federated learning without servers", categories=(CATS,)),
        listing_entry("2611.00011", "Robust federated learning", categories=(CATS,))], CATS))
    clock.advance(minutes=30)
    from_hf = await poller.run_once(hf_source)
    from_arxiv = await poller.run_once(arxiv_source)
    assert (from_hf.new, from_hf.deliveries) == (1, 1)
    assert (from_arxiv.new, from_arxiv.deliveries) == (1, 1)  # only 2611.00011 is new
    hf.set_day(TODAY, [hf_item("2611.00010", "Federated learning without servers", 41),
                       hf_item("2611.00011", "Robust federated learning", 7)])
    clock.advance(minutes=30)
    again = await poller.run_once(hf_source)
    assert (again.new, again.deliveries) == (0, 0)
    assert sorted(await delivered(app)) == ["2611.00010", "2611.00011"]
    async with app.sessions() as session:
        row = (await repo.papers_by_id(session, ["2611.00011"]))["2611.00011"]
    assert row.upvotes == 7 and row.version == 1 and row.categories == [CATS]


async def test_replace_updates_without_alerting(app, poller, arxiv, arxiv_source, watching,
                                                clock):
    arxiv.set_listing(CATS, listing_feed([listing_entry("2611.00020", "A first version",
                                                        categories=(CATS,))], CATS))
    first = await poller.run_once(arxiv_source)
    assert (first.alerted, first.new) == (False, 1)
    arxiv.set_listing(CATS, listing_feed([
        listing_entry("2611.00020", "Federated learning, second version", announce="replace",
                      version=2, categories=(CATS,)),
        listing_entry("2611.00021", "Federated learning we never saw", announce="replace",
                      version=4, categories=(CATS,))], CATS))
    clock.advance(hours=24)
    report = await poller.run_once(arxiv_source)
    assert (report.new, report.updated, report.deliveries) == (0, 1, 0)
    async with app.sessions() as session:
        rows = await repo.papers_by_id(session, ["2611.00020", "2611.00021"])
    assert rows["2611.00020"].version == 2
    assert rows["2611.00020"].title == "Federated learning, second version"
    assert "2611.00021" not in rows  # a replacement never introduces a paper
    assert await delivered(app) == []


async def test_weekend_feed_is_recorded_as_no_announcement_today(app, poller, arxiv_source,
                                                                  console):
    report = await poller.run_once(arxiv_source)
    assert report.status == "empty"
    saved = await state(app, "arxiv")
    assert saved.last_status == "empty" and saved.initialized
    assert saved.last_note.startswith("no announcement today")
    assert saved.last_success_at is not None
    status = await console.push("/status")
    assert ("Source arxiv: last success 2026-11-24 12:00 UTC — no announcement today"
            in status)
    assert "Source hf" not in status  # not polled yet
    sources = (await queue_report(app.sessions, app.clock)).split("Sources", 1)[1]
    assert "  arxiv: empty, last success 0s ago, last try 0s ago — no announcement today" \
        in sources
    assert "  hf:" not in sources


async def test_failed_first_fetch_is_not_the_first_fetch(app, poller, hf, hf_source, watching,
                                                         clock):
    hf.set_day(TODAY, fixture_items()[:10])
    hf.fail("html", match={"date": "2026-11-23"})
    broken = await poller.run_once(hf_source)
    assert broken.status == "error" and not broken.alerted
    saved = await state(app, "hf")
    assert not saved.initialized and saved.last_success_at is None
    assert "answer is not JSON" in saved.last_note
    clock.advance(minutes=30)
    hf.set_day(TODAY, fixture_items()[:20])
    healed = await poller.run_once(hf_source)
    assert healed.status == "ok" and not healed.alerted  # still the first successful fetch
    assert await delivered(app) == []
    assert (await state(app, "hf")).initialized


async def test_one_source_down_the_other_keeps_working(app, poller, hf, arxiv, hf_source,
                                                       arxiv_source, watching):
    hf.fail("status", times=10_000, status=503)
    arxiv.set_listing(CATS, listing_feed([listing_entry("2611.00030", "Federated learning",
                                                        categories=(CATS,))], CATS))
    hf_source.poll_seconds = arxiv_source.poll_seconds = 0.01
    # The polling loop skips a cycle another process ran within its interval, so time must
    # move for it to poll again: a second per look at the clock.
    poller.clock = lambda: app.clock.advance(seconds=1)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    await arxiv.wait_requests(3)
    await hf.wait_requests(9)  # three cycles of three attempts each
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    hf_state, arxiv_state = await state(app, "hf"), await state(app, "arxiv")
    assert hf_state.last_status == "error" and not hf_state.initialized
    assert "HTTP 503, gave up after 3 attempts" in hf_state.last_note
    assert arxiv_state.last_status == "ok" and arxiv_state.initialized
    lines = (await queue_report(app.sessions, app.clock)).splitlines()
    hf_line = next(line for line in lines if line.startswith("  hf: "))
    assert hf_line.startswith("  hf: error, last success never, last try ")
    assert "— 2026-11-24: HTTP 503" in hf_line
    assert any(line.startswith("  arxiv: ok, last success ") for line in lines)


class ExplodingSource:
    name = "broken"
    poll_seconds = 0.01

    async def fetch(self, http_session, now: datetime, *, since=None) -> FetchResult:
        raise RuntimeError("a bug in a source")


async def test_a_source_that_raises_is_recorded_not_fatal(app, clock, http, arxiv_source):
    poller = SourcePoller([ExplodingSource(), arxiv_source], app.pipeline, app.sessions, clock,
                          http_session=http)
    report = await poller.run_once(ExplodingSource())
    assert report.status == "error" and report.note == "RuntimeError: a bug in a source"
    assert (await poller.run_once(arxiv_source)).status == "empty"
    text = await queue_report(app.sessions, clock)
    assert ("  broken: error, last success never, last try 0s ago — RuntimeError: a bug in a "
            "source") in text
    assert "  arxiv: empty, last success 0s ago" in text


async def test_run_once_opens_its_own_http_session_when_given_none(app, clock, hf, hf_source):
    hf.set_day(TODAY, fixture_items()[:3])
    poller = SourcePoller([hf_source], app.pipeline, app.sessions, clock)
    report = await poller.run_once(hf_source)
    assert (report.status, report.new) == ("ok", 3)


def test_build_sources_follows_the_enabled_flags():
    cfg = SourcesConfig()
    assert [s.name for s in build_sources(cfg)] == ["hf"]  # arXiv is off by default
    both = replace(cfg, arxiv=replace(cfg.arxiv, enabled=True, poll_seconds=600))
    built = build_sources(both)
    assert [(s.name, s.poll_seconds) for s in built] == [("hf", 1800.0), ("arxiv", 600.0)]
    assert isinstance(built[1], ArxivSource) and built[1].listing_url == \
        "https://rss.arxiv.org/rss/cs.LG+cs.CL"


class ListingSource:
    """A source that lists the papers it is given (what the sources' parsers might let by)."""

    name = "listing"
    poll_seconds = 60.0

    def __init__(self, papers: tuple[Paper, ...]) -> None:
        self.papers = papers

    async def fetch(self, http_session, now: datetime, *, since=None) -> FetchResult:
        return FetchResult(self.papers, status="ok", note=f"{len(self.papers)} listed")


async def test_papers_refused_at_the_boundary_are_skipped_and_all_refused_is_a_failure(
        app, clock, http):
    mixed = ListingSource((Paper(id="2611.00101", title="Kept\u0000", upvotes=3),
                           Paper(id="2611.00102", title="Huge", upvotes=10**30)))
    poller = SourcePoller([mixed], app.pipeline, app.sessions, clock, http_session=http)
    report = await poller.run_once(mixed)
    assert (report.status, report.new) == ("ok", 1)
    assert report.note == "2 listed; 1 refused at storing"
    async with app.sessions() as session:
        succeeded = (await repo.get_source_state(session, "listing")).last_success_at
    clock.advance(minutes=5)
    broken = ListingSource((Paper(id="2611.00103", title="\u001b\u0007"),
                            Paper(id="not an id", title="T")))
    report = await poller.run_once(broken)
    assert report.status == "error"
    assert report.note == "all 2 papers refused (first: 2611.00103: missing title)"
    async with app.sessions() as session:
        assert (await repo.get_source_state(session, "listing")).last_success_at == succeeded
