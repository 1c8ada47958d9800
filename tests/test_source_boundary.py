"""The source boundary (bot/sources/clean.py) end to end, on SQLite and PostgreSQL: one bad
item never sinks a batch. Hypothesis puts arbitrary JSON values in every field of an HF item
(through the fake HF API, the real poller and pipeline) and arbitrary text (surrogates and
control characters included) in every field of an arXiv Paper (through Pipeline.ingest, the
choke point every source passes); every good item of the batch is stored and alerts."""

from __future__ import annotations

import asyncio
import json
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from io import StringIO
from itertools import count
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.app import App
from bot.config import Config, HFSourceConfig, HttpConfig
from bot.ops.report import queue_report
from bot.sources.clean import MAX_INT
from bot.sources.hf_daily import HFDailySource
from bot.sources.poller import SourcePoller
from bot.types import Paper
from storage import repo
from storage.models import Delivery, PaperRow
from tests.conftest import FakeClock
from tests.fakes.hf_api import FakeHFAPI, hf_item
from tests.helpers import no_sleep

HTTP = HttpConfig(timeout_seconds=2, max_retries=1, backoff_base_seconds=0.01)
TODAY = "2026-11-24"  # FakeClock's day
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.text()
    | st.integers() | st.sampled_from([10**30, -(10**30), 2**31, 2**63, -3, MAX_INT]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8)
PAPER_FIELDS = ["id", "title", "summary", "authors", "upvotes", "publishedAt", "githubRepo",
                "githubStars", "projectPage", "ai_summary", "ai_keywords", "organization",
                "withdrawnAt", "thumbnail"]
ITEM_FIELDS = ["paper", "title", "summary", "publishedAt", "thumbnail", "mediaUrl",
               "organization", "<item>", "<author name>", "<author>"]
TEXT_FIELDS = ["id", "title", "summary", "author", "category", "keyword", "github_url",
               "project_url", "thumbnail_url", "ai_summary", "organization", "source"]


def config(db_url: str) -> Config:
    cfg = Config()
    return replace(cfg, database=replace(cfg.database, url=db_url))


def is_clean(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text) and (
        text == " ".join(text.split()))


def assert_row_clean(row: PaperRow) -> None:
    for text in [row.title, row.summary, row.ai_summary, row.organization or "",
                 *row.authors, *row.categories, *row.keywords]:
        assert is_clean(text), repr(text)
    for link in (row.github_url, row.project_url, row.thumbnail_url):
        assert link is None or (link.startswith(("http://", "https://")) and is_clean(link))
    for number in (row.upvotes, row.github_stars, row.version):
        assert number is None or 0 <= number <= MAX_INT


async def stored(app: App, ids: list[str]) -> dict[str, PaperRow]:
    async with app.sessions() as session:
        return await repo.papers_by_id(session, ids)


def fuzz_hf(item: dict[str, Any], where: str, value: Any) -> Any:
    if where == "<item>":
        return value
    if where == "<author name>":
        item["paper"]["authors"] = [{"name": value}, {"name": "Kept Author"}]
    elif where == "<author>":
        item["paper"]["authors"] = [value]
    elif where.startswith("item."):
        item[where[5:]] = value
    else:
        item["paper"][where] = value
    return item


class World:
    """One app + fake HF + poller kept open across hypothesis examples (one event loop)."""

    def __init__(self, db_url: str) -> None:
        self.runner = asyncio.Runner()
        self.clock = FakeClock()
        self.ids = count(1)
        self.db_url = db_url

    def __enter__(self) -> World:
        self.run(self._open())
        return self

    def __exit__(self, *_exc: object) -> None:
        self.run(self._close())
        self.runner.close()

    def run(self, coro: Any) -> Any:
        return self.runner.run(coro)

    async def _open(self) -> None:
        self.app = await App(config(self.db_url), clock=self.clock).__aenter__()
        self.hf = await FakeHFAPI().__aenter__()
        self.http = aiohttp.ClientSession()
        self.source = HFDailySource(HFSourceConfig(base_url=self.hf.base_url), HTTP,
                                    sleep=no_sleep, backfill_days=1)
        self.poller = SourcePoller([self.source], self.app.pipeline, self.app.sessions,
                                   self.clock, http_session=self.http)
        console = self.app.console(out=StringIO())
        assert "Watching" in await console.push("/watch robotics")
        await self.poller.run_once(self.source)  # the first fetch: stores, alerts nobody

    async def _close(self) -> None:
        await self.http.close()
        await self.hf.__aexit__()
        await self.app.__aexit__()

    def new_ids(self, n: int) -> list[str]:
        return [f"2611.{next(self.ids):05d}" for _ in range(n)]


def test_arbitrary_json_in_any_hf_field_never_fails_the_poll(db_url):
    with World(db_url) as world:

        @SETTINGS
        @given(where=st.sampled_from(PAPER_FIELDS + [f"item.{f}" for f in ITEM_FIELDS[:-3]]
                                     + ITEM_FIELDS[-3:]), value=JSON)
        def example(where: str, value: Any) -> None:
            good_ids = world.new_ids(3)
            (odd_id,) = world.new_ids(1)
            odd = fuzz_hf(hf_item(odd_id, "Robotics, odd one", 1), where, value)
            items = [hf_item(i, f"Robotics {i}", 2) for i in good_ids]
            world.hf.set_day(TODAY, [items[0], odd, *items[1:]])
            world.clock.advance(minutes=31)
            report = world.run(world.poller.run_once(world.source))
            assert report.status == "ok", report.note
            assert report.deliveries >= 3  # the good ones alert: the batch went through
            rows = world.run(stored(world.app, good_ids + [odd_id]))
            assert set(good_ids) <= rows.keys()
            for row in rows.values():
                assert_row_clean(row)

        example()


def test_arbitrary_text_in_any_arxiv_field_never_fails_the_batch(db_url):
    with World(db_url) as world:

        @SETTINGS
        @given(where=st.sampled_from(TEXT_FIELDS), text=st.text(),
               number=st.integers() | st.none())
        def example(where: str, text: str, number: int | None) -> None:
            good_ids = world.new_ids(2)
            (odd_id,) = world.new_ids(1)
            fields: dict[str, Any] = {"id": odd_id, "title": "Robotics odd", "source": "arxiv",
                                      "version": 1}
            listed = {"author": "authors", "category": "categories", "keyword": "keywords"}
            if where in listed:
                fields[listed[where]] = (text, "Kept")
            else:
                fields[where] = text
            odd = replace(Paper(**fields), upvotes=number)  # and an arbitrary integer
            goods = [Paper(id=i, title=f"Robotics {i}", source="arxiv",
                           published=datetime(2026, 11, 24, tzinfo=UTC)) for i in good_ids]
            result = world.run(world.app.pipeline.ingest([goods[0], odd, goods[1]],
                                                         source="arxiv", alert=True))
            assert result.new >= 2 and result.deliveries >= 2
            assert len(result.refused) == (0 if result.new == 3 else 1)
            rows = world.run(stored(world.app, good_ids + [odd_id]))
            assert set(good_ids) <= rows.keys()
            for row in rows.values():
                assert_row_clean(row)

        example()


# --- the regressions of issue 15 ---------------------------------------------------------


async def test_huge_upvotes_and_a_lone_surrogate_do_not_sink_an_hf_poll(app, hf, clock):
    async with aiohttp.ClientSession() as http:
        source = HFDailySource(HFSourceConfig(base_url=hf.base_url), HTTP, sleep=no_sleep)
        poller = SourcePoller([source], app.pipeline, app.sessions, clock, http_session=http)
        console = app.console(out=StringIO())
        await console.push("/watch robotics")
        hf.set_day(TODAY, [hf_item("2611.00001", "Robotics before", 1)])
        await poller.run_once(source)
        clock.advance(minutes=31)
        items = [hf_item(f"2611.0001{n}", f"Robotics {n}", n) for n in range(4)]
        items.insert(1, hf_item("2611.00020", "Robotics huge", 10**30))
        items.insert(3, hf_item("2611.00021", "\ud800Robotics surrogate\u0000\u001b[2J", 5,
                                githubStars=2**40))
        hf.set_day(TODAY, items)
        report = await poller.run_once(source)
    assert report.status == "ok" and report.new == 5 and report.deliveries == 5
    assert "1 bad item skipped" in report.note
    rows = await stored(app, ["2611.00020", "2611.00021"])
    assert list(rows) == ["2611.00021"]
    assert rows["2611.00021"].title == "Robotics surrogate[2J"
    assert rows["2611.00021"].github_stars is None
    await app.flush_deliveries()
    assert len(console.sent) == 1


async def test_ingest_of_five_good_items_and_one_bad_stores_five(app, tmp_path):
    good = [json.dumps({"id": f"2611.0003{n}", "title": f"Good {n}\u0000"}) for n in range(5)]
    bad = json.dumps(hf_item("2611.00040", "Bad", 10**30))
    deep = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "six.jsonl"
    path.write_text("\n".join([*good[:2], bad, *good[2:], deep]))
    out = await app.ingest_file(path)
    assert "5 new" in out
    assert "line 3: upvotes ~10**30 is out of range (id 2611.00040)" in out
    assert "line 7: nested too deeply" in out
    rows = await stored(app, [f"2611.0003{n}" for n in range(5)])
    assert sorted(r.title for r in rows.values()) == [f"Good {n}" for n in range(5)]


async def test_a_list_whose_items_all_lack_paper_is_a_failed_poll(app, hf, clock):
    async with aiohttp.ClientSession() as http:
        source = HFDailySource(HFSourceConfig(base_url=hf.base_url), HTTP, sleep=no_sleep)
        poller = SourcePoller([source], app.pipeline, app.sessions, clock, http_session=http)
        hf.set_day(TODAY, [hf_item("2611.00050", "Fine", 1)])
        assert (await poller.run_once(source)).status == "ok"
        async with app.sessions() as session:
            succeeded = (await repo.get_source_state(session, "hf")).last_success_at
        broken_days = []
        for _ in range(3):  # a format change lasting three days
            clock.advance(days=1)
            broken_days.append(clock().date().isoformat())
            hf.set_day(broken_days[-1], [{"title": f"t{n}"} for n in range(60)])
            report = await poller.run_once(source)
            assert report.status == "error" and "all 50 items refused" in report.note
        async with app.sessions() as session:
            state = await repo.get_source_state(session, "hf")
            assert state.last_success_at == succeeded and state.last_status == "error"
        text = await queue_report(app.sessions, clock)
        assert "  hf: error, last success 72h ago, last try 0s ago" in text
        # fixed again: the missed days are fetched (back-fill from the last success)
        clock.advance(days=1)
        for n, day in enumerate(broken_days):
            hf.set_day(day, [hf_item(f"2611.0007{n}", f"Missed on {day}", 1)])
        hf.requests.clear()
        report = await poller.run_once(source)
        asked = {q["date"] for q in hf.page_requests()}
    assert report.status == "ok" and report.new == 3
    assert {(datetime(2026, 11, 24) + timedelta(days=d)).date().isoformat()
            for d in range(5)} <= asked


async def test_a_server_ignoring_p_with_only_bad_items_is_asked_twice_per_day(hf):
    hf.ignore_paging = True
    hf.set_day(TODAY, [{"paper": {"id": f"2611.{n:05d}"}} for n in range(50)])  # no titles
    async with aiohttp.ClientSession() as http:
        source = HFDailySource(HFSourceConfig(base_url=hf.base_url), HTTP, sleep=no_sleep)
        result = await source.fetch(http, datetime(2026, 11, 24, 12, tzinfo=UTC))
    assert result.status == "error"
    assert len(hf.page_requests(TODAY)) == 1 and len(hf.page_requests()) <= 4


async def test_nul_and_huge_numbers_from_arxiv_are_cleaned_or_refused(app):
    papers = [Paper(id="2611.00060", title="Nul\u0000 in title", summary="a\u0000b",
                    source="arxiv", authors=("A\u0000B",)),
              Paper(id="2611.00061", title="Version too big", version=2**40, source="arxiv"),
              Paper(id="2611.00062", title="Fine", source="arxiv")]
    result = await app.pipeline.ingest(papers, source="arxiv", alert=False)
    assert result.new == 2
    assert result.refused == ("2611.00061: version ~10**12 is out of range",)
    rows = await stored(app, ["2611.00060", "2611.00062"])
    assert (rows["2611.00060"].title, rows["2611.00060"].summary,
            rows["2611.00060"].authors) == ("Nul in title", "ab", ["AB"])
    async with app.sessions() as session:
        assert list(await session.scalars(select(Delivery.paper_id))) == []
