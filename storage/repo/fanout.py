"""The fan-out of new papers at scale: watch rows in pages, delivery rows in bulk.

Delivery rows are written the fastest way each database offers inside short transactions:
PostgreSQL copies them (asyncpg COPY, text format) straight into the table, or, when some
exist already, into a temporary staging table moved with one INSERT ... SELECT ... ON
CONFLICT DO NOTHING; the COPY lines are made where the rows are planned (`copy_text`, in
the matching process), so the bot's own process only passes bytes on;
SQLite takes multi-row INSERT OR IGNORE statements sent straight to the sqlite3 connection
(in aiosqlite's thread), with the rows as prebuilt tuples of plain values and the constant
columns written into the statement: SQLAlchemy's per-row type processing (JSON,
UTCDateTime) ran on the event loop and cost more than the insert itself. The timestamps are
written as SQLAlchemy stores them, so the ORM reads them back unchanged. Hit counts move
with one statement per batch. None of these functions commits: the caller's transaction
(the session) holds everything.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.types import Paper
from storage.models import SENT_ALERTS, Chat, Delivery, PaperRow, Watch
from storage.repo.papers import paper_from_row

# (chat_id, paper_id, kind, watch_ids, why) — the rest of a delivery row is the same for all
# (watch_ids and why as JSON text, or as lists to be serialized)
DeliveryRow = tuple[int, str, str, str | list[int], str | list[list[str]]]
TextRow = tuple[int, str, str, str, str]  # watch_ids and why as JSON text

# rows per SQLite statement: one statement is one step in C for the whole group (an
# executemany steps row by row, taking the interpreter lock back between rows, which
# measured 4x slower while the matching thread runs); 5 x 1,000 stays under the 32,766
# parameters SQLite allows by default (999 before 3.32: 199 rows)
_SQLITE_ROWS = 1_000 if sqlite3.sqlite_version_info >= (3, 32) else 199
_SQLITE_DIALECT = sqlite.dialect()
_SQLITE_DATETIME = sqlite.DATETIME()
DELIVERY_COLUMNS = ("chat_id", "paper_id", "kind", "watch_ids", "why", "state", "attempts",
            "next_attempt_at", "created_at")


async def watch_rows(session: AsyncSession, after_id: int, limit: int
                     ) -> list[tuple[int, int, str]]:
    """(id, chat id, query) of active watches with id > after_id, by id, at most `limit`."""
    rows = await session.execute(
        select(Watch.id, Watch.chat_id, Watch.query)
        .where(Watch.id > after_id, Watch.deleted_at.is_(None))
        .order_by(Watch.id).limit(limit))
    return [(wid, cid, text) for wid, cid, text in rows]


async def active_watch_count(session: AsyncSession) -> int:
    return int(await session.scalar(
        select(func.count()).select_from(Watch).where(Watch.deleted_at.is_(None))) or 0)


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
    Returns how many rows were new. `watch_ids` and `why` may be given as JSON text (the
    planner's rows) or as lists."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return await copy_deliveries(session, copy_text(rows, now))
    driver = await _driver(session)
    rows = _as_text(rows)
    stamp = _sqlite_time(now)
    written = 0
    for start in range(0, len(rows), _SQLITE_ROWS):
        part = rows[start:start + _SQLITE_ROWS]
        cursor = await driver.execute(_sqlite_insert(len(part), stamp),
                                      [value for row in part for value in row])
        written += max(cursor.rowcount, 0)
        await cursor.close()
    return written


def _sqlite_insert(count: int, stamp: str) -> str:
    """INSERT OR IGNORE of `count` rows in one statement (the constant columns inline)."""
    values = f"(?, ?, ?, ?, ?, 'pending', 0, {stamp}, {stamp})"
    return (f"INSERT OR IGNORE INTO deliveries ({', '.join(DELIVERY_COLUMNS)}) VALUES "
            + ", ".join([values] * count))


def _as_text(rows: Sequence[DeliveryRow]) -> Sequence[TextRow]:
    """The rows with watch_ids and why as JSON text (the planner's rows already are)."""
    if all(isinstance(r[3], str) and isinstance(r[4], str) for r in rows):
        return cast(Sequence[TextRow], rows)
    return [(c, p, k, w if isinstance(w, str) else json.dumps(w),
             y if isinstance(y, str) else json.dumps(y)) for c, p, k, w, y in rows]


def _sqlite_time(now: datetime) -> str:
    """`now` as the SQL literal SQLAlchemy's UTCDateTime stores on SQLite."""
    naive = now.astimezone(UTC).replace(tzinfo=None)
    text = _SQLITE_DATETIME.bind_processor(_SQLITE_DIALECT)(naive)  # type: ignore[misc]  # stubs: may be None
    return f"'{text}'"


async def _driver(session: AsyncSession) -> Any:
    """The session's driver connection (aiosqlite or asyncpg), inside the session's
    transaction. SQLAlchemy opens that transaction lazily, at its first statement: run one,
    or statements sent straight to the driver could each commit on their own. Statements
    sent to aiosqlite run in its own thread, so the event loop only waits."""
    await session.execute(select(1))
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


# COPY's text format: a backslash, tab, newline or carriage return in a value is escaped
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(rows: Sequence[DeliveryRow], now: datetime, *, json_text: bool = False) -> bytes:
    """The rows as lines of PostgreSQL's COPY text format, every column of
    DELIVERY_COLUMNS: made where the rows are planned (the matching process), the bot's own
    process then only passes the bytes on.

    The lines are joined first and their backslashes doubled in one pass: the JSON texts
    never hold a raw tab, newline or carriage return, and a paper id that did would show
    in the count of tabs and newlines, and the lines are then made again escaping each
    value (1.5 us a row against 0.4). `json_text`: the caller made watch_ids and why JSON
    text already (the planner), so the rows need not be looked through for lists."""
    texts = cast(Sequence[TextRow], rows) if json_text else _as_text(rows)
    stamp = now.isoformat()
    suffix = f"\tpending\t0\t{stamp}\t{stamp}\n"
    lines = "".join([f"{chat}\t{paper}\t{kind}\t{watches}\t{why}{suffix}"
                     for chat, paper, kind, watches, why in texts])
    if (lines.count("\n") != len(texts) or lines.count("\t") != 8 * len(texts)
            or "\r" in lines):
        lines = "".join([f"{chat}\t{_copy_value(paper)}\t{_copy_value(kind)}\t"
                         f"{_copy_value(watches)}\t{_copy_value(why)}{suffix}"
                         for chat, paper, kind, watches, why in texts])
    elif "\\" in lines:
        lines = lines.replace("\\", "\\\\")
    return lines.encode()


def _copy_value(value: str) -> str:
    return value.translate(_COPY_ESCAPES)


async def copy_deliveries(session: AsyncSession, lines: bytes) -> int:
    """Insert pending deliveries given as `copy_text` lines; a (chat, paper, kind) that
    exists already is left alone. Returns how many rows were new.

    The lines are copied straight into deliveries inside a savepoint: a fresh fan-out's rows
    are all new, and a staging table's second pass (INSERT ... SELECT ... ON CONFLICT) cost
    as much as the copy. When a row exists already (a resumed fan-out, a backfill, a
    follow-up queued twice) the COPY fails whole, the savepoint is undone and the lines go
    through the staging table, which skips the existing ones."""
    import asyncpg  # the postgres extra: only PostgreSQL sessions come here

    if not lines:
        return 0
    driver = await _driver(session)
    # the commit need not wait for its WAL to reach the disk: a crash loses only the last
    # transactions, in order, so either the one that unmarks the papers survives with all
    # the rows before it, or the papers stay marked and their fan-out is redone
    await driver.execute("SET LOCAL synchronous_commit TO OFF")
    try:
        async with driver.transaction():  # a savepoint: the session's transaction is open
            return _count(await _copy_in(driver, "deliveries", lines))
    except asyncpg.UniqueViolationError:
        pass
    await driver.execute(
        "CREATE TEMP TABLE IF NOT EXISTS delivery_lines (chat_id int, paper_id varchar(64), "
        "kind varchar(16), watch_ids json, why json, state varchar(16), attempts int, "
        "next_attempt_at timestamptz, created_at timestamptz) ON COMMIT DELETE ROWS")
    await _copy_in(driver, "delivery_lines", lines)
    columns = ", ".join(DELIVERY_COLUMNS)
    status = await driver.execute(
        f"INSERT INTO deliveries ({columns}) SELECT {columns} FROM delivery_lines "
        "ON CONFLICT (chat_id, paper_id, kind) DO NOTHING")
    await driver.execute("TRUNCATE delivery_lines")
    return _count(status)


async def _copy_in(driver: Any, table: str, lines: bytes) -> str:
    """COPY `copy_text` lines into `table`; asyncpg's status, "COPY n"."""
    # bytes would be taken for a file name: a memoryview is sent as the data
    status: str = await driver.copy_to_table(table, source=memoryview(lines),
                                             columns=DELIVERY_COLUMNS, format="text")
    return status


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])  # "COPY 1234", "INSERT 0 1234"


async def add_hit_counts(session: AsyncSession, counts: Sequence[tuple[int, int]]) -> None:
    """watch.hit_count += n for (watch id, n) pairs, in one statement. Give them sorted by
    id, a few thousand at a time: the rows then sit in neighbouring pages."""
    if not counts:
        return
    driver = await _driver(session)
    if session.get_bind().dialect.name == "postgresql":
        await driver.execute(
            "UPDATE watches SET hit_count = watches.hit_count + v.n "
            "FROM unnest($1::int[], $2::int[]) AS v(id, n) WHERE watches.id = v.id",
            [wid for wid, _ in counts], [n for _, n in counts])
        return
    if sqlite3.sqlite_version_info < (3, 33):  # no UPDATE ... FROM before SQLite 3.33
        cursor = await driver.executemany(
            "UPDATE watches SET hit_count = hit_count + ? WHERE id = ?",
            [(n, wid) for wid, n in counts])
        await cursor.close()
        return
    for start in range(0, len(counts), _SQLITE_ROWS):
        part = counts[start:start + _SQLITE_ROWS]
        cursor = await driver.execute(
            "UPDATE watches SET hit_count = hit_count + v.column2 FROM (VALUES "
            + ", ".join(["(?, ?)"] * len(part)) + ") AS v WHERE watches.id = v.column1",
            [value for pair in part for value in pair])
        await cursor.close()


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
    kinds each chat wants.

    Read from the partial index of sent alerts (storage.models.SENT_ALERTS), with its
    condition in its own words (literals: with parameters neither database could tell that
    the index holds the rows asked for). PostgreSQL's statistics choose it, since nearly
    every row is sent; SQLite keeps none unless told to and would rather read the due
    index for state = 'sent', which is every sent row, so it is named there."""
    ids = list(paper_ids)
    indexed = " INDEXED BY ix_deliveries_sent_alerts" if (
        session.get_bind().dialect.name == "sqlite") else ""
    statement = text(
        f"SELECT deliveries.paper_id, chats.id, chats.followups FROM deliveries{indexed} "
        "JOIN chats ON chats.id = deliveries.chat_id "
        f"WHERE deliveries.paper_id IN :ids AND {SENT_ALERTS} AND chats.state = 'active'"
    ).bindparams(bindparam("ids", expanding=True))
    out: dict[str, list[tuple[int, frozenset[str]]]] = {}
    kinds_of: dict[str | None, frozenset[str]] = {}  # most chats have the same setting
    for start in range(0, len(ids), 900):
        rows = await session.execute(statement, {"ids": ids[start:start + 900]})
        for paper_id, chat_id, wanted in rows:
            kinds = kinds_of.get(wanted)
            if kinds is None:
                kinds = kinds_of[wanted] = frozenset(k for k in (wanted or "").split(",") if k)
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
