"""The daily trending post: at each chat's local time (across daylight-saving changes),
once per chat and day however many posters run or restart, filtered by upvotes and topic,
one tidy message within the platform's limit, and quiet (or a note) on empty days."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from adapters.telegram_bot import MAX_CHARS as TELEGRAM_MAX
from adapters.telegram_bot import measure as telegram_measure
from bot.app import App
from bot.delivery.daily import DailyPoster, stored_trending_fetch
from bot.delivery.render import trending_post
from bot.ops.report import queue_report
from bot.types import ChatRef, Incoming, Paper, PermanentSendError, TransientSendError
from storage import db, repo
from storage.models import ChannelPost, Chat, DailyPost
from tests.helpers import ScriptedSender

CHANNEL = ChatRef("test", "-100", "channel")


def trending(day: date) -> list[Paper]:
    """What Hugging Face lists that day (most upvoted first), as the source returns it."""
    published = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    return [Paper(id=f"2603.{n:05d}", title=title, summary="An abstract. " * 5, upvotes=votes,
                  published=published, source="hf")
            for n, (title, votes) in enumerate([
                ("Video diffusion at scale", 120), ("Agents that plan", 80),
                ("Diffusion for proteins", 40), ("Sparse attention", 12),
                ("Diffusion on a budget", 3)], start=1)]


class Source:
    """The injected fetch: counts calls, can fail or be empty."""

    def __init__(self, papers=trending, failures: int = 0) -> None:
        self.papers = papers
        self.failures = failures
        self.days: list[date] = []

    async def __call__(self, day: date) -> list[Paper]:
        self.days.append(day)
        if self.failures:
            self.failures -= 1
            raise OSError("huggingface.co: connection reset")
        return self.papers(day)


@pytest.fixture
def sender(app) -> ScriptedSender:
    sender = ScriptedSender(platform="test")
    app.add_sender(sender)
    return sender


async def setup_daily(app, settings: str) -> str:
    reply = await app.commands.dispatch(Incoming(CHANNEL, f"/daily {settings}"))
    assert reply.ok, reply.body.plain()
    return reply.body.plain()


def poster(app, fetch=None, **kw) -> DailyPoster:
    return DailyPoster(app.sessions, app.senders, app.clock, fetch=fetch or Source(),
                       config=app.config.delivery, **kw)


async def test_posts_at_local_time_once_a_day_across_daylight_saving(app, sender, clock):
    await setup_daily(app, "on 09:00 Europe/Berlin top 3")
    daily = poster(app)
    clock.now = datetime(2026, 3, 28, 7, 59, tzinfo=UTC)  # 08:59 CET, Saturday
    assert await daily.run_once() == datetime(2026, 3, 28, 8, 0, tzinfo=UTC)
    assert sender.sent == []
    clock.now = datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # 09:00 CET
    nxt = await daily.run_once()
    assert len(sender.sent) == 1
    # the clocks go forward that night: tomorrow's 09:00 is 07:00 UTC
    assert nxt == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    clock.advance(hours=3)
    await daily.run_once()
    assert len(sender.sent) == 1  # once a day
    clock.now = datetime(2026, 3, 29, 6, 59, tzinfo=UTC)
    await daily.run_once()
    assert len(sender.sent) == 1
    clock.now = datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    await daily.run_once()
    assert len(sender.sent) == 2
    # and back in autumn: 09:00 CET is 08:00 UTC again
    clock.now = datetime(2026, 10, 25, 7, 30, tzinfo=UTC)
    assert await daily.run_once() == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)
    text = sender.sent[0][1].body.plain()
    assert text.splitlines()[0] == "Trending papers — Saturday 28 March 2026"
    assert "1. Video diffusion at scale — ▲ 120" in text and "3. Diffusion for proteins" in text
    assert "Sparse attention" not in text  # top 3
    links = [s.link for line in sender.sent[0][1].body.lines for s in line if s.link]
    assert "https://huggingface.co/papers/2603.00001" in links
    assert "https://huggingface.co/papers/date/2026-03-28" in links


async def test_several_posters_and_restarts_post_once(app, config, sender, clock):
    await setup_daily(app, "on 09:00 UTC")
    clock.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    engines = [db.create_engine(config.database.url) for _ in range(3)]
    try:
        posters = [DailyPoster(db.session_factory(e), app.senders, clock, fetch=Source(),
                               worker_id=f"p{n}") for n, e in enumerate(engines)]
        await asyncio.gather(*(p.run_once() for p in posters))
        await poster(app).run_once()  # a restarted process
    finally:
        for engine in engines:
            await engine.dispose()
    assert len(sender.sent) == 1
    async with app.sessions() as session:
        [row] = list(await session.scalars(select(DailyPost)))
    assert (row.day, row.state, row.papers) == (date(2026, 11, 24), "sent", 5)


async def test_a_crashed_posters_claim_is_taken_over_after_its_lease(app, sender, clock):
    await setup_daily(app, "on 09:00 UTC")
    clock.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    async with app.sessions.begin() as session:
        chat = await repo.find_chat(session, CHANNEL)
        lease_end = clock() + timedelta(seconds=120)
        assert await repo.claim_daily_post(session, chat.id, clock().date(), "crashed",
                                           clock(), lease_end)
    daily = poster(app)
    nxt = await daily.run_once()
    assert sender.sent == [] and nxt > lease_end - timedelta(seconds=1)
    clock.now = nxt
    await daily.run_once()
    assert len(sender.sent) == 1


async def test_topic_and_minimum_upvotes_filter_the_list(app, sender, clock):
    out = await setup_daily(app, "on 12:00 UTC top 10 min 10 diffusion")
    assert "topic “diffusion”" in out
    await poster(app).run_once()
    text = sender.sent[0][1].body.plain()
    assert "Topic: diffusion" in text
    assert "1. Video diffusion at scale" in text and "2. Diffusion for proteins" in text
    assert "Agents" not in text and "budget" not in text  # off topic; too few upvotes


async def test_empty_days_post_nothing_or_a_note(app, sender, clock):
    await setup_daily(app, "on 12:00 UTC")
    await poster(app, Source(lambda day: [])).run_once()
    assert sender.sent == []
    async with app.sessions() as session:
        assert (await session.scalar(select(DailyPost.state))) == "empty"
    assert "days without papers, a short note" in await setup_daily(app, "on 12:00 UTC empty note")
    clock.advance(days=1)
    await poster(app, Source(lambda day: [])).run_once()
    assert [m.body.plain() for _, m in sender.sent] == [
        "No trending papers on Hugging Face for Wednesday 25 November 2026."]


async def test_a_source_failure_is_retried_later_the_same_day(app, sender, clock):
    await setup_daily(app, "on 12:00 UTC")
    source = Source(failures=1)
    daily = poster(app, source)
    nxt = await daily.run_once()
    assert sender.sent == []
    assert nxt == clock() + timedelta(seconds=app.config.delivery.daily_retry_seconds)
    clock.now = nxt
    await daily.run_once()
    assert len(sender.sent) == 1 and len(source.days) == 2


async def test_send_failures_retry_then_a_refusal_stops_the_post(app, clock):
    sender = ScriptedSender(platform="test", failures=[
        TransientSendError("HTTP 502"), PermanentSendError("bot was kicked")])
    app.add_sender(sender)
    await setup_daily(app, "on 12:00 UTC")
    daily = poster(app)
    nxt = await daily.run_once()
    clock.now = nxt
    await daily.run_once()
    assert sender.sent == [] and sender.attempts == 2
    async with app.sessions() as session:
        chat = await session.scalar(select(Chat))
        post = await session.scalar(select(ChannelPost))
        row = await session.scalar(select(DailyPost))
    assert chat.state == "blocked" and post.disabled_reason == "bot was kicked"
    assert row.state == "failed" and row.last_error == "bot was kicked"
    assert "It is paused: bot was kicked" in await setup_daily(app, "")


def test_the_post_is_one_telegram_message_within_4096_whatever_the_titles():
    day = date(2026, 11, 24)
    papers = [Paper(id=f"2611.{n:05d}", title=("<Long & winding title> " * 20).strip(),
                    summary="<b>not bold</b> " * 50, upvotes=1000 - n, github_url="https://g.it/x")
              for n in range(25)]
    message = trending_post(papers, day, TELEGRAM_MAX, telegram_measure, topic="diffusion")
    assert telegram_measure(message.body) <= TELEGRAM_MAX
    text = message.body.plain()
    assert all(f"\n{n}. " in text for n in range(1, 26))  # every entry, numbered


async def test_stored_papers_stand_in_for_the_live_list(app, clock):
    day = date(2026, 11, 24)
    async with app.sessions.begin() as session:
        await repo.insert_new_papers(session, trending(day) + [
            Paper(id="2611.99999", title="Not from HF", upvotes=999, source="arxiv",
                  published=clock())], clock())
    papers = await stored_trending_fetch(app.sessions)(day)
    assert [p.upvotes for p in papers] == [120, 80, 40, 12, 3]
    assert await stored_trending_fetch(app.sessions)(day + timedelta(days=1)) == []


async def test_the_apps_daily_post_reads_stored_papers_when_hf_cannot_be_read(config, clock):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: every request is refused
    sources = replace(config.sources,
                      hf=replace(config.sources.hf, base_url=f"http://127.0.0.1:{port}"),
                      http=replace(config.sources.http, max_retries=0, timeout_seconds=2.0))
    day = date(2026, 11, 24)
    async with App(replace(config, sources=sources), clock=clock) as app:
        async with app.sessions.begin() as session:
            await repo.insert_new_papers(session, trending(day), clock())
        papers = await app.daily.fetch(day)
    assert [p.upvotes for p in papers] == [120, 80, 40, 12, 3]


async def test_queue_report_names_what_waits_and_why(app, clock):
    await setup_daily(app, "on 12:00 UTC")
    report = await queue_report(app.sessions, clock)
    assert report.startswith("Delivery queue") and "Due now: 0" in report
    assert "Sources: none polled yet" in report
    async with app.sessions.begin() as session:
        await repo.save_source_state(session, "hf", last_success_at=clock() - timedelta(
            minutes=5), last_status="error", last_note="HTTP 503, gave up after 3 tries")
    report = await queue_report(app.sessions, clock)
    assert "  hf: error, last success 5m ago, last try never — HTTP 503, gave up" in report
