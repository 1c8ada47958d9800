"""Bounded shutdown (issue 14): `paperwatch run` as a real process, against a fake Telegram
Bot API that never answers a sendMessage.

- After SIGTERM the process is gone within `run.stop_seconds` plus a margin for the
  interpreter's own exit, although the reply it is sending would wait for python-telegram-
  bot's 20 s request timeout, and the platform itself never answers.
- With a long `stop_seconds`, a second SIGTERM ends the process at once (exit code 130).
- The delivery that was in flight is not lost: its row is still there, not sent, for the
  next start (its lease runs out).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select

from storage import db
from storage.models import Chat, Delivery, PaperRow
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.helpers import run_config

NEVER = 3600.0  # the fake's pause before answering: longer than any test
MARGIN = 6.0  # for the interpreter's exit and a loaded machine; well below PTB's 20 s timeout


async def _queue_one_alert(db_url: str) -> None:
    """One chat with one pending alert: the worker sends it at once (and the send hangs)."""
    engine = db.create_engine(db_url)
    await db.upgrade(engine)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(insert(Chat), [{"id": 1, "platform": "telegram",
                                           "external_id": "4242", "kind": "user",
                                           "state": "active", "created_at": now}])
        await conn.execute(insert(PaperRow), [{
            "id": "2612.00001", "title": "A paper nobody receives", "summary": "",
            "authors": [], "categories": [], "keywords": [], "source": "test",
            "first_seen": now, "updated_at": now}])
        await conn.execute(insert(Delivery), [{
            "chat_id": 1, "paper_id": "2612.00001", "watch_ids": [], "why": [],
            "state": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}])
    await engine.dispose()


async def _states(db_url: str) -> list[str]:
    engine = db.create_engine(db_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.scalars(select(Delivery.state))).all())
    finally:
        await engine.dispose()


async def _start_hanging(tmp_path: Path, fake: FakeTelegramAPI, db_url: str,
                         stop_seconds: float) -> asyncio.subprocess.Process:
    """`paperwatch run`, returned once its send is stuck in the fake."""
    await _queue_one_alert(db_url)
    fake.delay("sendMessage", None, NEVER)
    env = {**os.environ, "PAPERWATCH_TELEGRAM_TOKEN": fake.token}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        "--config", str(run_config(tmp_path, fake, db_url, extra=(
            f"[run]\nstop_seconds = {stop_seconds}\n[logging]\nlevel = \"WARNING\"\n"))), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        await fake.wait_for(lambda: fake.method_calls("sendMessage"), timeout=60)
    except BaseException:
        process.kill()
        await process.wait()
        raise
    return process


async def test_a_platform_that_never_answers_does_not_outlive_stop_seconds(tmp_path, db_url):
    stop_seconds = 2.0
    async with FakeTelegramAPI() as fake:
        process = await _start_hanging(tmp_path, fake, db_url, stop_seconds)
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), stop_seconds + MARGIN)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError("paperwatch run was still alive "
                                 f"{stop_seconds + MARGIN:.0f} s after SIGTERM") from None
        err = (await process.stderr.read()).decode()
        assert process.returncode == 0, err
        assert "did not" in err  # the send really hung: the stop says what it cut short
    assert await _states(db_url) == ["pending"]  # the alert waits for the next start


async def test_a_second_signal_exits_at_once(tmp_path, db_url):
    stop_seconds = 120.0  # the first signal alone would wait up to two minutes
    async with FakeTelegramAPI() as fake:
        process = await _start_hanging(tmp_path, fake, db_url, stop_seconds)
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert process.returncode is None  # still stopping: the send hangs
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), MARGIN)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError("a second SIGTERM did not end paperwatch run") from None
        assert process.returncode == 130
    assert await _states(db_url) == ["pending"]
