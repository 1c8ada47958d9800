"""Telegram updates handled concurrently, each chat's in the order they arrived.

python-telegram-bot handles one update at a time unless `concurrent_updates` is set; then
it runs them all at once, and two commands of one chat could finish out of order (`/watch`
then `/watches` answered without the new watch). `PerChatOrder` lets up to N updates run
together while the updates of one chat wait for each other, in arrival order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


class PerChatOrder(BaseUpdateProcessor):
    """A bounded update processor that keeps the order of updates within each chat."""

    def __init__(self, max_concurrent_updates: int = 32) -> None:
        super().__init__(max_concurrent_updates)
        self._tails: dict[object, asyncio.Future[None]] = {}

    @staticmethod
    def _chat_key(update: object) -> object:
        if isinstance(update, Update) and update.effective_chat is not None:
            return update.effective_chat.id
        return None  # updates without a chat (rare) are ordered among themselves

    async def process_update(  # type: ignore[misc]  # final in PTB: see the comment below
            self, update: object, coroutine: Awaitable[Any]) -> None:
        # Take this update's place in its chat's queue BEFORE waiting for a concurrency slot,
        # so arrival order decides, not which waiter the semaphore happens to wake first.
        key = self._chat_key(update)
        previous = self._tails.get(key)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tails[key] = mine
        try:
            if previous is not None:
                await asyncio.shield(previous)
            await super().process_update(update, coroutine)
        finally:
            mine.set_result(None)
            if self._tails.get(key) is mine:
                del self._tails[key]

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await coroutine

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
