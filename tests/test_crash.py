"""Crash safety: a real `paperwatch run --role worker` process delivering a large queue
through the fake Telegram Bot API (python-telegram-bot, flood limits enforced) is killed
with SIGKILL at random moments and restarted until the queue is empty. Every paper reaches
its chat, and each crash repeats at most the messages that were in flight (the worker's
concurrency)."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select

from storage import db
from storage.models import Chat, Delivery, PaperRow
from tests.fakes.paced_platform import FloodRules, PacedTelegramAPI

CONCURRENCY = 4
KILLS = 4
CHATS = 260  # every fifth chat has three papers, coalesced into one message
SEED = 20261124


async def fill_queue(url: str) -> set[tuple[int, str]]:
    engine = db.create_engine(url)
    await db.upgrade(engine)
    now = datetime.now(UTC)
    expected: set[tuple[int, str]] = set()
    papers, rows = [], []
    for n in range(1, CHATS + 1):
        for k in range(3 if n % 5 == 0 else 1):
            pid = f"2601.{n:03d}{k:02d}"
            expected.add((n, pid))
            papers.append({"id": pid, "title": f"Crash paper {pid}", "summary": "",
                           "authors": [], "categories": [], "keywords": [], "source": "test",
                           "first_seen": now, "updated_at": now})
            rows.append({"chat_id": n, "paper_id": pid, "watch_ids": [],
                         "why": [["title", "crash"]], "state": "pending", "attempts": 0,
                         "next_attempt_at": now, "created_at": now})
    async with engine.begin() as conn:
        await conn.execute(insert(Chat), [
            {"id": n, "platform": "telegram", "external_id": str(n), "kind": "user",
             "state": "active", "created_at": now} for n in range(1, CHATS + 1)])
        await conn.execute(insert(PaperRow), papers)
        await conn.execute(insert(Delivery), rows)
    await engine.dispose()
    return expected


async def not_sent(url: str) -> int:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(select(func.count()).where(
                Delivery.state != "sent"))).scalar_one()
    finally:
        await engine.dispose()


def write_config(path: Path, url: str, fake: PacedTelegramAPI) -> Path:
    path.write_text(f"""
[database]
url = "{url}"
[telegram]
enabled = true
api_base_url = "{fake.base_url}"
[sources.hf]
enabled = false
[logging]
level = "WARNING"
[delivery]
poll_seconds = 0.1
batch_size = 16
lease_seconds = 1.0
concurrency = {CONCURRENCY}
[delivery.pacing.telegram]
per_second = 100
chat_per_second = 1
group_per_minute = 20
""")
    return path


async def spawn(config: Path, fake: PacedTelegramAPI) -> asyncio.subprocess.Process:
    env = {**os.environ, "PAPERWATCH_TELEGRAM_TOKEN": fake.token}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--role", "worker", "--config", str(config),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


def papers_in(text: str) -> list[str]:
    return re.findall(r"Crash paper (\d{4}\.\d{5})", text)


async def test_sigkill_at_random_moments_loses_nothing_and_repeats_only_in_flight(tmp_path,
                                                                                   db_url):
    rng = random.Random(SEED)
    expected = await fill_queue(db_url)
    async with PacedTelegramAPI(FloodRules(100, 1, 20)) as fake:
        config = write_config(tmp_path / "worker.toml", db_url, fake)
        starts: list[int] = []  # where each process's messages begin in fake.sent
        for _ in range(KILLS):
            starts.append(len(fake.sent))
            process = await spawn(config, fake)
            target = len(fake.accepted()) + rng.randint(20, 50)
            try:
                await fake.wait_for(lambda t=target: len(fake.accepted()) >= t, timeout=30)
                await asyncio.sleep(rng.uniform(0, 0.03))  # land anywhere in a send
            finally:
                process.send_signal(signal.SIGKILL)
                await asyncio.wait_for(process.wait(), 10)
        starts.append(len(fake.sent))
        process = await spawn(config, fake)
        try:
            for _ in range(300):  # until the outbox is empty (at most 30 s)
                if await not_sent(db_url) == 0:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.3)  # anything sent late would show up now
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 20)
        assert process.returncode == 0

    assert await not_sent(db_url) == 0
    delivered: Counter = Counter()
    # a repeat is caused by the kill of the run that delivered it last (there it was sent
    # but not yet marked when the process died)
    last_run: dict[tuple[int, str], int] = {}
    repeats_caused_by_kill: Counter = Counter()
    for run, start in enumerate(starts):
        end = starts[run + 1] if run + 1 < len(starts) else len(fake.sent)
        for sent in fake.sent[start:end]:
            if sent.error is not None:
                continue
            items = [(sent.chat_id, pid) for pid in papers_in(sent.plain)]
            assert items, sent.plain
            seen = [last_run[item] for item in items if item in last_run]
            if seen:
                repeats_caused_by_kill[max(seen)] += 1
            for item in items:
                last_run[item] = run
            delivered.update(items)
    assert set(delivered) == expected  # nothing lost, nothing foreign
    # each kill repeats at most what the killed process had in flight
    assert all(n <= CONCURRENCY for n in repeats_caused_by_kill.values()), repeats_caused_by_kill
    assert KILLS not in repeats_caused_by_kill  # the last run was not killed
    assert sum(n - 1 for n in delivered.values()) <= KILLS * CONCURRENCY * 3
