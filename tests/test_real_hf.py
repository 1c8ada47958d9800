"""Real Hugging Face captures (tests/data/real_hf/, copies of ../shared/data/real/) read by
BOTH paths: the poller (HFDailySource against the fake HF API serving the file's items) and
`load_papers` (the file as `paperwatch ingest` gets it). For every file: the number of
papers is the number of items counted here minus the unusable ones (counted here too), each
field equals the raw value after the documented normalization (trim + whitespace folding),
computed here straight from the JSON, and both paths give identical Papers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import HFSourceConfig, HttpConfig
from bot.sources.hf_daily import HFDailySource
from bot.sources.paper_file import load_papers
from bot.types import Paper
from tests.fakes.hf_api import FakeHFAPI
from tests.helpers import no_sleep

REAL = Path(__file__).resolve().parent / "data" / "real_hf"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DAYS = sorted(REAL.glob("hf_daily_papers_*.json"))
HTTP = HttpConfig(timeout_seconds=2, max_retries=1, backoff_base_seconds=0.01)


def fold(text: str | None) -> str:
    return " ".join((text or "").split())


def raw_items(path: Path) -> list[Any]:
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return json.loads(path.read_text())


def usable(item: Any) -> bool:
    paper = item.get("paper") if isinstance(item, dict) else None
    return (isinstance(paper, dict) and bool(paper.get("id")) and not paper.get("withdrawnAt")
            and bool(fold(paper.get("title") or item.get("title"))))


def expected(item: dict[str, Any]) -> Paper:
    """The Paper the documented rules give for one raw item, written out field by field."""
    paper = item["paper"]
    org = paper.get("organization") or item.get("organization")
    stripped = {k: paper[k].strip() if isinstance(paper.get(k), str) else None
                for k in ("githubRepo", "projectPage")}
    return Paper(
        id=paper["id"], version=None, source="hf",
        title=fold(paper.get("title") or item.get("title")),
        summary=fold(paper.get("summary") or item.get("summary")),
        authors=tuple(fold(a["name"]) for a in paper["authors"]),  # hidden ones too
        categories=(),
        keywords=tuple(dict.fromkeys(fold(k) for k in paper.get("ai_keywords") or ())),
        published=datetime.fromisoformat(paper["publishedAt"].replace("Z", "+00:00")),
        upvotes=paper["upvotes"],
        github_url=stripped["githubRepo"] or None,
        github_stars=paper.get("githubStars"),
        project_url=stripped["projectPage"] or None,
        thumbnail_url=item.get("thumbnail") or item.get("mediaUrl"),
        ai_summary=fold(paper.get("ai_summary")),
        organization=org["fullname"] if org else None,
    )


def day_of(path: Path) -> date:
    return date.fromisoformat(path.stem.rsplit("_", 1)[1])


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def poll(hf: FakeHFAPI, http: aiohttp.ClientSession, day: date, items: list[Any]):
    hf.set_day(day.isoformat(), items)
    now = datetime.combine(day, time(12), tzinfo=UTC)
    source = HFDailySource(HFSourceConfig(base_url=hf.base_url, page_limit=10), HTTP,
                           sleep=no_sleep)
    return await source.fetch(http, now)


def test_the_copies_are_the_shared_captures_byte_for_byte():
    if not SHARED.is_dir():
        pytest.skip("../shared is not here")
    assert len(DAYS) == 4
    for path in [*DAYS, REAL / "daily_papers_page.jsonl"]:
        original = SHARED / "real" / path.name
        original = original if original.exists() else SHARED / path.name
        assert path.read_bytes() == original.read_bytes(), path.name


@pytest.mark.parametrize("path", DAYS, ids=lambda p: p.stem)
async def test_every_item_of_every_real_day_through_both_paths(path, hf, http):
    items = raw_items(path)
    good = [item for item in items if usable(item)]
    assert len(items) in (15, 25, 12) and len(good) == len(items)  # the README's counts
    want = {item["paper"]["id"]: expected(item) for item in good}

    loaded = load_papers(path)
    assert loaded.errors == [] and len(loaded.papers) == len(good)
    polled = await poll(hf, http, day_of(path), items)
    assert polled.status == "ok" and polled.skipped == 0 and len(polled.papers) == len(good)

    for papers in (loaded.papers, polled.papers):
        got = {p.id: p for p in papers}
        assert got.keys() == want.keys()
        for paper_id, paper in got.items():
            assert paper == want[paper_id], paper_id
    assert sorted(loaded.papers, key=lambda p: p.id) == sorted(polled.papers,
                                                               key=lambda p: p.id)


async def test_the_field_cases_named_in_issue_11(hf, http):
    by_id = {p.id: p for path in DAYS for p in load_papers(path).papers}
    assert by_id["2503.11646"].project_url == "https://sites.google.com/view/adc-robot"
    assert by_id["2405.17247"].thumbnail_url == (  # the oldest shape: mediaUrl
        "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2405.17247.png")
    assert "Zhanchao Zhou" in by_id["2410.17897"].authors  # "hidden": true, still an author
    zetta = by_id["2608.16590"]
    assert zetta.title.startswith("Zetta ζ:") and zetta.github_stars == 152
    assert zetta.ai_summary.startswith("Zetta is a closed-loop embodied harness")
    newest = [p for p in load_papers(DAYS[-1]).papers]
    assert sum(p.organization is not None for p in newest) == 9
    assert "University of California at San Diego" in {p.organization for p in newest}
    assert all(p.ai_summary for p in newest)
    assert sum(p.github_stars is not None for p in newest) == 8


async def test_the_captured_page_without_ids_is_refused_whole_on_both_paths(hf, http):
    path = REAL / "daily_papers_page.jsonl"
    items = raw_items(path)
    assert len(items) == 70 and not any(usable(item) for item in items)

    loaded = load_papers(path)
    assert loaded.papers == [] and len(loaded.errors) == 70
    assert all(e.startswith("line ") and "missing id" in e for e in loaded.errors)

    polled = await poll(hf, http, date(2025, 8, 20), items)
    assert polled.status == "error" and polled.papers == ()
    # paging stopped at the first page (10 items): nothing new on it
    assert polled.note == "2025-08-20: all 10 items refused (first: item#0: no paper object)"
    assert len(hf.page_requests()) == 2  # that page, and the same for yesterday (nothing there)


async def test_mixed_with_bad_items_the_real_papers_all_come_through(hf, http):
    path = DAYS[-1]
    items = raw_items(path)
    withdrawn = json.loads(json.dumps(items[0]))
    withdrawn["paper"].update(id="2608.99999", withdrawnAt="2026-08-21T00:00:00.000Z",
                              upvotes=-3)
    mixed = [*items[:5], withdrawn, *items[5:], {"title": "no paper"}]
    polled = await poll(hf, http, day_of(path), mixed)
    assert polled.status == "ok" and polled.skipped == 2
    assert {p.id for p in polled.papers} == {i["paper"]["id"] for i in items}
    assert timedelta(0) == polled.papers[0].published.utcoffset()
