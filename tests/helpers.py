"""Small helpers for tests: write paper files, a sender standing in for a chat platform,
the delivery worker running through the real Telegram adapter."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from adapters.telegram_bot import TelegramAdapter
from bot.config import TelegramConfig
from bot.types import ChatMoved, ChatRef, OutMessage, RichText, SendError


async def no_sleep(_seconds: float) -> None:
    """A sleep that returns at once: retries and pacing in tests without waiting."""
    return None


def paper_item(pid: str, title: str, summary: str = "", **extra: object) -> dict:
    return {"id": pid, "title": title, "summary": summary, "authors": extra.pop("authors", []),
            "categories": extra.pop("categories", ["cs.LG"]),
            "published": "2026-11-24T08:00:00Z", **extra}


def write_jsonl(path: Path, items: list[object]) -> Path:
    path.write_text("\n".join(i if isinstance(i, str) else json.dumps(i) for i in items) + "\n")
    return path


class ScriptedSender:
    """A platform at the network edge that fails as scripted, then accepts messages."""

    max_chars = 4000

    def __init__(self, platform: str = "console", failures: list[SendError] | None = None,
                 moved: dict[str, str] | None = None):
        self.platform = platform
        self.failures = list(failures or [])
        self.moved = dict(moved or {})  # old chat id -> new: refused as a migrated chat is
        self.sent: list[tuple[ChatRef, OutMessage]] = []
        self.attempts = 0

    def measure(self, text: RichText) -> int:
        return len(text.plain())

    async def send(self, chat: ChatRef, message: OutMessage) -> None:
        self.attempts += 1
        if chat.external_id in self.moved:
            raise ChatMoved(self.moved[chat.external_id])
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat, message))


@asynccontextmanager
async def telegram_sender(app: Any, fake: Any, wait: float = 10) -> AsyncIterator[TelegramAdapter]:
    """The real Telegram adapter (send-only) to a fake Bot API as the app's Telegram sender,
    from entering the block until leaving it."""
    adapter = TelegramAdapter(TelegramConfig(enabled=True, token=fake.token,
                                             api_base_url=fake.base_url), app.commands)
    await asyncio.wait_for(adapter.start(receive=False), wait)
    app.add_sender(adapter)
    try:
        yield adapter
    finally:
        await asyncio.wait_for(adapter.stop(), wait)


@asynccontextmanager
async def delivering_through_telegram(app: Any, fake: Any) -> AsyncIterator[None]:
    """The app's delivery worker sending through the real Telegram adapter (send-only) to a
    fake Bot API, from entering the block until leaving it."""
    async with telegram_sender(app, fake):
        stop = asyncio.Event()
        worker = asyncio.create_task(app.delivery.run(stop))
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait_for(worker, 10)



def run_config(tmp_path: Path, fake: Any, db_url: str, hf_url: str = "", extra: str = "") -> Path:
    """A config file for a `paperwatch run` subprocess: Telegram at the fake Bot API, the HF
    source at `hf_url` (off without one), deliveries polled every 0.2 s, `extra` appended."""
    path = tmp_path / "paperwatch.toml"
    hf = f'enabled = true\nbase_url = "{hf_url}"\npoll_seconds = 10' if hf_url else "enabled = false"
    path.write_text(f"""
[database]
url = "{db_url}"
[telegram]
enabled = true
api_base_url = "{fake.base_url}"
[sources.hf]
{hf}
[delivery]
poll_seconds = 0.2
{extra}""")
    return path


@asynccontextmanager
async def fresh_postgres_database(server_url: str) -> AsyncIterator[str]:
    """A private database on the PostgreSQL server of `server_url` (a SQLAlchemy URL),
    dropped afterwards; yields its URL."""
    import asyncpg

    name = f"pw_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = server_url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield f"{server_url.rpartition('/')[0]}/{name}"
    finally:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
