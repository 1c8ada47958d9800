"""Telegram updates run concurrently across chats but in arrival order within one chat."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update

from adapters.telegram_updates import PerChatOrder


def _update(update_id: int, chat_id: int) -> Update:
    chat = Chat(id=chat_id, type="private")
    return Update(update_id, message=Message(update_id, datetime.now(UTC), chat, text="/x"))


async def test_one_chat_in_order_other_chats_not_held_up():
    processor = PerChatOrder(max_concurrent_updates=8)
    done: list[tuple[int, int]] = []
    release_slow = asyncio.Event()

    async def handle(update_id: int, chat_id: int, slow: bool) -> None:
        if slow:
            await release_slow.wait()
        done.append((chat_id, update_id))

    jobs = [(1, 100, True), (2, 100, False), (3, 200, False), (4, 100, False), (5, 200, False)]
    tasks = [asyncio.create_task(processor.process_update(_update(u, c), handle(u, c, s)))
             for u, c, s in jobs]
    await asyncio.sleep(0.05)
    # chat 200 went on while chat 100's first command was still running...
    assert done == [(200, 3), (200, 5)]
    release_slow.set()
    await asyncio.gather(*tasks)
    # ...and chat 100's commands finished in the order they came
    assert [u for c, u in done if c == 100] == [1, 2, 4]
    assert processor._tails == {}  # nothing kept once a chat is idle


async def test_a_busy_chat_cannot_take_every_slot():
    processor = PerChatOrder(max_concurrent_updates=2)
    gate = asyncio.Event()
    finished: list[int] = []

    async def handle(update_id: int, wait: bool) -> None:
        if wait:
            await gate.wait()
        finished.append(update_id)

    busy = [asyncio.create_task(processor.process_update(_update(n, 1), handle(n, True)))
            for n in range(1, 11)]
    other = asyncio.create_task(processor.process_update(_update(99, 2), handle(99, False)))
    await asyncio.wait_for(other, timeout=5)
    assert finished == [99]
    gate.set()
    await asyncio.gather(*busy)
    assert finished[1:] == list(range(1, 11))


async def test_a_failing_update_does_not_block_its_chat():
    processor = PerChatOrder(max_concurrent_updates=4)
    seen: list[int] = []

    async def boom() -> None:
        raise RuntimeError("handler failed")

    async def fine() -> None:
        seen.append(2)

    first = asyncio.create_task(processor.process_update(_update(1, 7), boom()))
    second = asyncio.create_task(processor.process_update(_update(2, 7), fine()))
    results = await asyncio.gather(first, second, return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and seen == [2]
