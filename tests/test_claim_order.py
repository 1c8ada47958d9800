"""Claiming finds its chats from the oldest due rows: oldest chat first, a chat's rows all
together, and chats that get nothing now (muted, another platform) with thousands of older
rows do not hide the chats behind them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from storage import repo
from storage.models import Chat, Delivery
from storage.repo.fanout import write_deliveries


async def _chat(app, clock, external_id: str, platform: str = "test") -> int:
    async with app.sessions.begin() as session:
        chat = Chat(platform=platform, external_id=external_id, kind="user", created_at=clock())
        session.add(chat)
        await session.flush()
        return chat.id


async def _due_rows(app, chat_id: int, papers: int, at) -> None:
    async with app.sessions.begin() as session:
        await write_deliveries(session, [(chat_id, f"2601.{n:05d}", "alert", "[1]", "[]")
                                         for n in range(papers)], at)


async def _claim(app, clock, worker: str, max_chats: int = 2) -> dict[int, int]:
    now = clock()
    async with app.sessions.begin() as session:
        rows = await repo.claim_due(session, worker, now, now + timedelta(minutes=5),
                                    max_chats=max_chats, platforms=["test"])
    claimed: dict[int, int] = {}
    for row in rows:
        claimed[row.chat_id] = claimed.get(row.chat_id, 0) + 1
    return claimed


async def test_the_oldest_chats_first_each_with_all_its_rows(app, clock):
    start = clock()
    big, old, newer, newest = [await _chat(app, clock, str(n)) for n in range(4)]
    await _due_rows(app, old, 3, start - timedelta(hours=3))
    await _due_rows(app, big, 2_500, start - timedelta(hours=2))  # more than one scan reads
    await _due_rows(app, newer, 2, start - timedelta(hours=1))
    await _due_rows(app, newest, 1, start)
    assert await _claim(app, clock, "a") == {old: 3, big: 2_500}
    assert await _claim(app, clock, "b") == {newer: 2, newest: 1}
    assert await _claim(app, clock, "c") == {}


async def test_muted_and_unserved_chats_with_older_rows_do_not_hide_the_rest(app, clock):
    start = clock()
    muted, elsewhere, waiting = (await _chat(app, clock, "m"), await _chat(app, clock, "e", "other"),
                                 await _chat(app, clock, "w"))
    await _due_rows(app, muted, 3_000, start - timedelta(days=2))
    await _due_rows(app, elsewhere, 3_000, start - timedelta(days=1))
    await _due_rows(app, waiting, 1, start)
    async with app.sessions.begin() as session:
        await session.execute(update(Chat).where(Chat.id == muted)
                              .values(muted_until=start + timedelta(days=1)))
    assert await _claim(app, clock, "a") == {waiting: 1}


async def test_a_chat_another_worker_is_sending_waits_for_it(app, clock):
    start = clock()
    sending, other = await _chat(app, clock, "s"), await _chat(app, clock, "o")
    await _due_rows(app, sending, 2, start - timedelta(hours=1))
    await _due_rows(app, other, 1, start)
    assert await _claim(app, clock, "a", max_chats=1) == {sending: 2}
    # a new row for the chat arrives while worker a still holds its first two
    async with app.sessions.begin() as session:
        await write_deliveries(session, [(sending, "2602.00001", "alert", "[1]", "[]")],
                               start - timedelta(hours=2))
    assert await _claim(app, clock, "b") == {other: 1}
    async with app.sessions.begin() as session:
        await session.execute(update(Delivery).where(Delivery.claimed_by == "a")
                              .values(state="sent", claimed_by=None, claimed_until=None))
    assert await _claim(app, clock, "b") == {sending: 1}
