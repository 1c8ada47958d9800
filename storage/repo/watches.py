"""Watches: add, delete, list, what changed since a refresh, hit counts.

A chat's watches come out as frozen `WatchInfo`s, never ORM rows.
None of these functions commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.types import WatchInfo
from storage.models import (
    Chat,
    Watch,
)


def watch_info(watch: Watch) -> WatchInfo:
    return WatchInfo(id=watch.id, number=watch.number, query=watch.query,
                     hit_count=watch.hit_count, created_at=watch.created_at)


async def active_watches(session: AsyncSession, chat_id: int) -> list[WatchInfo]:
    """A chat's active watches, oldest first."""
    rows = await session.scalars(
        select(Watch).where(Watch.chat_id == chat_id, Watch.deleted_at.is_(None))
        .order_by(Watch.id))
    return [watch_info(w) for w in rows]


async def add_watch(session: AsyncSession, chat_id: int, query: str,
                    now: datetime) -> WatchInfo:
    """Store a watch with the chat's next number (numbers are never reused in a chat)."""
    highest = await session.scalar(select(func.max(Watch.number)).where(Watch.chat_id == chat_id))
    watch = Watch(chat_id=chat_id, number=(highest or 0) + 1, query=query, created_at=now,
                  hit_count=0)
    session.add(watch)
    await session.flush()
    return watch_info(watch)


async def delete_watch(session: AsyncSession, chat_id: int, watch_id: int,
                       now: datetime) -> bool:
    """Stop one of this chat's watches (by its id); False if it has no such active watch."""
    done = await session.execute(
        update(Watch).where(Watch.id == watch_id, Watch.chat_id == chat_id,
                            Watch.deleted_at.is_(None))
        .values(deleted_at=now).execution_options(synchronize_session=False))
    return bool(done.rowcount)  # type: ignore[attr-defined]  # an UPDATE/DELETE gives a CursorResult


async def watches_changed(session: AsyncSession, after_id: int, deleted_since: datetime | None,
                          created_since: datetime | None = None,
                          ) -> tuple[list[tuple[int, str]], list[int]]:
    """(id, query) of active watches with id > after_id or created since a time, and the ids
    deleted since a time. Plain rows, not ORM objects: a bot start loads a million of them."""
    recent = Watch.id > after_id
    if created_since is not None:
        recent = or_(recent, Watch.created_at >= created_since)
    added = (await session.execute(
        select(Watch.id, Watch.query).where(recent, Watch.deleted_at.is_(None))
        .order_by(Watch.id))).all()
    removed: list[int] = []
    if deleted_since is not None:
        removed = list(await session.scalars(
            select(Watch.id).where(Watch.deleted_at >= deleted_since)))
    return [(wid, text) for wid, text in added], removed


async def active_watch_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, int]:
    """Of these watch ids, the ones still active, mapped to their chat id."""
    ids = list(ids)
    out: dict[int, int] = {}
    for start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
        chunk = ids[start:start + 900]
        rows = await session.execute(
            select(Watch.id, Watch.chat_id)
            .join(Chat, Chat.id == Watch.chat_id)
            .where(Watch.id.in_(chunk), Watch.deleted_at.is_(None), Chat.state == "active"))
        out.update({wid: cid for wid, cid in rows})
    return out


async def watch_queries(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    ids = list(ids)
    if not ids:
        return {}
    rows = await session.execute(select(Watch.id, Watch.query).where(Watch.id.in_(ids)))
    return {wid: q for wid, q in rows}


async def watch_numbers(session: AsyncSession, ids: Iterable[int]) -> dict[int, int]:
    """The number each watch shows its chat (/watches, /unwatch N), by watch id."""
    ids = list(ids)
    if not ids:
        return {}
    rows = await session.execute(select(Watch.id, Watch.number).where(Watch.id.in_(ids)))
    return {wid: number for wid, number in rows}
