"""Load test: N `paperwatch run --role worker` processes on one PostgreSQL database deliver
a queue of alerts through a fake Telegram Bot API; zero lost, zero duplicated, and the
throughput of N processes against one.

The queue is written straight into a fresh database (one chat per alert, so every alert is
one message and the count is exact); each run starts its processes, waits until the fake
has accepted every message, stops them with SIGTERM, then checks the fake's log and the
outbox. Needs a PostgreSQL server (the URL of an existing database to connect through;
each run creates and drops its own database).

    python -m bench.cluster --alerts 20000 --processes 1 3 \
        --db postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy import insert, select

from storage import db
from storage.models import Chat, Delivery, PaperRow
from tests.fakes.telegram_api import FakeTelegramAPI

WORKER_SETTINGS = """
[delivery]
poll_seconds = 0.2
batch_size = 100
lease_seconds = {lease}
concurrency = 8
# the bench measures the cluster, not the platform's flood limit (bench/delivery.py does)
[delivery.pacing.telegram]
per_second = 0.0
chat_per_second = 0.0
group_per_minute = 0.0
"""


@dataclass
class RunResult:
    processes: int
    alerts: int
    seconds: float  # from the first accepted message to the last
    delivered: int
    duplicated: int
    lost: int
    not_sent_rows: int

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0


async def create_database(admin_url: str) -> str:
    name = f"pw_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rpartition("/")[0] + "/" + name


async def drop_database(admin_url: str, url: str) -> None:
    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rpartition("/")[2]}" WITH (FORCE)')
    finally:
        await conn.close()


async def fill_queue(url: str, alerts: int) -> None:
    """One telegram chat per alert, one paper per alert, every delivery due now."""
    engine = db.create_engine(url)
    await db.upgrade(engine)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        for start in range(0, alerts, 5000):
            ids = range(start + 1, min(alerts, start + 5000) + 1)
            await conn.execute(insert(Chat), [
                {"id": i, "platform": "telegram", "external_id": str(i), "kind": "user",
                 "state": "active", "created_at": now} for i in ids])
            await conn.execute(insert(PaperRow), [
                {"id": f"2601.{i:05d}", "title": f"Paper number {i}", "summary": "",
                 "authors": [], "categories": [], "keywords": [], "source": "bench",
                 "first_seen": now, "updated_at": now} for i in ids])
            await conn.execute(insert(Delivery), [
                {"chat_id": i, "paper_id": f"2601.{i:05d}", "watch_ids": [],
                 "why": [["title", "paper"]], "state": "pending", "attempts": 0,
                 "next_attempt_at": now, "created_at": now} for i in ids])
    await engine.dispose()


async def outbox_not_sent(url: str) -> int:
    engine = db.create_engine(url)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(Delivery.id).where(Delivery.state != "sent"))).all()
    await engine.dispose()
    return len(rows)


async def spawn_worker(config: Path, token: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PAPERWATCH_TELEGRAM_TOKEN": token}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--role", "worker", "--config", str(config),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def run_once(admin_url: str, alerts: int, processes: int, *, kill_one_after: int = 0,
                   lease: float = 5.0, timeout: float = 900.0) -> RunResult:
    """Deliver `alerts` with `processes` workers; optionally SIGKILL one of them once
    `kill_one_after` messages were accepted (the crash test)."""
    url = await create_database(admin_url)
    try:
        await fill_queue(url, alerts)
        async with FakeTelegramAPI() as fake:
            with tempfile.TemporaryDirectory() as tmp:
                config = Path(tmp) / "worker.toml"
                config.write_text(f'[database]\nurl = "{url}"\n[telegram]\nenabled = true\n'
                                  f'api_base_url = "{fake.base_url}"\n[sources.hf]\n'
                                  f'enabled = false\n' + WORKER_SETTINGS.format(lease=lease))
                workers = [await spawn_worker(config, fake.token) for _ in range(processes)]
                try:
                    # the clock starts at the first message, not at process start-up
                    await fake.wait_for(lambda: len(fake.sent) >= 1, timeout)
                    started = time.perf_counter()
                    if kill_one_after:
                        await fake.wait_for(lambda: len(fake.sent) >= kill_one_after, timeout)
                        workers[0].send_signal(signal.SIGKILL)
                    await fake.wait_for(lambda: len({s.chat_id for s in fake.accepted()})
                                        >= alerts, timeout)
                    seconds = time.perf_counter() - started
                    await asyncio.sleep(1.0)  # anything sent twice late would show up now
                finally:
                    for worker in workers:
                        if worker.returncode is None:
                            worker.send_signal(signal.SIGTERM)
                    for worker in workers:
                        await asyncio.wait_for(worker.wait(), 30)
            per_chat = Counter(s.chat_id for s in fake.accepted())
        return RunResult(processes=processes, alerts=alerts, seconds=seconds,
                         delivered=len(per_chat),
                         duplicated=sum(n - 1 for n in per_chat.values()),
                         lost=alerts - len(per_chat), not_sent_rows=await outbox_not_sent(url))
    finally:
        await drop_database(admin_url, url)


async def main(args: argparse.Namespace) -> None:
    results = [await run_once(args.db, args.alerts, n) for n in args.processes]
    base = results[0].rate
    print(f"| processes | alerts | seconds | messages/s | vs {results[0].processes} process "
          "| lost | duplicated | rows not sent |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r.processes} | {r.alerts:,} | {r.seconds:.1f} | {r.rate:.0f} | "
              f"{r.rate / base:.2f}x | {r.lost} | {r.duplicated} | {r.not_sent_rows} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=20_000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--db", default=os.environ.get(
        "PAPERWATCH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"))
    asyncio.run(main(parser.parse_args()))
