"""The fan-out of new papers at scale: watch rows in pages, delivery rows in bulk.

Delivery rows are written the fastest way each database offers inside short transactions:
PostgreSQL copies them (asyncpg COPY) into a temporary staging table and moves them with one
INSERT ... SELECT ... ON CONFLICT DO NOTHING; SQLite takes one executemany of INSERT OR
IGNORE. Hit counts move with one statement per batch. None of these functions commits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.types import Paper
from storage.models import Chat, Delivery, PaperRow, Watch
from storage.repo.papers import paper_from_row

# (chat_id, paper_id, kind, watch_ids, why) — the rest of a delivery row is the same for all
DeliveryRow = tuple[int, str, str, list[int], list[list[str]]]

_COLUMNS = ("chat_id", "paper_id", "kind", "watch_ids", "why", "state", "attempts",
            "next_attempt_at", "created_at")


async def watch_rows(session: AsyncSession, after_id: int, limit: int
                     ) -> list[tuple[int, int, str]]:
    """(id, chat id, query) of active watches with id > after_id, by id, at most `limit`."""
    rows = await session.execute(
        select(Watch.id, Watch.chat_id, Watch.query)
        .where(Watch.id > after_id, Watch.deleted_at.is_(None))
        .order_by(Watch.id).limit(limit))
    return [(wid, cid, text) for wid, cid, text in rows]


async def watch_changes(session: AsyncSession, after_id: int, since: datetime
                        ) -> tuple[list[tuple[int, int, str]], list[int]]:
    """Active watches added after `after_id` or since a time, and the ids deleted since."""
    added = await session.execute(
        select(Watch.id, Watch.chat_id, Watch.query)
        .where((Watch.id > after_id) | (Watch.created_at >= since), Watch.deleted_at.is_(None))
        .order_by(Watch.id))
    removed = await session.scalars(select(Watch.id).where(Watch.deleted_at >= since))
    return [(w, c, q) for w, c, q in added], list(removed)


async def inactive_chat_ids(session: AsyncSession) -> set[int]:
    """Chats that get nothing (blocked the bot, removed it, moved): few, so read them all."""
    return set(await session.scalars(select(Chat.id).where(Chat.state != "active")))


async def write_deliveries(session: AsyncSession, rows: Sequence[DeliveryRow],
                           now: datetime) -> int:
    """Insert pending deliveries; a (chat, paper, kind) that exists already is left alone.
    Returns how many rows were new."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return await _copy_deliveries(session, rows, now)
    table = cast(Table, Delivery.__table__)
    values = [{"chat_id": c, "paper_id": p, "kind": k, "watch_ids": w, "why": y,
               "state": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
              for c, p, k, w, y in rows]
    result = await session.execute(insert(table).prefix_with("OR IGNORE"), values)
    return max(result.rowcount, 0)  # type: ignore[attr-defined]


async def _asyncpg(session: AsyncSession):
    """The session's asyncpg connection, inside the session's transaction. SQLAlchemy opens
    that transaction lazily, at its first statement: run one, or statements sent straight to
    the driver would each commit on their own."""
    await session.execute(select(1))
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def _copy_deliveries(session: AsyncSession, rows: Sequence[DeliveryRow],
                           now: datetime) -> int:
    driver = await _asyncpg(session)
    await driver.execute(
        "CREATE TEMP TABLE IF NOT EXISTS delivery_stage "
        "(chat_id int, paper_id varchar(64), kind varchar(16), watch_ids text, why text) "
        "ON COMMIT DELETE ROWS")
    await driver.copy_records_to_table(
        "delivery_stage", columns=("chat_id", "paper_id", "kind", "watch_ids", "why"),
        records=[(c, p, k, json.dumps(w), json.dumps(y)) for c, p, k, w, y in rows])
    status = await driver.execute(
        f"INSERT INTO deliveries ({', '.join(_COLUMNS)}) "
        "SELECT chat_id, paper_id, kind, watch_ids::json, why::json, 'pending', 0, $1, $1 "
        "FROM delivery_stage ON CONFLICT (chat_id, paper_id, kind) DO NOTHING", now)
    await driver.execute("TRUNCATE delivery_stage")
    return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 1234"


async def add_hit_counts(session: AsyncSession, counts: dict[int, int]) -> None:
    """watch.hit_count += n for every watch of a batch, in one statement."""
    if not counts:
        return
    if session.get_bind().dialect.name == "postgresql":
        driver = await _asyncpg(session)
        await driver.execute(
            "UPDATE watches SET hit_count = watches.hit_count + v.n "
            "FROM unnest($1::int[], $2::int[]) AS v(id, n) WHERE watches.id = v.id",
            list(counts), list(counts.values()))
        return
    watches = cast(Table, Watch.__table__)
    await session.execute(
        update(watches).where(watches.c.id == bindparam("wid"))
        .values(hit_count=watches.c.hit_count + bindparam("n")),
        [{"wid": wid, "n": n} for wid, n in counts.items()])


async def mark_fanned_out(session: AsyncSession, paper_ids: Iterable[str]) -> None:
    ids = list(paper_ids)
    for start in range(0, len(ids), 900):
        await session.execute(update(PaperRow).where(PaperRow.id.in_(ids[start:start + 900]))
                              .values(fanout_pending=False))


async def papers_to_fan_out(session: AsyncSession, limit: int = 5000) -> list[Paper]:
    """Papers stored but not fully fanned out (a crash or stop in the middle): finish them."""
    rows = await session.scalars(
        select(PaperRow).where(PaperRow.fanout_pending.is_(True)).order_by(PaperRow.id)
        .limit(limit))
    return [paper_from_row(row) for row in rows]


async def alerted_chats(session: AsyncSession, paper_ids: Iterable[str]
                        ) -> dict[str, list[tuple[int, frozenset[str]]]]:
    """For each paper: the active chats that were sent an alert about it, with the follow-up
    kinds each chat wants."""
    ids = list(paper_ids)
    out: dict[str, list[tuple[int, frozenset[str]]]] = {}
    for start in range(0, len(ids), 900):
        rows = await session.execute(
            select(Delivery.paper_id, Chat.id, Chat.followups)
            .join(Chat, Chat.id == Delivery.chat_id)
            .where(Delivery.paper_id.in_(ids[start:start + 900]), Delivery.kind == "alert",
                   Delivery.state == "sent", Chat.state == "active"))
        for paper_id, chat_id, wanted in rows:
            kinds = frozenset(k for k in (wanted or "").split(",") if k)
            out.setdefault(paper_id, []).append((chat_id, kinds))
    return out


async def prune_deliveries(session: AsyncSession, before: datetime, limit: int = 5_000) -> int:
    """Delete up to `limit` sent or failed deliveries created before `before`; how many."""
    old = (select(Delivery.id).where(Delivery.state.in_(("sent", "failed")),
                                     Delivery.created_at < before).limit(limit))
    ids = list(await session.scalars(old))
    if ids:
        await session.execute(delete(Delivery).where(Delivery.id.in_(ids)))
    return len(ids)
