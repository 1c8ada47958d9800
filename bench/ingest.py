"""Bench: one day's papers ingested at N stored watches, end to end through the real pipeline.

Fills a fresh database (a SQLite file, or the PostgreSQL URL given) with N watches of N/5
chats, generated as in bench/matching.py, opens the real `App` on it (which loads and
indexes every watch), then ingests 2,000 new papers with `alert=True` through
`app.pipeline`, while on the same event loop
- a probe sleeps 5 ms at a time and records how late it wakes (the longest event-loop stall);
- a `/watch` is sent through the command layer every second and timed until its reply.
Reports: ingest wall time, deliveries created and per second, peak resident memory, the
longest stall, and the /watch latencies (median, p95, max). The baseline is the first
version's ingest (one transaction, matching and row building on the loop, hit counts watch
by watch), kept in bench/baseline_ingest.py and run in the same process on its own fresh
database; the ratio printed is baseline / current. After the current run, the database
alone is given the same rows again, in the same order and batches, with nothing else
running (`database_alone`): the rows a second this machine's database can store at all,
and the share of it the ingest reached.

    python -m bench.ingest --watches 100000
    python -m bench.ingest --watches 1000000 --no-baseline
    python -m bench.ingest --watches 100000 --url postgresql+asyncpg://postgres@127.0.0.1/test
    python -m bench.ingest --watches 100000 --no-baseline --no-watch-probe
    python -m bench.ingest --watches 100000 --no-baseline --slow-callbacks
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import logging
import resource
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from bench.baseline_ingest import baseline_ingest
from bench.matching import Corpus, PaperMaker, make_papers, make_watches
from bot.app import App
from bot.config import Config
from bot.types import ChatRef, Incoming, Paper
from storage import db
from storage.models import Chat, Watch
from storage.repo.fanout import DELIVERY_COLUMNS

WATCHES_PER_CHAT = 5
STALL_STACKS = False  # --stall-stacks: print where the loop is when it stalls
DATABASE_ALONE = True  # --no-database-alone: skip the database's own ceiling
WATCH_PROBE = True  # --no-watch-probe: the ingest alone (a /watch preview matches every
# recent paper again: with 2,000 new papers that is most of the CPU a /watch costs)


@dataclass
class Probe:
    """Event-loop lateness and /watch latency, sampled while an ingest runs."""

    stalls: list[float] = field(default_factory=list)
    watch_latencies: list[float] = field(default_factory=list)

    async def loop_lateness(self, stop: asyncio.Event, tick: float = 0.005) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(tick)
            self.stalls.append(time.perf_counter() - started - tick)

    async def watch_every_second(self, stop: asyncio.Event, app: App) -> None:
        if not WATCH_PROBE:
            await stop.wait()
            return
        chat = ChatRef("console", "bench-probe")
        n = 0
        while not stop.is_set():
            n += 1
            started = time.perf_counter()
            await app.commands.dispatch(Incoming(chat, f"/watch probe topic {n}"))
            self.watch_latencies.append(time.perf_counter() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


class StallStacks:
    """A watchdog thread that prints where the event loop's thread is when the loop has
    not ticked for over `limit` seconds (--stall-stacks): names the step that stalls."""

    def __init__(self, limit: float = 0.05) -> None:
        self.limit = limit
        self.tick = time.perf_counter()
        self._thread_id = threading.get_ident()
        self._stop = threading.Event()

    async def ticking(self, stop: asyncio.Event) -> None:
        watchdog = threading.Thread(target=self._watch, daemon=True)
        watchdog.start()
        while not stop.is_set():
            self.tick = time.perf_counter()
            await asyncio.sleep(0.005)
        self._stop.set()

    def _watch(self) -> None:
        reported = 0.0
        while not self._stop.wait(0.01):
            late = time.perf_counter() - self.tick
            if late > self.limit and self.tick != reported:
                reported = self.tick
                frame = sys._current_frames().get(self._thread_id)
                stack = traceback.extract_stack(frame)[-6:] if frame else []
                print(f"  loop late {late * 1000:.0f} ms at: " + _where(stack), flush=True)
                if stack and stack[-1].name == "select":  # waiting for the GIL: who had it
                    for ident, other in sys._current_frames().items():
                        if ident not in (self._thread_id, threading.get_ident()):
                            print("    other thread: "
                                  + _where(traceback.extract_stack(other)[-4:]), flush=True)


def _where(stack: traceback.StackSummary | list) -> str:
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_peak_rss_mb(pid: int) -> float:
    """Peak resident memory of the matching process (0 when matching runs in a thread)."""
    if not pid:
        return 0.0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


@contextlib.asynccontextmanager
async def fresh_database(url: str | None) -> AsyncIterator[str]:
    """A new SQLite file, or a new database on the PostgreSQL server of `url`."""
    if url is None:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    import asyncpg

    name = f"pw_bench_{uuid.uuid4().hex[:10]}"
    admin = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield f"{url.rpartition('/')[0]}/{name}"
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def fill(url: str, watches: list[tuple[int, str]]) -> None:
    engine = db.create_engine(url)
    await db.upgrade(engine)
    # made the day before, as watches are when a day's listing arrives (watches made in the
    # last two minutes are read again by every refresh of the live index)
    now = datetime.now(UTC) - timedelta(days=1)
    chats = max(1, len(watches) // WATCHES_PER_CHAT)
    async with engine.begin() as conn:
        for start in range(0, chats, 20_000):
            await conn.execute(insert(Chat), [
                {"id": i + 1, "platform": "telegram", "external_id": str(i + 1), "kind": "user",
                 "state": "active", "created_at": now}
                for i in range(start, min(chats, start + 20_000))])
        for start in range(0, len(watches), 20_000):
            await conn.execute(insert(Watch), [
                {"id": wid, "chat_id": i % chats + 1, "number": i // chats + 1, "query": text,
                 "created_at": now, "hit_count": 0}
                for i, (wid, text) in enumerate(watches[start:start + 20_000], start=start)])
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:  # ids were given: move the sequences past them
            for table in ("chats", "watches"):
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))")
    await engine.dispose()


Ingest = Callable[[App, list[Paper]], Awaitable[int]]


async def current_ingest(app: App, papers: list[Paper]) -> int:
    return (await app.pipeline.ingest(papers, source="bench", alert=True)).deliveries


_COLUMNS = ", ".join(DELIVERY_COLUMNS)


async def database_alone(url: str, batch_rows: int = 10_000) -> float:
    """Rows a second the database itself stores when given the ingest's own deliveries
    again, in the order they were written (by id), `batch_rows` a transaction as the
    fan-out writes them, with no matching and no bot beside it: the ceiling the ingest
    can approach on this machine. PostgreSQL: COPY text (as the fan-out sends), the
    commits not waiting for the disk (as the fan-out's); SQLite: INSERT ... SELECT from a
    copy of the rows, in C."""
    if url.startswith("sqlite"):
        return await asyncio.to_thread(_sqlite_alone, url.split(":///", 1)[1], batch_rows)
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            lines = Path(tmp) / "deliveries.copy"
            await conn.copy_from_query(f"SELECT {_COLUMNS} FROM deliveries ORDER BY id",
                                       output=str(lines))
            await conn.execute("TRUNCATE deliveries")
            await conn.execute("CHECKPOINT")
            rows, started = 0, time.perf_counter()
            with lines.open("rb") as source:
                while batch := list(itertools.islice(source, batch_rows)):
                    async with conn.transaction():
                        await conn.execute("SET LOCAL synchronous_commit TO OFF")
                        await conn.copy_to_table("deliveries", source=memoryview(b"".join(batch)),
                                                 columns=DELIVERY_COLUMNS, format="text")
                    rows += len(batch)
            return rows / (time.perf_counter() - started)
    finally:
        await conn.close()


def _sqlite_alone(path: str, batch_rows: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(f"CREATE TABLE again AS SELECT {_COLUMNS} FROM deliveries ORDER BY id")
        conn.execute("DELETE FROM deliveries")
        total = conn.execute("SELECT max(rowid) FROM again").fetchone()[0] or 0
        started = time.perf_counter()
        for first in range(1, total + 1, batch_rows):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(f"INSERT INTO deliveries ({_COLUMNS}) SELECT {_COLUMNS} FROM again "
                         "WHERE rowid BETWEEN ? AND ?", (first, first + batch_rows - 1))
            conn.execute("COMMIT")
        return total / (time.perf_counter() - started)
    finally:
        conn.close()


async def measure(label: str, url: str | None, watches: list[tuple[int, str]],
                  papers: list[Paper], ingest: Ingest) -> dict[str, float]:
    async with fresh_database(url) as db_url:
        started = time.perf_counter()
        await fill(db_url, watches)
        filled = time.perf_counter() - started
        print(f"  [{label}] filled {len(watches):,} watches in {filled:.1f} s", flush=True)
        cfg = Config()
        cfg = replace(cfg, database=replace(cfg.database, url=db_url),
                      sources=replace(cfg.sources, hf=replace(cfg.sources.hf, enabled=False)))
        if ingest is baseline_ingest:  # the first version matched in the bot's own process
            cfg = replace(cfg, run=replace(cfg.run, matching="thread"))
        async with App(cfg) as app:
            await app.load_watches()
            gc.collect()
            # the bench's own million watch texts and papers are not the bot's: keep full
            # collections from walking them (the bot's index froze its own in its load)
            gc.freeze()
            probe, stop = Probe(), asyncio.Event()
            tasks = [asyncio.create_task(probe.loop_lateness(stop)),
                     asyncio.create_task(probe.watch_every_second(stop, app))]
            if STALL_STACKS:
                tasks.append(asyncio.create_task(StallStacks().ticking(stop)))
            await asyncio.sleep(0.1)
            started = time.perf_counter()
            deliveries = await ingest(app, papers)
            wall = time.perf_counter() - started
            stop.set()
            await asyncio.gather(*tasks)
            child_rss = child_peak_rss_mb(getattr(app.watches, "child_pid", 0))
        rss = peak_rss_mb()
        alone = await database_alone(db_url) if DATABASE_ALONE and ingest is current_ingest \
            else 0.0
    latencies = probe.watch_latencies or [0.0]
    return {"wall": wall, "deliveries": deliveries, "per_second": deliveries / wall,
            "stall": max(probe.stalls or [0.0]), "watch_max": max(latencies),
            "watch_median": statistics.median(latencies), "watch_p95": _p95(latencies),
            "watch_count": len(latencies),
            "rss": rss, "child_rss": child_rss, "alone": alone}


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def show(label: str, r: dict[str, float]) -> None:
    print(f"  {label}: ingest {r['wall']:.1f} s, {r['deliveries']:,.0f} deliveries "
          f"({r['per_second']:,.0f}/s), longest loop stall {r['stall'] * 1000:.0f} ms, "
          f"/watch during ingest: {r['watch_count']:.0f} sent, median "
          f"{r['watch_median'] * 1000:.0f} ms, p95 {r['watch_p95'] * 1000:.0f} ms, "
          f"max {r['watch_max'] * 1000:.0f} ms, "
          f"peak RSS so far {r['rss']:,.0f} MB"
          + (f" + matching process {r['child_rss']:,.0f} MB" if r["child_rss"] else ""),
          flush=True)
    if r["alone"]:
        print(f"  the database alone, given the same rows again in the same batches: "
              f"{r['alone']:,.0f} rows/s; the ingest reached "
              f"{r['per_second'] / r['alone']:.0%} of it", flush=True)


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING, format="  %(message)s")
    logging.getLogger("bot.ingest.pipeline").setLevel(logging.INFO)  # the fan-out's figures
    if args.slow_callbacks:  # name every step of the event loop over 50 ms
        asyncio.get_running_loop().slow_callback_duration = 0.05
    corpus = Corpus()
    watches = make_watches(corpus, args.watches)
    papers = make_papers(PaperMaker(corpus, seed=11), args.papers)
    where = "PostgreSQL" if args.url else "SQLite"
    print(f"{args.watches:,} watches, {args.papers:,} new papers, {where}", flush=True)
    current = await measure("current", args.url, watches, papers, current_ingest)
    show("current ", current)
    if args.baseline:
        base = await measure("baseline", args.url, watches, papers, baseline_ingest)
        show("baseline", base)
        print(f"  ratio (baseline / current): wall {base['wall'] / current['wall']:.2f}x, "
              f"deliveries/s {current['per_second'] / base['per_second']:.2f}x, "
              f"loop stall {base['stall'] / max(current['stall'], 1e-6):.1f}x, "
              f"/watch max {base['watch_max'] / max(current['watch_max'], 1e-6):.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--watches", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--url", default=None, help="a PostgreSQL URL (default: SQLite file)")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument("--no-watch-probe", dest="watch_probe", action="store_false",
                        help="send no /watch during the ingest (the ingest alone)")
    parser.add_argument("--no-database-alone", dest="database_alone", action="store_false",
                        help="skip storing the rows again with nothing else running")
    parser.add_argument("--stall-stacks", action="store_true",
                        help="print the event loop's stack whenever it stalls over 50 ms")
    parser.add_argument("--slow-callbacks", action="store_true",
                        help="asyncio debug mode: log each loop step over 50 ms")
    arguments = parser.parse_args()
    WATCH_PROBE = arguments.watch_probe
    STALL_STACKS = arguments.stall_stacks
    DATABASE_ALONE = arguments.database_alone
    asyncio.run(main(arguments), debug=arguments.slow_callbacks)
