"""Small helpers for tests: write paper files, a sender standing in for a chat platform."""

from __future__ import annotations

import json
from pathlib import Path

from bot.types import ChatRef, OutMessage, RichText, SendError


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

    def __init__(self, platform: str = "console", failures: list[SendError] | None = None):
        self.platform = platform
        self.failures = list(failures or [])
        self.sent: list[tuple[ChatRef, OutMessage]] = []
        self.attempts = 0

    def measure(self, text: RichText) -> int:
        return len(text.plain())

    async def send(self, chat: ChatRef, message: OutMessage) -> None:
        self.attempts += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((chat, message))
