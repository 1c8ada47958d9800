"""Telegram updates through the real python-telegram-bot Application (issue 14): handled
concurrently across chats, in arrival order within a chat (adapters.telegram_updates.
PerChatOrder, given to the Application builder as `concurrent_updates`).

The fake Bot API holds every sendMessage to Ann's chat for a few seconds. Then:
- Bob's command is answered while Ann's first reply is still held (no chat waits for
  another: with PTB's default of one update at a time, Bob would wait behind Ann);
- Ann's second command is handled only after her first one finished: its reply reaches
  the fake after the first reply was accepted, and lists the watch the first one added.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from adapters.telegram_bot import TelegramAdapter
from bot.config import TelegramConfig
from tests.fakes.telegram_api import FakeTelegramAPI, chat, user

WAIT = 20.0  # an upper bound on any single wait, never a timing assertion
HOLD = 3.0  # seconds the fake holds each reply to Ann
ANN, BOB = user(42, "Ann"), user(43, "Bob")
ANN_CHAT, BOB_CHAT = chat(42, "private", "Ann"), chat(43, "private", "Bob")


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
async def telegram(app, fake) -> AsyncIterator[TelegramAdapter]:
    config = replace(TelegramConfig(enabled=True, api_base_url=fake.base_url,
                                    token=fake.token), concurrent_updates=8)
    adapter = TelegramAdapter(config, app.commands, poll_timeout=5)
    app.add_sender(adapter)
    await asyncio.wait_for(adapter.start(), WAIT)
    yield adapter
    await asyncio.wait_for(adapter.stop(), WAIT)


def _replies_to(fake: FakeTelegramAPI, chat_id: int) -> int:
    """sendMessage calls about `chat_id` that reached the fake (answered or still held)."""
    return sum(1 for p in fake.method_calls("sendMessage") if int(p["chat_id"]) == chat_id)


async def test_other_chats_go_on_while_one_chat_keeps_its_order(telegram, fake):
    fake.delay("sendMessage", 42, HOLD)
    await fake.push_command(ANN_CHAT, "/watch federated learning", ANN)
    await fake.wait_for(lambda: _replies_to(fake, 42) == 1, timeout=WAIT)  # held now
    await fake.push_command(ANN_CHAT, "/watches", ANN)
    await fake.push_command(BOB_CHAT, "/help", BOB)

    bob = await fake.next_sent(43, timeout=WAIT)
    assert "/watch" in bob.plain
    assert fake.accepted(42) == []  # Bob was answered while Ann's first reply was held

    # the moment Ann's second reply reaches the fake, her first one must be done
    first_done_then: list[bool] = []

    def second_reply_arrived() -> bool:
        if _replies_to(fake, 42) < 2:
            return False
        first_done_then.append(len(fake.accepted(42)) >= 1)
        return True

    await fake.wait_for(second_reply_arrived, timeout=WAIT)
    assert first_done_then == [True], "Ann's /watches ran before her /watch had finished"
    await fake.wait_for(lambda: len(fake.accepted(42)) == 2, timeout=WAIT)
    watched, listed = fake.accepted(42)
    assert "Watching “federated learning”" in watched.plain
    assert "federated learning" in listed.plain and "Watches (1)" in listed.plain
