"""Bench: a bot start with N watches stored in the database, until it is ready to match.

Fills a fresh SQLite file (or the PostgreSQL URL given) with N watches from N/5 chats,
using phrases drawn from the bundled sample abstracts, then times `App` opening: migrations
check, loading every watch as plain rows in pages, parsing and indexing them in a worker
thread (the matching role's start). Baseline in the same
run: the same rows loaded as ORM objects (what a naive loader does), on a sample.

    python -m bench.startup --watches 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import resource
import sqlite3
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bot.app import App, sample_papers_path
from bot.config import Config
from storage import db
from storage.models import Watch


def _phrases(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = []
    for line in sample_papers_path().read_text().splitlines():
        words += re.findall(r"[A-Za-z][a-z]{3,}", json.loads(line)["summary"].lower())
    vocab = sorted(set(words))
    return [" ".join(rng.choice(vocab) for _ in range(rng.choice((1, 2, 2, 3, 4))))
            for _ in range(n)]


async def _create_schema(url: str) -> None:
    engine = db.create_engine(url)
    await db.upgrade(engine)
    await engine.dispose()


def _fill_sqlite(path: Path, n: int) -> None:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    con = sqlite3.connect(path)
    chats = max(1, n // 5)
    con.executemany("INSERT INTO chats (id, platform, external_id, kind, state, created_at) "
                    "VALUES (?, 'telegram', ?, 'user', 'active', ?)",
                    ((i + 1, str(i + 1), now) for i in range(chats)))
    con.executemany("INSERT INTO watches (chat_id, number, query, created_at, hit_count) "
                    "VALUES (?, ?, ?, ?, 0)",
                    ((i % chats + 1, i // chats + 1, q, now) for i, q in enumerate(_phrases(n))))
    con.commit()
    con.close()


async def _orm_load(url: str, limit: int) -> float:
    engine = db.create_engine(url)
    sessions = db.session_factory(engine)
    start = time.perf_counter()
    async with sessions() as session:
        rows = list(await session.scalars(select(Watch).limit(limit)))
    elapsed = time.perf_counter() - start
    await engine.dispose()
    assert len(rows) == limit
    return elapsed


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        await _create_schema(url)
        t0 = time.perf_counter()
        _fill_sqlite(path, n)
        print(f"filled {n:,} watches in {time.perf_counter() - t0:.1f} s")
        cfg = replace(Config(), database=replace(Config().database, url=url))
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        async with App(cfg) as app:
            await app.load_watches()  # what the matching role does when it starts
            ready = time.perf_counter() - start
            indexed = len(app.watches)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sample = min(n, 100_000)
        orm = await _orm_load(url, sample) * n / sample
        print(f"start with {n:,} watches: ready in {ready:.1f} s, {indexed:,} indexed, "
              f"peak RSS {rss_after:.0f} MB (+{rss_after - rss_before:.0f} MB)")
        print(f"baseline (ORM objects, {sample:,} rows timed, extrapolated): "
              f"{orm:.1f} s just to load; plain rows + index = {ready / orm:.2f}x of that")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--watches", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args().watches))
