"""Bench: finding the chats alerted about refreshed papers, in a kept history of deliveries.

A follow-up (a paper got code, started trending, was revised) goes to the chats that were
sent an alert about it. The history holds every sent delivery of the last
`delivery.keep_days`: at a million watches one day is 5.3 M rows (2,000 papers, ~2,650
chats each), a month ~150 M. This fills a fresh database (a SQLite file, or a database
made beside the PostgreSQL URL given and dropped after) with `--days` such days of sent
alerts, then times `storage.repo.fanout.alerted_chats` for a poll's refreshed papers
(`--papers`, 50) against the baseline in the same process: the lookup before migration
0012 (the same condition with parameters, no index of sent alerts to use), run on the
same database after the index is dropped. Prints both and the ratio.

    python -m bench.followups                       # one day at 1M watches: 5.3 M rows
    python -m bench.followups --days 0.1
    python -m bench.followups --url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.cluster import create_database, drop_database
from storage import db
from storage.models import Chat, Delivery
from storage.repo import fanout

PAPERS_PER_DAY = 2_000
CHATS_PER_PAPER = 2_650  # 5.3 M rows a day, as bench/ingest.py makes at 1M watches
CHATS = 200_000
COLUMNS = ("chat_id", "paper_id", "watch_ids", "why", "kind", "state", "attempts",
           "next_attempt_at", "created_at", "sent_at")


def history(days: float, seed: int = 7):
    """(chat, paper) of every sent alert, paper by paper, in blocks of rows."""
    rnd = random.Random(seed)
    papers = int(PAPERS_PER_DAY * days)
    for n in range(papers):
        paper_id = f"26{n // 100_000:02d}.{n % 100_000:05d}"
        yield paper_id, rnd.sample(range(1, CHATS + 1), CHATS_PER_PAPER)


def _fill_sqlite(path: Path, days: float, now: datetime) -> int:
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.executemany(
        "INSERT INTO chats (id, platform, external_id, kind, state, created_at, followups) "
        "VALUES (?, 'telegram', ?, 'user', 'active', ?, 'code,trending,revised')",
        [(c, str(c), stamp) for c in range(1, CHATS + 1)])
    rows = 0
    insert = (f"INSERT INTO deliveries ({', '.join(COLUMNS)}) "
              "VALUES (?, ?, '[1]', '[]', 'alert', 'sent', 1, ?, ?, ?)")
    for paper_id, chats in history(days):
        conn.executemany(insert, [(c, paper_id, stamp, stamp, stamp) for c in chats])
        rows += len(chats)
    conn.commit()
    conn.close()
    return rows


async def _fill_postgresql(url: str, days: float, now: datetime) -> int:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.copy_records_to_table(
            "chats", columns=["id", "platform", "external_id", "kind", "state", "created_at",
                              "followups"],
            records=[(c, "telegram", str(c), "user", "active", now, "code,trending,revised")
                     for c in range(1, CHATS + 1)])
        rows = 0
        block: list[tuple] = []
        for paper_id, chats in history(days):
            block += [(c, paper_id, "[1]", "[]", "alert", "sent", 1, now, now, now)
                      for c in chats]
            if len(block) >= 500_000:
                await conn.copy_records_to_table("deliveries", columns=list(COLUMNS),
                                                 records=block)
                rows, block = rows + len(block), []
        if block:
            await conn.copy_records_to_table("deliveries", columns=list(COLUMNS), records=block)
            rows += len(block)
        await conn.execute("ANALYZE deliveries")
        await conn.execute("ANALYZE chats")
    finally:
        await conn.close()
    return rows


async def baseline_alerted_chats(session: AsyncSession, paper_ids: list[str]) -> int:
    """The lookup before migration 0012: the same rows, the condition as parameters."""
    found = 0
    for start in range(0, len(paper_ids), 900):
        rows = await session.execute(
            select(Delivery.paper_id, Chat.id, Chat.followups)
            .join(Chat, Chat.id == Delivery.chat_id)
            .where(Delivery.paper_id.in_(paper_ids[start:start + 900]),
                   Delivery.kind == "alert", Delivery.state == "sent",
                   Chat.state == "active"))
        found += len(rows.all())
    return found


async def _timed(engine, lookup, paper_ids: list[str], repeat: int) -> tuple[float, int]:
    best, found = float("inf"), 0
    for _ in range(repeat):
        async with AsyncSession(engine) as session:
            started = time.perf_counter()
            found = await lookup(session, paper_ids)
            best = min(best, time.perf_counter() - started)
    return best, found


async def current_lookup(session: AsyncSession, paper_ids: list[str]) -> int:
    return sum(len(chats) for chats in (await fanout.alerted_chats(session, paper_ids)).values())


async def run(url: str | None, days: float, papers: int, repeat: int) -> None:
    admin_url, made = url, None
    with tempfile.TemporaryDirectory() as tmp:
        if url is None:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        else:
            url = made = await create_database(url)
        engine = db.create_engine(url)
        try:
            await db.upgrade(engine)
            now = datetime.now(UTC)
            started = time.perf_counter()
            if made is None:
                rows = await asyncio.to_thread(_fill_sqlite, Path(tmp) / "bench.db", days, now)
            else:
                rows = await _fill_postgresql(url, days, now)
            total_papers = int(PAPERS_PER_DAY * days)
            print(f"{engine.dialect.name}: {rows:,} sent alerts of {total_papers:,} papers "
                  f"to {CHATS:,} chats, filled in {time.perf_counter() - started:.0f} s",
                  flush=True)
            rnd = random.Random(3)
            # the refreshed papers of one poll: any of the kept ones
            all_ids = [f"26{n // 100_000:02d}.{n % 100_000:05d}" for n in range(total_papers)]
            paper_ids = sorted(rnd.sample(all_ids, min(papers, len(all_ids))))
            current_s, current_found = await _timed(engine, current_lookup, paper_ids, repeat)
            async with engine.begin() as conn:
                await conn.exec_driver_sql("DROP INDEX ix_deliveries_sent_alerts")
            baseline_s, baseline_found = await _timed(engine, baseline_alerted_chats,
                                                      paper_ids, repeat)
            assert current_found == baseline_found == len(paper_ids) * CHATS_PER_PAPER, (
                current_found, baseline_found)
            print(f"  {len(paper_ids)} refreshed papers, {current_found:,} alerted chats: "
                  f"current {current_s * 1000:,.1f} ms, baseline (before 0012) "
                  f"{baseline_s * 1000:,.0f} ms: {baseline_s / current_s:,.0f}x", flush=True)
        finally:
            await engine.dispose()
            if made is not None and admin_url is not None:
                await drop_database(admin_url, made)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a PostgreSQL URL (a database is made beside it)")
    parser.add_argument("--days", type=float, default=1.0,
                        help="days of history at 1M watches (5.3 M rows each)")
    parser.add_argument("--papers", type=int, default=50, help="refreshed papers in the poll")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many lookups")
    args = parser.parse_args(argv)
    asyncio.run(run(args.url, args.days, args.papers, args.repeat))


if __name__ == "__main__":
    main()
