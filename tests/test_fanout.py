"""The fan-out at scale (issue 14): bounded steps, crash-safe, off the event loop.

- A `paperwatch ingest` process SIGKILLed in the middle of a fan-out, then run again: every
  (chat, paper) delivery exists exactly once, the same set an uninterrupted run makes.
- A `/watch` sent while a large ingest runs is answered before the ingest ends.
Both with matching in a worker thread and in the matching process (`run.matching`).
- A refresh that changes what matters queues one follow-up per alerted chat, once.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, update

from bot.app import App
from bot.types import ChatRef, Incoming
from storage import db
from storage.models import Chat, Delivery, PaperRow, Watch
from tests.helpers import paper_item, write_jsonl

WORDS = [f"topic{n}" for n in range(200)]
CHATS = 1_000
WATCHES_PER_CHAT = 4
PAPERS = 250  # three fan-out steps (100 papers each), about 80,000 deliveries


def _papers(seed: int = 5) -> list[dict]:
    rnd = random.Random(seed)
    return [paper_item(f"2611.{n:05d}", " ".join(rnd.sample(WORDS, 6)),
                       " ".join(rnd.sample(WORDS, 12))) for n in range(PAPERS)]


async def _fill_watches(url: str) -> None:
    engine = db.create_engine(url)
    await db.upgrade(engine)
    rnd = random.Random(9)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(insert(Chat), [
            {"id": c, "platform": "telegram", "external_id": str(c), "kind": "user",
             "state": "active", "created_at": now} for c in range(1, CHATS + 1)])
        await conn.execute(insert(Watch), [
            {"chat_id": c, "number": k + 1, "query": " ".join(rnd.sample(WORDS, 1)),
             "created_at": now, "hit_count": 0}
            for c in range(1, CHATS + 1) for k in range(WATCHES_PER_CHAT)])
        if engine.dialect.name == "postgresql":  # chat ids were given: move the sequence on
            await conn.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('chats', 'id'), (SELECT max(id) FROM chats))")
    await engine.dispose()


async def _deliveries(url: str) -> tuple[int, set[tuple[int, str]], int]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(Delivery.chat_id, Delivery.paper_id))).all()
            pending = (await conn.execute(select(func.count()).where(
                PaperRow.fanout_pending.is_(True)))).scalar_one()
        return len(rows), {(c, p) for c, p in rows}, pending
    finally:
        await engine.dispose()


def _config(path: Path, url: str, matching: str = "auto") -> Path:
    path.write_text(f'[database]\nurl = "{url}"\n[sources.hf]\nenabled = false\n'
                    f'[logging]\nlevel = "WARNING"\n[run]\nmatching = "{matching}"\n')
    return path


async def _ingest_process(config: Path, papers: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "ingest", str(papers), "--config", str(config),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})


@pytest.mark.parametrize("matching", ["thread", "process"])
async def test_a_fan_out_killed_midway_finishes_once_after_a_restart(db_url, tmp_path,
                                                                     matching):
    papers = write_jsonl(tmp_path / "papers.jsonl", _papers())
    # the reference: the same watches and papers, uninterrupted, on a database of its own
    reference_url = f"sqlite+aiosqlite:///{tmp_path / 'reference.db'}"
    await _fill_watches(reference_url)
    process = await _ingest_process(_config(tmp_path / "ref.toml", reference_url), papers)
    assert await process.wait() == 0, (await process.stderr.read()).decode()
    _, expected, _ = await _deliveries(reference_url)
    assert len(expected) > 40_000

    await _fill_watches(db_url)
    config = _config(tmp_path / "pw.toml", db_url, matching)
    process = await _ingest_process(config, papers)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once part of the fan-out is written
        count, _, pending = await _deliveries(db_url)
        if count > 0 and pending > 0:
            break
        await asyncio.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    await process.wait()
    count, _, pending = await _deliveries(db_url)
    assert 0 < count < len(expected) and pending > 0, "the kill did not land mid fan-out"

    process = await _ingest_process(config, papers)  # the same file again: nothing is new
    assert await process.wait() == 0, (await process.stderr.read()).decode()
    count, got, pending = await _deliveries(db_url)
    assert pending == 0
    assert count == len(got) == len(expected) and got == expected


@pytest.mark.parametrize("matching", ["thread", "process"])
async def test_a_watch_during_a_large_ingest_is_answered_before_it_ends(config, clock,
                                                                        tmp_path, matching):
    await _fill_watches(config.database.url)
    papers = write_jsonl(tmp_path / "papers.jsonl", _papers())
    config = replace(config, run=replace(config.run, matching=matching))
    async with App(config, clock=clock) as app:
        ingest = asyncio.create_task(app.ingest_file(papers))
        while app.watches.loaded is False or not await _deliveries_exist(app):
            assert not ingest.done(), "the ingest ended before the /watch was sent"
            await asyncio.sleep(0.01)  # the fan-out is under way
        reply = await app.commands.dispatch(Incoming(ChatRef("console", "probe"),
                                                     "/watch probe"))
        assert "Watching" in reply.body.plain()
        assert not ingest.done(), "the /watch waited for the whole ingest"
        assert "new" in await ingest
        assert type(app.watches).__name__ == {"thread": "WatchSet",
                                              "process": "MatcherProcess"}[matching]


async def _deliveries_exist(app: App) -> bool:
    async with app.sessions() as session:
        return bool(await session.scalar(select(func.count()).select_from(Delivery)))


async def test_a_refresh_that_brings_code_makes_one_follow_up_per_alerted_chat(app, console,
                                                                               tmp_path):
    await console.push("/watch graph neural network")
    first = write_jsonl(tmp_path / "a.jsonl", [
        paper_item("2601.00030", "A graph neural network", upvotes=3),
        paper_item("2601.00031", "Unrelated paper", upvotes=3)])
    await console.push(f"/ingest {first}")
    assert len(console.sent) == 1
    async with app.sessions.begin() as session:
        await session.execute(update(Delivery).values(state="sent"))
    with_code = write_jsonl(tmp_path / "b.jsonl", [
        paper_item("2601.00030", "A graph neural network", upvotes=80,
                   githubRepo="https://github.com/example/gnn"),
        paper_item("2601.00031", "Unrelated paper", upvotes=90,
                   githubRepo="https://github.com/example/other")])
    await console.push(f"/ingest {with_code}")
    async with app.sessions() as session:
        kinds = sorted((await session.execute(
            select(Delivery.paper_id, Delivery.kind).where(Delivery.kind != "alert"))).all())
    # code and trending for the alerted paper; nothing for the paper nobody was alerted about
    assert kinds == [("2601.00030", "code"), ("2601.00030", "trending")]
    await console.push(f"/ingest {with_code}")  # a later refresh: nothing new
    async with app.sessions() as session:
        again = (await session.execute(select(func.count()).where(
            Delivery.kind != "alert"))).scalar_one()
    assert again == 2


async def test_bulk_rows_belong_to_the_transaction_and_read_back_through_the_orm(app, clock):
    """The bulk writer goes past SQLAlchemy to the driver: a rolled-back batch leaves
    nothing, a committed one reads back through the ORM as written, and a batch written
    again (a resumed fan-out) adds nothing."""
    from storage.repo import fanout

    now = clock()
    async with app.sessions.begin() as session:
        session.add(Chat(id=7, platform="telegram", external_id="7", kind="user",
                         state="active", created_at=now))
        session.add(PaperRow(id="2611.00001", title="t", summary="", authors=[],
                             categories=[], keywords=[], source="test", first_seen=now,
                             updated_at=now))
    # a note with what COPY's text format and JSON must escape, and other scripts
    note = 'a\\b\tc\nd\r "q" \\N é 语 🚀'
    rows = [(7, "2611.00001", "alert", "[3, 4]", '[["title", "bulk rows"]]'),
            (7, "2611.00001", "code", [], [["note", note]])]

    class Boom(Exception):
        pass

    try:
        async with app.sessions.begin() as session:
            assert await fanout.write_deliveries(session, rows, now) == 2
            raise Boom
    except Boom:
        pass
    async with app.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Delivery))
                ).scalar_one() == 0
    async with app.sessions.begin() as session:
        assert await fanout.write_deliveries(session, rows, now) == 2
    async with app.sessions.begin() as session:
        assert await fanout.write_deliveries(session, rows, now) == 0
    # some new, some not (PostgreSQL: the direct COPY fails, the staged path skips the old)
    async with app.sessions.begin() as session:
        assert await fanout.write_deliveries(
            session, [rows[0], (7, "2611.00001", "trending", [], [])], now) == 1
        await session.execute(delete(Delivery).where(Delivery.kind == "trending"))
    async with app.sessions() as session:
        stored = (await session.scalars(select(Delivery).order_by(Delivery.kind))).all()
        due = (await session.execute(select(func.count()).where(
            Delivery.next_attempt_at <= now, Delivery.state == "pending"))).scalar_one()
    assert [(d.kind, d.watch_ids, d.why) for d in stored] == [
        ("alert", [3, 4], [["title", "bulk rows"]]), ("code", [], [["note", note]])]
    assert all(d.created_at == now and d.next_attempt_at == now for d in stored)
    assert due == 2  # the stored times compare with the ORM's own parameters


async def test_chunks_grow_from_the_first_to_about_chunk_rows_never_past_double(app):
    """The first chunk is small (the first alerts soon), each next one at most twice the
    last (matched while the last is written), about `chunk_rows` rows, 1,000 papers at
    most, and never under the first size."""
    from bot.ingest.pipeline import (
        CHUNK_ROWS,
        COPY_CHUNK_ROWS,
        FIRST_CHUNK_PAPERS,
        MAX_CHUNK_PAPERS,
    )

    size = app.pipeline._chunk_papers
    # PostgreSQL's COPY lines are larger than SQLite's pickled rows: half the rows a chunk
    postgres = app.config.database.url.startswith("postgresql")
    assert app.pipeline.chunk_rows == (COPY_CHUNK_ROWS if postgres else CHUNK_ROWS)
    app.pipeline.chunk_rows = CHUNK_ROWS
    # 1M watches: ~2,650 rows a paper
    assert size(265_000, 100, last=FIRST_CHUNK_PAPERS) == 2 * FIRST_CHUNK_PAPERS
    assert size(2_650 * 700, 700, last=400) == CHUNK_ROWS // 2_650
    # a small audience: growth alone, then the cap
    assert size(500, 100, last=100) == 200
    assert size(5_000, 1_500, last=800) == MAX_CHUNK_PAPERS
    # a huge audience: never under the first size
    assert size(10_000_000, 100, last=100) == FIRST_CHUNK_PAPERS
    app.pipeline.chunk_rows = 0
    assert size(500, 100, last=800) == FIRST_CHUNK_PAPERS


async def test_bulk_rows_keep_tabs_newlines_and_backslashes_in_any_value(app, clock):
    """A value with a raw tab, newline, carriage return or backslash (COPY's separators
    and escape on PostgreSQL) is stored as it was, and the rows beside it too."""
    from storage.repo import fanout

    now = clock()
    odd = "2611.0\t1\n2\r3\\4"
    rows = [(7, odd, "alert", "[1]", '[["title", "tab\\there"]]'),
            (7, "2611.00002", "alert", "[2]", '[["title", "plain"]]')]
    async with app.sessions.begin() as session:
        assert await fanout.write_deliveries(session, rows, now) == 2
    async with app.sessions() as session:
        stored = [tuple(row) for row in await session.execute(
            select(Delivery.paper_id, Delivery.why))]
    assert sorted(stored) == sorted([(odd, [["title", "tab\there"]]),
                                     ("2611.00002", [["title", "plain"]])])


async def test_follow_ups_look_up_the_alerted_chats_before_taking_the_write_lock(
        app, console, tmp_path):
    """Finding the chats alerted about a refreshed paper reads deliveries by paper (about
    1 s at 5M rows): on SQLite that read runs before the store's first write, so the write
    lock is not held during it and a /watch is not kept waiting."""
    if not app.config.database.url.startswith("sqlite"):
        pytest.skip("PostgreSQL readers and writers do not block each other")
    from sqlalchemy import event

    await console.push("/watch graph neural network")
    first = write_jsonl(tmp_path / "a.jsonl", [paper_item("2601.00040", "A graph neural network")])
    await console.push(f"/ingest {first}")
    async with app.sessions.begin() as session:
        await session.execute(update(Delivery).values(state="sent"))
    lookups: list[bool] = []  # for each read of deliveries by paper: inside a write?

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().startswith("SELECT deliveries.paper_id"):
            lookups.append(conn.connection.driver_connection.in_transaction)

    event.listen(app.engine.sync_engine, "before_cursor_execute", before)
    try:
        refreshed = write_jsonl(tmp_path / "b.jsonl", [paper_item(
            "2601.00040", "A graph neural network", githubRepo="https://github.com/example/g")])
        await console.push(f"/ingest {refreshed}")
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", before)
    assert lookups == [False]
    async with app.sessions() as session:
        kinds = (await session.scalars(select(Delivery.kind).where(Delivery.kind != "alert"))).all()
    assert kinds == ["code"]  # the follow-up was still queued, in the same store


async def test_follow_ups_find_the_alerted_chats_by_the_index_of_sent_alerts(
        app, console, tmp_path):
    """The chats alerted about a refreshed paper are read from the partial index of sent
    alerts (migration 0012), not by reading every delivery (1 s at one day of a million
    watches, ~30 s at the 30 days kept); a pending alert and a sent follow-up are not in it."""
    from sqlalchemy import event

    await console.push("/watch graph neural network")
    await console.push("/watch diffusion")
    papers = write_jsonl(tmp_path / "a.jsonl", [
        paper_item("2601.00040", "A graph neural network"),
        paper_item("2601.00041", "Graph neural network diffusion")])
    await console.push(f"/ingest {papers}")
    async with app.sessions.begin() as session:  # one sent, one still pending
        for paper_id, state in (("2601.00040", "sent"), ("2601.00041", "pending")):
            await session.execute(update(Delivery).where(Delivery.paper_id == paper_id)
                                  .values(state=state))
    lookups: list[tuple[str, object]] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().startswith("SELECT deliveries.paper_id"):
            lookups.append((statement, parameters))

    event.listen(app.engine.sync_engine, "before_cursor_execute", before)
    try:
        refreshed = write_jsonl(tmp_path / "b.jsonl", [
            paper_item(f"2601.0004{n}", title, githubRepo=f"https://github.com/example/{n}")
            for n, title in ((0, "A graph neural network"),
                             (1, "Graph neural network diffusion"))])
        await console.push(f"/ingest {refreshed}")
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", before)
    async with app.sessions() as session:
        follow_ups = (await session.execute(
            select(Delivery.paper_id, Delivery.kind).where(Delivery.kind != "alert"))).all()
    assert [tuple(row) for row in follow_ups] == [("2601.00040", "code")]  # the sent one only

    # the shape of a kept history, for the planner: most rows are sent alerts of other papers
    async with app.sessions.begin() as session:
        chat_id = await session.scalar(select(Delivery.chat_id).limit(1))
        await session.execute(insert(Delivery), [
            {"chat_id": chat_id, "paper_id": f"2500.{n:05d}", "kind": "alert", "state": "sent",
             "watch_ids": [], "why": [], "created_at": datetime.now(UTC),
             "next_attempt_at": datetime.now(UTC)} for n in range(5_000)])
    [(statement, parameters)] = lookups
    async with app.engine.connect() as conn:
        if app.engine.dialect.name == "sqlite":
            plan = " ".join(str(row[-1]) for row in await conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters))
        else:
            await conn.exec_driver_sql("ANALYZE deliveries")
            plan = " ".join(str(row[0]) for row in await conn.exec_driver_sql(
                "EXPLAIN " + statement, parameters))
    assert "ix_deliveries_sent_alerts" in plan, plan
