"""Bench: a burst of alerts through the real delivery path at Telegram's speed limit.

10,000 alerts (2,000 papers, each matching 5 of 2,000 recipients) are written into the
outbox of a fresh database; the delivery worker sends them through the real Telegram
adapter (python-telegram-bot) to a fake Bot API on 127.0.0.1 that enforces Telegram's
flood limits — 30 messages/s overall, 1 message/s per chat — and answers 429 when they
are broken (tests/fakes/paced_platform.py). With --bursts N the alerts arrive in N waves,
--interval seconds apart (later waves coalesce with what still waits).

Reported: the sustained rate (messages / (last arrival - first arrival + 1 s), i.e. the
share of the 30-per-second windows that carried a message), 429s received, alerts lost
and duplicated, and messages after coalescing vs. alerts.

    python -m bench.delivery                       # 10,000 alerts, 2,000 recipients
    python -m bench.delivery --db postgresql+asyncpg://postgres@127.0.0.1:5432/test
    python -m bench.delivery --alerts 2000 --recipients 500 --bursts 3 --interval 5

With a PostgreSQL URL the bench creates its own database next to the one named and drops
it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.cluster import create_database, drop_database
from bot.app import App
from bot.config import Config, PacingConfig, PlatformPacing
from storage import repo
from storage.models import Chat, Delivery, PaperRow
from tests.fakes.paced_platform import FloodRules, PacedTelegramAPI
from tests.helpers import delivering_through_telegram

TITLE = re.compile(r"Bench paper (\d{4}\.\d{5})")


@dataclass
class Result:
    alerts: int
    recipients: int
    messages: int
    seconds: float  # first to last accepted message
    end_to_end: float  # from the first wave to the last message
    too_many: int
    lost: int
    duplicated: int
    limit: float

    @property
    def rate(self) -> float:
        return self.messages / (self.seconds + 1.0)


def make_alerts(alerts: int, recipients: int, per_paper: int, seed: int
                ) -> list[tuple[int, str]]:
    """Each paper matches `per_paper` distinct recipients; the first papers go round the
    recipients so that every one of them gets at least one alert."""
    rng = random.Random(seed)
    everyone = list(range(1, recipients + 1))
    rng.shuffle(everyone)
    out = []
    for p in range(alerts // per_paper):
        start = p * per_paper
        if start + per_paper <= recipients:
            chats = everyone[start:start + per_paper]
        else:
            chats = rng.sample(everyone, per_paper)
        out += [(chat, f"2601.{p:05d}") for chat in chats]
    return out


async def setup(app: App, recipients: int, pairs: list[tuple[int, str]]) -> None:
    now = app.clock()
    async with app.sessions.begin() as session:
        await session.execute(insert(Chat), [
            {"id": n, "platform": "telegram", "external_id": str(n), "kind": "user",
             "state": "active", "created_at": now} for n in range(1, recipients + 1)])
        await session.execute(insert(PaperRow), [
            {"id": pid, "title": f"Bench paper {pid}", "summary": "A short abstract.",
             "authors": ["A. Author"], "categories": ["cs.LG"], "keywords": [],
             "source": "bench", "first_seen": now, "updated_at": now}
            for pid in sorted({pid for _, pid in pairs})])


async def enqueue(app: App, pairs: list[tuple[int, str]]) -> None:
    now = app.clock()
    async with app.sessions.begin() as session:
        await repo.enqueue_deliveries(session, [
            {"chat_id": chat, "paper_id": pid, "watch_ids": [], "why": [["title", "bench"]],
             "state": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
            for chat, pid in pairs])
    app.delivery.notify()


async def pending(app: App) -> int:
    async with app.sessions() as session:
        return await session.scalar(select(func.count()).where(Delivery.state != "sent"))


async def run(args: argparse.Namespace) -> Result:
    pairs = make_alerts(args.alerts, args.recipients, args.per_paper, args.seed)
    limits = PlatformPacing(args.rate, args.chat_rate, 20)
    postgres = bool(args.db and args.db.startswith("postgresql"))
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        if postgres:
            url = await create_database(args.db)
        try:
            return await _run(args, pairs, limits, url)
        finally:
            if postgres:
                await drop_database(args.db, url)


async def _run(args: argparse.Namespace, pairs: list[tuple[int, str]], limits: PlatformPacing,
               url: str) -> Result:
    cfg = Config()
    cfg = replace(cfg, database=replace(cfg.database, url=url),
                  delivery=replace(cfg.delivery, poll_seconds=0.2,
                                   pacing=PacingConfig(telegram=limits)))
    rules = FloodRules(int(args.rate), int(args.chat_rate), 20)
    async with PacedTelegramAPI(rules) as fake, App(cfg) as app:
        await setup(app, args.recipients, pairs)
        waves = [pairs[i::args.bursts] for i in range(args.bursts)]
        async with delivering_through_telegram(app, fake):
            began = time.perf_counter()
            for index, wave in enumerate(waves):
                if index:
                    await asyncio.sleep(args.interval)
                await enqueue(app, wave)
            while await pending(app):
                await asyncio.sleep(0.5)
            ended = time.perf_counter()
            await asyncio.sleep(1.0)  # anything sent twice would show up now
        accepted = fake.accepted()
        got = Counter((s.chat_id, pid) for s in accepted for pid in TITLE.findall(s.plain))
        times = [t for t, _ in rules.arrivals]
    return Result(alerts=len(pairs), recipients=len({c for c, _ in pairs}),
                  messages=len(accepted), seconds=max(times) - min(times),
                  end_to_end=ended - began, too_many=len(fake.too_many),
                  lost=len(set(pairs) - set(got)), duplicated=sum(n - 1 for n in got.values()),
                  limit=args.rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=2_000)
    parser.add_argument("--per-paper", type=int, default=5, help="recipients per paper")
    parser.add_argument("--bursts", type=int, default=1)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between bursts")
    parser.add_argument("--rate", type=float, default=30.0, help="overall messages/s allowed")
    parser.add_argument("--chat-rate", type=float, default=1.0, help="messages/s per chat")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    started = datetime.now(UTC)
    r = asyncio.run(run(args))
    database = "postgresql" if args.db and args.db.startswith("postgresql") else "sqlite"
    print(f"# bench.delivery {started:%Y-%m-%d %H:%M} UTC, {database}, bursts={args.bursts}")
    print("| alerts | recipients | messages sent | sending time | sustained rate | "
          "of allowed | 429s | lost | duplicated |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| {r.alerts:,} | {r.recipients:,} | {r.messages:,} | {r.seconds:.1f} s | "
          f"{r.rate:.2f}/s | {r.rate / r.limit:.3f} | {r.too_many} | {r.lost} | "
          f"{r.duplicated} |")
    print(f"end to end (first wave to outbox empty): {r.end_to_end:.1f} s")


if __name__ == "__main__":
    main()
