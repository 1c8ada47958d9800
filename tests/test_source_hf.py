"""The Hugging Face Daily Papers source with the real aiohttp client against a fake HF API on
127.0.0.1: paging, item -> Paper, bad items skipped with the good kept, failures reported.

The list fixture (tests/data/hf_daily_papers_2025-08-20.json) is synthetic around real text:
70 real titles and abstracts with made-up ids, authors, upvotes and links."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot.config import HFSourceConfig, HttpConfig
from bot.sources.hf_daily import HFDailySource, fetch_day, fetch_trending, paper_from_item
from bot.sources.http import Fetcher, FetchError
from bot.sources.paper_file import ItemError
from tests.fakes.hf_api import FakeHFAPI, fixture_items, hf_item
from tests.helpers import no_sleep

HTTP = HttpConfig(timeout_seconds=0.3, max_retries=2, max_body_bytes=2_000_000,
                  backoff_base_seconds=0.01)
NOW = datetime(2025, 8, 20, 15, 0, tzinfo=UTC)
TODAY, YESTERDAY = "2025-08-20", "2025-08-19"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def source(hf: FakeHFAPI, **cfg: object) -> HFDailySource:
    return HFDailySource(HFSourceConfig(base_url=hf.base_url, **cfg), HTTP,  # type: ignore[arg-type]
                         sleep=no_sleep)


# --- items -> papers --------------------------------------------------------------------


def test_a_full_item_keeps_every_field():
    item = fixture_items()[0]
    paper = paper_from_item(item)
    assert paper.id == "2508.13500" and paper.version is None and paper.source == "hf"
    assert paper.title.startswith("FlowTransformer: A Transformer Framework")
    assert paper.summary.startswith("This paper presents the FlowTransformer framework")
    assert paper.authors == tuple(a["name"] for a in item["paper"]["authors"])
    assert paper.upvotes == item["paper"]["upvotes"]
    assert paper.keywords == tuple(item["paper"]["ai_keywords"])
    assert paper.github_url == "https://github.com/example-lab/2508-13500"
    assert paper.project_url == "https://example-lab.github.io/2508.13500"
    assert paper.thumbnail_url and paper.thumbnail_url.endswith("2508.13500.png")
    assert paper.published is not None and paper.published.tzinfo is not None
    assert paper.published.utcoffset() == timedelta(0)
    assert paper.url == "https://huggingface.co/papers/2508.13500"


def test_missing_or_null_optional_fields_are_fine():
    papers = [paper_from_item(item) for item in fixture_items()]
    assert len(papers) == 70
    bare = papers[1]  # githubRepo and projectPage are null
    assert bare.github_url is None and bare.project_url is None
    assert papers[2].keywords == ()  # ai_keywords null
    assert papers[3].thumbnail_url is None and papers[3].keywords == ()  # fields missing
    minimal = paper_from_item({"paper": {"id": "2508.00001", "title": "T"}})
    assert minimal.upvotes is None and minimal.published is None and minimal.authors == ()


def test_malformed_decorations_are_dropped_not_fatal():
    item = hf_item("2508.00002", "Decorated", 3, ai_keywords="not a list",
                   githubRepo=12, projectPage="javascript:alert(1)")
    item["thumbnail"] = {"url": "x"}
    paper = paper_from_item(item)
    assert (paper.keywords, paper.github_url, paper.project_url, paper.thumbnail_url) == (
        (), None, None, None)


@pytest.mark.parametrize(("item", "why"), [
    ("just a string", "not an object"),
    ({"title": "no paper object"}, "no paper object"),
    ({"paper": {"title": "No id"}}, "missing id"),
    ({"paper": {"id": 2508.13426, "title": "Numeric id"}}, "missing id"),
    ({"paper": {"id": "<script>", "title": "Bad id"}}, "not an arXiv id"),
    ({"paper": {"id": "2508.00003", "title": 42}}, "title is int"),
    ({"paper": {"id": "2508.00003"}}, "missing title"),
    ({"paper": {"id": "2508.00003", "title": "T", "authors": "Jane Doe"}}, "authors is str"),
    ({"paper": {"id": "2508.00003", "title": "T", "upvotes": "12"}}, "not a count"),
    ({"paper": {"id": "2508.00003", "title": "T", "upvotes": -5}}, "not a count"),
    ({"paper": {"id": "2508.00003", "title": "T", "publishedAt": "9999-12-31T00:00:00Z"}},
     "out of range"),
    ({"paper": {"id": "2508.00003", "title": "T", "publishedAt": "0001-01-01T00:00:00Z"}},
     "out of range"),
    ({"paper": {"id": "2508.00003", "title": "T", "publishedAt": "2026-6-30"}}, "not an ISO date"),
    ({"paper": {"id": "2508.00003", "title": "T", "publishedAt": 1755600000}}, "not a string"),
    ({"paper": {"id": "2508.00003", "title": "T", "withdrawnAt": "2025-08-21T00:00:00Z"}},
     "withdrawn"),
])
def test_bad_items_are_refused_with_a_reason(item, why):
    with pytest.raises(ItemError, match=why):
        paper_from_item(item)


def test_a_date_days_ahead_of_now_is_absurd():
    item = hf_item("2508.00004", "Tomorrow's news", publishedAt="2025-08-25T00:00:00Z")
    assert paper_from_item(item).published is not None  # no clock given: only range checks
    with pytest.raises(ItemError, match="in the future"):
        paper_from_item(item, now=NOW)
    assert paper_from_item(hf_item("2508.00005", "Late today", publishedAt="2025-08-21T23:00:00Z"),
                           now=NOW).published  # within the slack of time zones


# --- fetching -----------------------------------------------------------------------------


async def test_pages_until_an_empty_page(hf, session):
    hf.set_day(TODAY, fixture_items())
    papers, skipped = await fetch_day(Fetcher(session, HTTP), HFSourceConfig(base_url=hf.base_url),
                                      date(2025, 8, 20))
    assert len(papers) == 70 and skipped == 0
    assert [(q["p"], q["limit"], q["date"]) for q in hf.page_requests()] == [
        ("0", "50", TODAY), ("1", "50", TODAY), ("2", "50", TODAY)]


async def test_poll_covers_today_and_yesterday_utc(hf, session):
    hf.set_day(TODAY, fixture_items()[:30])
    hf.set_day(YESTERDAY, fixture_items()[30:])
    # 00:00 in Tokyo on the 21st is still the 20th in UTC
    tokyo = NOW.astimezone(ZoneInfo("Asia/Tokyo"))
    result = await source(hf).fetch(session, tokyo)
    assert result.status == "ok" and len(result.papers) == 70
    assert {q["date"] for q in hf.page_requests()} == {TODAY, YESTERDAY}
    assert result.note == "2025-08-20: 30 papers, 2025-08-19: 40 papers"
    assert all(p.published and p.published.tzinfo for p in result.papers)


async def test_bad_items_skipped_and_logged_good_items_kept(hf, session, caplog):
    items = fixture_items()[:5]
    items.insert(1, {"paper": {"title": "No id here"}})
    items.insert(3, {"paper": {"id": "2508.99999", "title": "T", "upvotes": "many"}})
    items.insert(4, ["not", "an", "object"])
    items.append({"paper": {"id": "2508.99998", "title": "Time traveller",
                            "publishedAt": "3024-01-01T00:00:00Z"}})
    items.append(hf_item("2508.99997", "Next month", publishedAt="2025-09-20T00:00:00Z"))
    hf.set_day(TODAY, items)
    with caplog.at_level(logging.WARNING, logger="bot.sources.hf_daily"):
        result = await source(hf).fetch(session, NOW)
    assert result.status == "ok"
    assert [p.id for p in result.papers] == [f"2508.{13500 + i}" for i in range(5)]
    assert result.skipped == 5 and "5 bad items skipped" in result.note
    logged = [r.getMessage() for r in caplog.records]
    assert any("source=hf id=2508.99999 skipped: upvotes 'many'" in m for m in logged)
    assert any("source=hf id=2508.99998 skipped" in m and "out of range" in m for m in logged)
    assert any("source=hf id=item#1 skipped: missing id" in m for m in logged)
    assert any("source=hf id=2508.99997 skipped: date 2025-09-20 is in the future" in m
               for m in logged)
    assert any("source=hf id=item#4 skipped: item is list" in m for m in logged)


async def test_empty_days_are_not_an_error(hf, session):
    result = await source(hf).fetch(session, NOW)
    assert result.status == "empty" and result.papers == ()
    assert result.note.startswith("no papers listed yet")


async def test_html_for_one_day_keeps_the_other_days_papers(hf, session):
    hf.set_day(TODAY, fixture_items()[:3])
    hf.set_day(YESTERDAY, fixture_items()[3:6])
    hf.fail("html", times=5, match={"date": YESTERDAY})
    result = await source(hf).fetch(session, NOW)
    assert result.status == "error"
    assert len(result.papers) == 3
    assert "2025-08-19: answer is not JSON (text/html" in result.note


@pytest.mark.parametrize("body", ['{"error": "Invalid"}', "42", '"text"', "[1, 2", ""])
async def test_a_page_that_is_not_a_list_is_an_error_not_a_crash(hf, session, body):
    hf.fail("raw", body=body, match={"date": TODAY})
    result = await source(hf).fetch(session, NOW)
    assert result.status == "error" and "2025-08-20:" in result.note


async def test_ten_megabyte_page_is_refused(hf, session):
    hf.fail("big", chunked=True, match={"date": TODAY})
    result = await source(hf).fetch(session, NOW)
    assert result.status == "error" and "byte cap" in result.note


async def test_rate_limit_then_success(hf, session):
    hf.set_day(TODAY, fixture_items()[:2])
    hf.fail("status", status=429, retry_after="1", match={"date": TODAY})
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    src = HFDailySource(HFSourceConfig(base_url=hf.base_url), HTTP, sleep=sleep)
    result = await src.fetch(session, NOW)
    assert result.status == "ok" and len(result.papers) == 2 and waits and waits[0] >= 1


async def test_a_source_that_stays_down_is_an_error_result(hf, session):
    hf.fail("status", times=20, status=503)
    result = await source(hf).fetch(session, NOW)
    assert result.status == "error"
    assert "HTTP 503, gave up after 3 attempts" in result.note


async def test_a_hanging_server_is_an_error_result(hf, session):
    hf.fail("hang", times=3, match={"date": TODAY})
    hf.set_day(YESTERDAY, fixture_items()[:1])
    result = await source(hf).fetch(session, NOW)
    assert result.status == "error" and "timed out" in result.note and len(result.papers) == 1


async def test_a_server_that_ignores_paging_does_not_loop(hf, session):
    hf.set_day(TODAY, fixture_items()[:10])
    hf.ignore_paging = True
    papers, _ = await fetch_day(Fetcher(session, HTTP), HFSourceConfig(base_url=hf.base_url),
                                date(2025, 8, 20))
    assert len(papers) == 10 and len(hf.page_requests()) == 2


async def test_trending_is_sorted_by_upvotes(hf, session):
    hf.set_day(TODAY, [hf_item("2508.00001", "Low", 3), hf_item("2508.00002", "High", 90),
                       hf_item("2508.00003", "None", None), hf_item("2508.00004", "Mid", 12)])
    cfg = HFSourceConfig(base_url=hf.base_url, page_limit=2)
    papers = await fetch_trending(session, cfg, date(2025, 8, 20), http=HTTP)
    assert [p.title for p in papers] == ["High", "Mid", "Low", "None"]
    assert all(q["sort"] == "trending" for q in hf.page_requests())


async def test_trending_raises_when_hf_is_down(hf, session):
    hf.fail("status", times=5, status=500)
    with pytest.raises(FetchError):
        await fetch_trending(session, HFSourceConfig(base_url=hf.base_url), date(2025, 8, 20),
                             http=HTTP, sleep=no_sleep)


def test_days_missed_since_the_last_success_are_polled_up_to_a_week():
    src = HFDailySource(HFSourceConfig())
    assert src.days_to_poll(NOW, None) == [date(2025, 8, 20), date(2025, 8, 19)]
    assert src.days_to_poll(NOW, NOW - timedelta(hours=1)) == [date(2025, 8, 20),
                                                              date(2025, 8, 19)]
    three_days = src.days_to_poll(NOW, NOW - timedelta(days=3))
    assert three_days[-1] == date(2025, 8, 17) and len(three_days) == 4
    assert len(src.days_to_poll(NOW, NOW - timedelta(days=60))) == 8


async def test_mirror_base_url_with_trailing_slash(hf, session):
    hf.set_day(TODAY, fixture_items()[:1])
    src = HFDailySource(HFSourceConfig(base_url=hf.base_url + "/"), HTTP, sleep=no_sleep)
    result = await src.fetch(session, NOW)
    assert result.status == "ok" and hf.paths()[0] == "/api/daily_papers"


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b"[" + b"1" * 5000 + b"]"])
async def test_json_nested_too_deeply_or_with_a_huge_number_is_an_error_not_a_crash(
        hf, session, body):
    hf.set_day(YESTERDAY, fixture_items()[:3])
    hf.fail("raw", body=body, match={"date": TODAY})
    result = await source(hf).fetch(session, NOW)
    assert result.status == "error" and "unusable JSON" in result.note
    assert len(result.papers) == 3  # the other day is kept


async def test_a_page_of_only_bad_items_stops_paging(hf, session):
    hf.set_day(TODAY, [{"paper": {"id": f"2508.{n:05d}"}} for n in range(120)])  # no titles
    result = await source(hf).fetch(session, NOW)
    assert result.status == "error" and "all 50 items refused" in result.note
    assert len(hf.page_requests(TODAY)) == 1  # not 3 pages, nor 40 for a server ignoring p


def test_values_are_trimmed_and_every_shape_field_is_read():
    item = hf_item("2508.00010", " Title ", 3, projectPage=" https://p.example/x ",
                   githubRepo="https://github.com/a/b\n", githubStars=12,
                   ai_summary=" One line. ", organization={"name": "acme", "fullname": "Acme"})
    item["mediaUrl"] = "https://cdn.example/old.png"
    paper = paper_from_item(item)
    assert (paper.title, paper.project_url, paper.github_url, paper.github_stars) == (
        "Title", "https://p.example/x", "https://github.com/a/b", 12)
    assert (paper.ai_summary, paper.organization, paper.thumbnail_url) == (
        "One line.", "Acme", "https://cdn.example/old.png")
    item["organization"] = {"name": "handle-only"}
    del item["paper"]["organization"]
    assert paper_from_item(item).organization == "handle-only"
