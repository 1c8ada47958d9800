"""Bench: the round trip of `/watch` on Telegram, through the real python-telegram-bot.

Starts the fake Bot API (tests/fakes/telegram_api.py) on 127.0.0.1, an App on a fresh
SQLite file (or the database URL given) holding the bundled sample papers, and the Telegram
adapter in polling mode. Each run queues one `/watch QUERY` update and times it until the
fake receives the bot's reply: long-poll wake-up, update parsing, the command's transaction
(chat row, duplicate check, insert, the 7-day preview over stored papers), HTML rendering and
sendMessage. An untimed `/unwatch` follows each run so the chat stays under its watch limit.
Prints the median and the 95th percentile, and for comparison the same command dispatched
straight to the core (no Telegram at all): the difference is what the Telegram path costs.

    python -m bench.telegram_roundtrip --runs 200
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from adapters.telegram_bot import TelegramAdapter
from bot.app import App, sample_papers_path
from bot.config import Config, TelegramConfig
from bot.types import ChatRef, Incoming
from tests.fakes.telegram_api import FakeTelegramAPI, chat, user

QUERIES = ("federated learning", "diffusion transformer", "video generation",
           "reinforcement learning", "large language models")


async def _exchange(fake: FakeTelegramAPI, where: dict, text: str) -> float:
    """Queue `text`, wait for the reply; seconds between the two."""
    before = len(fake.accepted(where["id"]))
    start = time.perf_counter()
    await fake.push_command(where, text, user(where["id"]))
    await fake.next_sent(where["id"], after=before, timeout=30)
    return time.perf_counter() - start


def _summary(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return (f"median {statistics.median(times) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
            f"max {times[-1] * 1000:.1f} ms")


async def _core_once(app: App, query: str) -> float:
    """The same command dispatched straight to the core, in a chat of its own."""
    where = ChatRef("bench", "core-only")
    start = time.perf_counter()
    await app.commands.dispatch(Incoming(where, f"/watch {query}"))
    elapsed = time.perf_counter() - start
    await app.commands.dispatch(Incoming(where, f"/unwatch {query}"))
    return elapsed


async def main(runs: int, warmup: int, url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        cfg = replace(Config(), database=replace(Config().database, url=db_url))
        async with FakeTelegramAPI() as fake, App(cfg) as app:
            await app.ingest_file(sample_papers_path())
            tg = TelegramConfig(enabled=True, api_base_url=fake.base_url, token=fake.token)
            adapter = TelegramAdapter(tg, app.commands)
            await adapter.start()
            try:
                where = chat(4242, "private")
                times, core = [], []
                for i in range(warmup + runs):  # interleaved, so both see the same database
                    query = QUERIES[i % len(QUERIES)]
                    elapsed = await _exchange(fake, where, f"/watch {query}")
                    await _exchange(fake, where, f"/unwatch {query}")
                    direct = await _core_once(app, query)
                    if i >= warmup:
                        times.append(elapsed)
                        core.append(direct)
            finally:
                await adapter.stop()
    backend = db_url.split(":", 1)[0]
    print(f"/watch round trip through the fake Bot API ({backend}, {runs} runs after "
          f"{warmup} warm-up): {_summary(times)}")
    print(f"the same /watch dispatched straight to the core: {_summary(core)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--db", default=None, help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.warmup, args.db))
