"""Issue 16, proof 2, through the real pipeline: follow-ups from source refreshes.

The real Hugging Face poller reads HF-shaped lists from the fake HF API; alerts and
follow-ups go out through the real Telegram adapter (python-telegram-bot) to the fake Bot
API. Ann and Bob watch "protein folding", Carol watches "graph": Ann and Bob are alerted
about paper A, Carol about paper C.

- day 2's fetch gives A a `githubRepo`: exactly one "code" follow-up each for Ann and Bob,
  none for Carol (C gains a repository too, but Carol was never alerted about A, and C's
  own follow-up goes to Carol only); it rides in one message with day 2's new paper D;
- A's upvotes cross `followups.upvotes` (50): one more each;
- a later refresh (more upvotes and stars): none;
- a new arXiv version of a paper with a changed title (or abstract): exactly one follow-up,
  whose text says what changed;
- `/followups off` and `/followups KIND off` are honoured when the pipeline queues them, and
  GitHub stars crossing `followups.stars` (100) is one "code" follow-up (HF-shaped files
  through `paperwatch ingest`'s reader).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import select

from bot.config import HFSourceConfig, HttpConfig
from bot.sources.hf_daily import HFDailySource
from bot.sources.poller import SourcePoller
from bot.types import ChatRef, Incoming, Paper
from storage.models import Chat, Delivery
from tests.fakes.hf_api import FakeHFAPI, hf_item
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.helpers import no_sleep, telegram_sender

WAIT = 10.0
HTTP = HttpConfig(timeout_seconds=5, max_retries=0)
DAY1 = "2026-11-24"  # the FakeClock's first day
A, C, D, SEED = "2611.10001", "2611.10003", "2611.10004", "2611.10000"
ANN, BOB, CAROL = (ChatRef("telegram", str(n), "user") for n in (7101, 7102, 7103))
REPO = "https://github.com/fold/fast"


@pytest.fixture
async def telegram(app) -> AsyncIterator[FakeTelegramAPI]:
    """Deliveries go through the real python-telegram-bot to the fake Bot API."""
    async with FakeTelegramAPI() as fake, telegram_sender(app, fake, WAIT):
        yield fake


async def say(app, chat: ChatRef, text: str) -> None:
    reply = await app.commands.dispatch(Incoming(chat, text))
    assert reply.ok, reply.body.plain()


async def follow_up_rows(app) -> list[tuple[str, str, str]]:
    """(chat id on the platform, paper, kind) of every follow-up delivery."""
    async with app.sessions() as session:
        rows = (await session.execute(
            select(Chat.external_id, Delivery.paper_id, Delivery.kind)
            .join(Chat, Chat.id == Delivery.chat_id).where(Delivery.kind != "alert"))).all()
    return sorted((str(a), b, c) for a, b, c in rows)


def texts(fake: FakeTelegramAPI, chat: ChatRef) -> list[str]:
    return [s.plain for s in fake.accepted(int(chat.external_id))]


async def test_code_then_trending_then_nothing_one_follow_up_per_alerted_person(
        app, clock, hf: FakeHFAPI, telegram: FakeTelegramAPI):
    for who, query in ((ANN, "protein folding"), (BOB, "protein folding"), (CAROL, "graph")):
        await say(app, who, f"/watch {query}")
    async with aiohttp.ClientSession() as http:
        source = HFDailySource(HFSourceConfig(base_url=hf.base_url), HTTP, sleep=no_sleep)
        poller = SourcePoller([source], app.pipeline, app.sessions, clock, http_session=http)

        async def poll() -> None:
            report = await poller.run_once(source)
            assert report.status == "ok", report.note
            await app.flush_deliveries()

        hf.set_day(DAY1, [hf_item(SEED, "Seed paper", 1)])
        await poll()  # the source's first fetch: stored, nobody alerted
        hf.set_day(DAY1, [hf_item(SEED, "Seed paper", 1),
                          hf_item(A, "Protein folding at scale", 3),
                          hf_item(C, "A graph of everything", 4)])
        await poll()  # day 1: A and C are new, without a repository
        assert [len(texts(telegram, who)) for who in (ANN, BOB, CAROL)] == [1, 1, 1]
        assert "Protein folding at scale" in texts(telegram, ANN)[0]
        assert await follow_up_rows(app) == []

        clock.advance(days=1)  # day 2: yesterday's list is read again, A now has code
        for item in hf.days[DAY1]:
            if item["paper"]["id"] in (A, C):
                item["paper"].update(githubRepo=REPO, githubStars=12)
        # day 2's own list brings a new matching paper D: alert and update in one message
        hf.set_day(clock().date().isoformat(), [hf_item(D, "Protein folding, the sequel", 1)])
        await poll()
        code = [(ANN.external_id, A, "code"), (BOB.external_id, A, "code"),
                (CAROL.external_id, C, "code")]
        assert await follow_up_rows(app) == sorted(code)
        for who in (ANN, BOB):
            assert len(texts(telegram, who)) == 2
            second = texts(telegram, who)[1]
            assert second.startswith("🔔 1 new paper, 1 update")
            assert "Protein folding, the sequel" in second
            assert "↻ Protein folding at scale — now has code: github.com/fold/fast ★ 12" in second
        assert "Protein folding" not in "".join(texts(telegram, CAROL))

        hf.set_upvotes(A, 73)  # crosses followups.upvotes (50)
        await poll()
        trending = [(ANN.external_id, A, "trending"), (BOB.external_id, A, "trending")]
        assert await follow_up_rows(app) == sorted(code + trending)
        for who in (ANN, BOB):
            assert len(texts(telegram, who)) == 3
            assert "↑ Protein folding at scale — trending: 73 upvotes" in texts(telegram, who)[2]

        hf.set_upvotes(A, 95)  # a later refresh: more upvotes and stars, nothing crossed
        for item in hf.days[DAY1]:
            if item["paper"]["id"] == A:
                item["paper"]["githubStars"] = 40
        await poll()
        assert await follow_up_rows(app) == sorted(code + trending)
    assert [len(texts(telegram, who)) for who in (ANN, BOB, CAROL)] == [3, 3, 2]


def arxiv(pid: str, title: str, summary: str, version: int) -> Paper:
    return Paper(id=pid, title=title, summary=summary, version=version, source="arxiv",
                 authors=("Ada Lovelace",), categories=("cs.LG",),
                 published=datetime(2026, 11, 24, tzinfo=UTC))


@pytest.mark.parametrize(("title", "summary", "says"), [
    ("Protein folding, revisited", "We fold proteins.", "new version v2: title changed"),
    ("Protein folding", "We fold proteins faster.", "new version v2: abstract changed"),
    ("Protein folding, again", "We fold more.", "new version v2: title and abstract changed"),
])
async def test_a_new_arxiv_version_says_what_changed_once(app, clock, telegram, title,
                                                          summary, says):
    await say(app, ANN, "/watch protein folding")
    pid = "2611.20001"
    await app.pipeline.ingest([arxiv(pid, "Protein folding", "We fold proteins.", 1)],
                              source="arxiv", alert=True)
    await app.flush_deliveries()
    assert len(texts(telegram, ANN)) == 1
    clock.advance(hours=20)
    # arXiv's "replace" entry: a newer version only refreshes the stored paper
    await app.pipeline.ingest([], updates=[arxiv(pid, title, summary, 2)], source="arxiv",
                              alert=True)
    assert await follow_up_rows(app) == [(ANN.external_id, pid, "revised")]
    await app.flush_deliveries()
    [_alert, update] = texts(telegram, ANN)
    assert f"✎ {title} — {says}" in update
    # the same version again, then one more: the person is not told again
    await app.pipeline.ingest([], updates=[arxiv(pid, title, summary, 2)], source="arxiv",
                              alert=True)
    await app.pipeline.ingest([], updates=[arxiv(pid, title + " v3", summary, 3)],
                              source="arxiv", alert=True)
    await app.flush_deliveries()
    assert await follow_up_rows(app) == [(ANN.external_id, pid, "revised")]
    assert len(texts(telegram, ANN)) == 2


async def test_a_new_version_with_the_same_text_is_no_follow_up(app, telegram):
    await say(app, ANN, "/watch protein folding")
    pid = "2611.20002"
    await app.pipeline.ingest([arxiv(pid, "Protein folding", "We fold proteins.", 1)],
                              source="arxiv", alert=True)
    await app.pipeline.ingest([], updates=[arxiv(pid, "Protein  folding", "We fold proteins.",
                                                 2)], source="arxiv", alert=True)
    assert await follow_up_rows(app) == []


async def ingest_hf(app, tmp_path, name: str, items: list[dict]) -> None:
    """`paperwatch ingest` of an HF-shaped file (the reader the poller uses too)."""
    path = tmp_path / name
    path.write_text(json.dumps(items))
    await app.ingest_file(path)
    await app.flush_deliveries()


async def test_followups_off_or_one_kind_off_is_honoured_by_the_pipeline(app, telegram,
                                                                         tmp_path):
    dan = ChatRef("telegram", "7104", "user")
    for who in (ANN, BOB, CAROL, dan):
        await say(app, who, "/watch protein folding")
    await say(app, BOB, "/followups off")
    await say(app, CAROL, "/followups code off")
    await say(app, dan, "/followups trending off")
    await ingest_hf(app, tmp_path, "1.json", [hf_item(A, "Protein folding at scale", 3)])
    await ingest_hf(app, tmp_path, "2.json", [hf_item(A, "Protein folding at scale", 70,
                                                      githubRepo=REPO)])
    assert await follow_up_rows(app) == sorted([
        (ANN.external_id, A, "code"), (ANN.external_id, A, "trending"),
        (CAROL.external_id, A, "trending"), (dan.external_id, A, "code")])
    assert len(texts(telegram, BOB)) == 1  # the alert only


async def test_stars_crossing_the_threshold_is_a_code_follow_up_once(app, telegram, tmp_path):
    await say(app, ANN, "/watch protein folding")
    await ingest_hf(app, tmp_path, "1.json", [hf_item(A, "Protein folding at scale", 3,
                                                      githubRepo=REPO, githubStars=20)])
    assert "★ 20" in texts(telegram, ANN)[0]
    await ingest_hf(app, tmp_path, "2.json", [hf_item(A, "Protein folding at scale", 3,
                                                      githubRepo=REPO, githubStars=99)])
    assert await follow_up_rows(app) == []  # followups.stars is 100
    await ingest_hf(app, tmp_path, "3.json", [hf_item(A, "Protein folding at scale", 3,
                                                      githubRepo=REPO, githubStars=150)])
    assert await follow_up_rows(app) == [(ANN.external_id, A, "code")]
    assert "now has code: github.com/fold/fast ★ 150" in texts(telegram, ANN)[1]
    await ingest_hf(app, tmp_path, "4.json", [hf_item(A, "Protein folding at scale", 3,
                                                      githubRepo=REPO, githubStars=900)])
    assert len(texts(telegram, ANN)) == 2


async def test_a_paper_first_listed_on_hf_then_revised_on_arxiv_says_so(app, telegram,
                                                                         tmp_path):
    await say(app, ANN, "/watch protein folding")
    await ingest_hf(app, tmp_path, "1.json", [hf_item(A, "Protein folding at scale", 3)])
    assert len(texts(telegram, ANN)) == 1
    await app.pipeline.ingest([], updates=[arxiv(A, "Protein folding at any scale",
                                                 "About Protein folding at scale.", 2)],
                              source="arxiv", alert=True)
    await app.flush_deliveries()
    assert await follow_up_rows(app) == [(ANN.external_id, A, "revised")]
    assert ("✎ Protein folding at any scale — new version v2: title changed"
            in texts(telegram, ANN)[1])
