"""The watch index in a child process (bot/watching/matcher_process.py) with the real App,
pipeline, SQLite file and PostgreSQL server:

- the same stored watches and papers make exactly the same delivery rows and hit counts
  with run.matching = "thread" and "process";
- /watch and /unwatch reach the child (no refresh needed) and the next ingest follows them;
- a child killed between two ingests fails the ingest with MatcherDied, leaves the papers
  `fanout_pending`, and the resumed fan-out in a new child makes every delivery once;
- no child outlives its parent: after `async with App` exits, after SIGTERM of
  `paperwatch run`, and after SIGKILL of `paperwatch run`;
- "auto" picks the thread below run.matching_process_above active watches, the process
  from there on.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update

from bot.app import App
from bot.config import Config, Matching
from bot.ingest.pipeline import FIRST_CHUNK_PAPERS, WRITE_ROWS
from bot.types import ChatRef, Incoming, Paper
from bot.watching.matcher_process import MatcherDied, MatcherProcess
from bot.watching.query import QueryError, parse
from bot.watching.watchset import WatchSet
from storage import db
from storage.models import Chat, Delivery, PaperRow, Watch
from tests.conftest import POSTGRES_URL, FakeClock
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.helpers import fresh_postgres_database, run_config

WORDS = ["graph", "neural", "network", "diffusion", "model", "models", "federated",
         "learning", "quantization", "quantized", "transformer", "vision", "language",
         "medical", "imaging", "retrieval", "augmented", "generation", "reinforcement",
         "policy", "robot", "protein", "folding", "sparse", "attention", "kernel",
         "bayesian", "optimization", "contrastive", "speech", "pretraining", "agents"]
AUTHORS = ["Yann LeCun", "Wei Wang", "Ada Lovelace", "Jürgen Schmidhuber", "Li Chen",
           "Maria Garcia", "Alan Turing"]
CATEGORIES = ["cs.LG", "cs.CV", "cs.CL", "stat.ML", "q-bio.BM", "cs.RO"]
CHATS = 60
BLOCKED = {5, 17, 42}  # chats that get nothing
WATCHES_PER_CHAT = 5
PAPERS = 270  # two ingests, three fan-out chunks in the first
DELETED_LATER, ADDED_LATER = 7, CHATS * WATCHES_PER_CHAT + 1  # changed between the ingests


def _query(rnd: random.Random) -> str:
    w = rnd.sample(WORDS, 3)
    forms = [
        f"{w[0]}", f"{w[0]} {w[1]}", f'"{w[0]} {w[1]}" OR {w[2]}', f"{w[0]} AND {w[1]}",
        f"{w[0]} -{w[1]}", f"{w[0][:4]}*", f"({w[0]} OR {w[1]}) {w[2]}", f"ti:{w[0]}",
        f'abs:"{w[0]} {w[1]}"', f'au:"{rnd.choice(AUTHORS)}"',
        f"au:{rnd.choice(AUTHORS).split()[-1]} {w[0]}", f"cat:{rnd.choice(CATEGORIES)} {w[0]}",
        "cat:cs", f"{w[0]} OR {w[1]} -cat:cs.CV", "quantiz*"]
    return rnd.choice(forms)


def _watch_queries(seed: int = 3) -> list[str]:
    """CHATS * WATCHES_PER_CHAT stored query texts, as /watch would store them."""
    rnd = random.Random(seed)
    out: list[str] = []
    while len(out) < CHATS * WATCHES_PER_CHAT:
        try:
            out.append(parse(_query(rnd)).text)
        except QueryError:
            continue
    return out


def _papers(seed: int = 11, n: int = PAPERS) -> list[Paper]:
    rnd = random.Random(seed)
    return [Paper(id=f"2612.{k:05d}", title=" ".join(rnd.sample(WORDS, 6)),
                  summary=" ".join(rnd.choices(WORDS, k=18)),
                  authors=tuple(rnd.sample(AUTHORS, rnd.randint(1, 3))),
                  categories=tuple(rnd.sample(CATEGORIES, rnd.randint(1, 2))))
            for k in range(n)]


def _config(url: str, matching: Matching = "process", above: int = 20_000) -> Config:
    cfg = Config()
    return replace(cfg, database=replace(cfg.database, url=url),
                   sources=replace(cfg.sources, hf=replace(cfg.sources.hf, enabled=False)),
                   run=replace(cfg.run, matching=matching, matching_process_above=above))


async def _store_watches(url: str, clock: FakeClock, watches: int | None = None) -> int:
    """CHATS telegram chats (some blocked) with their watches, made a day ago; how many."""
    queries = _watch_queries()[:watches]
    engine = db.create_engine(url)
    await db.upgrade(engine)
    then = clock() - timedelta(days=1)
    async with engine.begin() as conn:
        await conn.execute(insert(Chat), [
            {"id": c, "platform": "telegram", "external_id": str(c), "kind": "user",
             "state": "blocked" if c in BLOCKED else "active", "created_at": then}
            for c in range(1, CHATS + 1)])
        await conn.execute(insert(Watch), [
            {"id": n + 1, "chat_id": n // WATCHES_PER_CHAT + 1,
             "number": n % WATCHES_PER_CHAT + 1, "query": text, "created_at": then,
             "hit_count": 0} for n, text in enumerate(queries)])
        if engine.dialect.name == "postgresql":  # ids were given: move the sequences on
            for table in ("chats", "watches"):
                await conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))")
    await engine.dispose()
    return len(queries)


async def _results(url: str) -> tuple[list[tuple], list[tuple[int, int]], int]:
    """Every delivery (chat, paper, kind, watch ids, why), the hit counts, papers pending."""
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(select(
                Delivery.chat_id, Delivery.paper_id, Delivery.kind, Delivery.watch_ids,
                Delivery.why))).all()
            hits = (await conn.execute(
                select(Watch.id, Watch.hit_count).order_by(Watch.id))).all()
            pending = (await conn.execute(select(func.count()).where(
                PaperRow.fanout_pending.is_(True)))).scalar_one()
        return (sorted((c, p, k, w, y) for c, p, k, w, y in rows),
                [(i, n) for i, n in hits], pending)
    finally:
        await engine.dispose()


@pytest.fixture
async def other_db_url(db_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A second fresh database of the same kind as db_url (for the thread-mode reference)."""
    if db_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'reference.db'}"
        return
    async with fresh_postgres_database(POSTGRES_URL) as url:
        yield url

def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a dead child nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


async def _until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


# --- 1. the same rows both ways ----------------------------------------------------------

async def _ingest_twice(url: str, matching: Matching) -> type:
    """Two ingests with another process's watch changes between them; the index type."""
    clock = FakeClock()
    papers = _papers()
    async with App(_config(url, matching), clock=clock) as app:
        kind = type(app.watches)
        await app.pipeline.ingest(papers[:250], source="test", alert=True)
        clock.advance(minutes=10)
        async with app.sessions.begin() as session:  # as another process would
            await session.execute(update(Watch).where(Watch.id == DELETED_LATER)
                                  .values(deleted_at=clock()))
            session.add(Watch(id=ADDED_LATER, chat_id=2, number=WATCHES_PER_CHAT + 1,
                              query="diffusion", created_at=clock(), hit_count=0))
        await app.pipeline.ingest(papers[250:], source="test", alert=True)
    return kind


async def test_thread_and_process_make_the_same_rows_and_hit_counts(db_url, other_db_url):
    await _store_watches(other_db_url, FakeClock())
    await _store_watches(db_url, FakeClock())
    assert await _ingest_twice(other_db_url, "thread") is WatchSet
    assert await _ingest_twice(db_url, "process") is MatcherProcess
    expected, expected_hits, _ = await _results(other_db_url)
    got, hits, pending = await _results(db_url)
    # the reference exercises what matters: many rows, several watches of a chat in one,
    # no row for a blocked chat, the watch changes between the ingests seen
    assert len(expected) > 2000
    assert any(len(watch_ids) > 1 for _c, _p, _k, watch_ids, _y in expected)
    assert not any(chat in BLOCKED for chat, *_ in expected)
    late = {p.id for p in _papers()[250:]}
    assert not any(DELETED_LATER in w and p in late for _c, p, _k, w, _y in expected)
    assert any(ADDED_LATER in w and p in late for _c, p, _k, w, _y in expected)
    assert pending == 0
    assert got == expected
    assert hits == expected_hits


# --- 2. commands reach the child -------------------------------------------------------------

async def test_watch_and_unwatch_commands_reach_the_child(db_url):
    clock = FakeClock()
    stored = await _store_watches(db_url, clock)
    probe, owner = ChatRef("console", "probe"), ChatRef("telegram", "1")
    li_chen = Paper(id="2612.90004", title="Notes", authors=("Li Chen",))
    async with App(_config(db_url, "process"), clock=clock) as app:
        assert isinstance(app.watches, MatcherProcess)
        await app.load_watches()
        assert len(app.watches) == stored
        dispatch = app.commands.dispatch
        for text in ("/watch zebrafish locomotion", "/watch au:Hopper", "/watch ocean"):
            assert "Watching" in (await dispatch(Incoming(probe, text))).body.plain()
        # the child's own count, with no refresh in between
        assert await _until(lambda: len(app.watches) == stored + 3, 5), len(app.watches)
        async with app.sessions() as session:
            old = await session.get(Watch, 1)
        assert old is not None and (old.chat_id, old.query) == (1, 'au:"Li Chen"')
        assert "Stopped" in (await dispatch(Incoming(probe, "/unwatch ocean"))).body.plain()
        assert "Stopped" in (await dispatch(Incoming(owner, "/unwatch 1"))).body.plain()
        assert await _until(lambda: len(app.watches) == stored + 1, 5), len(app.watches)

        papers = [Paper(id="2612.90001", title="Zebrafish locomotion in the wild"),
                  Paper(id="2612.90002", title="Notes", authors=("Grace Hopper",)),
                  Paper(id="2612.90003", title="Ocean waves"), li_chen]
        # straight from the child, before any refresh could have read the table
        batches = await app.watches.plan(papers, set(), WRITE_ROWS)
        planned = {(row[0], row[1]) for batch in batches for row in batch.rows}
        await app.watches.take_hit_counts()  # the ingest below counts for itself
        async with app.sessions() as session:
            probe_id = await session.scalar(select(Chat.id).where(Chat.external_id == "probe"))
            same_query = set(await session.scalars(select(Watch.chat_id).where(
                Watch.query == old.query, Watch.chat_id != 1, Watch.chat_id.not_in(BLOCKED))))
        assert (probe_id, "2612.90001") in planned and (probe_id, "2612.90002") in planned
        assert (probe_id, "2612.90003") not in planned
        assert (1, li_chen.id) not in planned
        assert same_query and {(c, li_chen.id) for c in same_query} <= planned  # others keep it

        await app.pipeline.ingest(papers, source="test", alert=True)
        async with app.sessions() as session:
            rows = (await session.execute(select(Delivery.chat_id, Delivery.paper_id,
                                                 Delivery.watch_ids))).all()
            counts = dict((await session.execute(select(Watch.query, Watch.hit_count).where(
                Watch.chat_id == probe_id))).all())
        assert {p for c, p, _w in rows if c == probe_id} == {"2612.90001", "2612.90002"}
        assert not any(old.id in watch_ids for _c, _p, watch_ids in rows)
        assert {c for c, p, _w in rows if p == li_chen.id} == same_query
        assert counts == {"zebrafish locomotion": 1, "au:Hopper": 1, "ocean": 0}
        assert len(app.watches) == stored + 1


# --- 3. the child dies -----------------------------------------------------------------------

async def _kill_mid_fan_out(app: App, child_pid: int, papers: list[Paper]) -> None:
    """Ingest `papers` and SIGKILL the child once some chunks are written, not all."""
    # watched through an engine of its own: a connection of the app's pool in use would
    # make the SQLite writer pause for it (Pipeline._let_others_write)
    watcher = db.create_engine(app.config.database.url)
    app.pipeline.chunk_rows = 0  # every chunk of FIRST_CHUNK_PAPERS: several to kill between
    ingest = asyncio.create_task(app.pipeline.ingest(papers, source="test", alert=True))
    try:
        while not ingest.done():
            async with watcher.connect() as conn:
                pending = (await conn.execute(select(func.count()).where(
                    PaperRow.fanout_pending.is_(True)))).scalar_one()
            if pending and pending < len(papers) - FIRST_CHUNK_PAPERS:
                os.kill(child_pid, signal.SIGKILL)
                break
            await asyncio.sleep(0.005)
    finally:
        await watcher.dispose()
    await ingest


@pytest.mark.parametrize("when", ["before the ingest", "mid fan-out"])
async def test_a_killed_child_fails_the_ingest_and_the_resume_makes_each_row_once(
        db_url, other_db_url, when):
    papers = _papers(seed=12, n=400)  # four chunks
    await _store_watches(other_db_url, FakeClock())
    async with App(_config(other_db_url, "thread"), clock=FakeClock()) as reference:
        await reference.pipeline.ingest(papers, source="test", alert=True)
    expected, expected_hits, _ = await _results(other_db_url)
    assert len(expected) > 10_000

    await _store_watches(db_url, FakeClock())
    async with App(_config(db_url, "process"), clock=FakeClock()) as app:
        await app.load_watches()
        watches = app.watches
        assert isinstance(watches, MatcherProcess)
        first = watches.child_pid
        with pytest.raises(MatcherDied):
            if when == "before the ingest":
                os.kill(first, signal.SIGKILL)
                await app.pipeline.ingest(papers, source="test", alert=True)
            else:
                await _kill_mid_fan_out(app, first, papers)
        before, _, pending = await _results(db_url)
        if when == "before the ingest":
            assert (before, pending) == ([], len(papers))
        else:
            assert 0 < len(before) < len(expected) and pending > 0, "the kill missed"
        assert not watches.loaded

        assert await app.pipeline.resume() == len(expected) - len(before)
        second = watches.child_pid
        assert second != first and _alive(second) and not _alive(first)
        assert len(watches) == len(_watch_queries())
    got, hits, pending = await _results(db_url)
    assert pending == 0
    assert got == expected  # each row once: the chunks written before the kill not again
    if when == "before the ingest":
        assert hits == expected_hits
    else:  # the counts of the part before the kill are lost (documented); none twice
        assert all(n <= e for (_, n), (_, e) in zip(hits, expected_hits, strict=True))


# --- 4. no orphans ---------------------------------------------------------------------------

async def test_the_child_is_gone_when_the_app_closes(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    await _store_watches(url, FakeClock(), watches=10)
    async with App(_config(url, "process")) as app:
        await app.load_watches()
        assert isinstance(app.watches, MatcherProcess)
        pid = app.watches.child_pid
        assert pid and _alive(pid)
    assert await _until(lambda: not _alive(pid), 2.0), f"child {pid} outlived the App"


async def test_closing_while_the_child_plans_ends_it_and_the_papers_stay_marked(tmp_path):
    """A stop in the middle of a fan-out: close() ends the busy child within its bound, the
    ingest fails instead of hanging, and the papers not yet fanned out stay marked for the
    next start."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    await _store_watches(url, FakeClock())
    papers = _papers(seed=13, n=400)
    watcher = db.create_engine(url)
    async with App(_config(url, "process"), clock=FakeClock()) as app:
        await app.load_watches()
        watches = app.watches
        assert isinstance(watches, MatcherProcess)
        pid = watches.child_pid
        app.pipeline.chunk_rows = 0  # chunks of FIRST_CHUNK_PAPERS: the child stays busy
        ingest = asyncio.create_task(app.pipeline.ingest(papers, source="test", alert=True))
        try:
            pending = 0
            while not pending and not ingest.done():  # stored: the fan-out has begun
                async with watcher.connect() as conn:
                    pending = (await conn.execute(select(func.count()).where(
                        PaperRow.fanout_pending.is_(True)))).scalar_one()
                await asyncio.sleep(0.005)
        finally:
            await watcher.dispose()
        assert pending and not ingest.done(), "the fan-out ended before the close"
        await asyncio.wait_for(watches.close(), 10)  # a hang guard, not a timing
        [outcome] = await asyncio.wait_for(asyncio.gather(ingest, return_exceptions=True), 10)
    assert isinstance(outcome, BaseException), "the ingest went on without its child"
    assert not _alive(pid)
    _, _, still_pending = await _results(url)
    assert 0 < still_pending <= len(papers)


STOP_SECONDS = 3.0  # measured: parent and child gone 0.3-0.5 s after SIGTERM
MARGIN = 3.0  # waited beyond it, to tell "late" from "never" in the failure
_LOADED = re.compile(r"matching process (\d+) holds (\d+) watches")


async def _start_run(tmp_path: Path, fake: FakeTelegramAPI
                     ) -> tuple[asyncio.subprocess.Process, int, set[int], list[str]]:
    """`paperwatch run` in process mode with stored watches, once its child holds them:
    the process, the child's pid, every descendant, and its stderr lines so far and on."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    stored = await _store_watches(url, FakeClock(), watches=40)
    config = run_config(tmp_path, fake, url, extra=(
        f'[run]\nmatching = "process"\nstop_seconds = {STOP_SECONDS}\n'))
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(config),
        env={**os.environ, "PAPERWATCH_TELEGRAM_TOKEN": fake.token},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    lines: list[str] = []
    assert process.stderr is not None
    try:
        async with asyncio.timeout(60):
            while (match := _LOADED.search(lines[-1] if lines else "")) is None:
                line = await process.stderr.readline()
                assert line, "paperwatch run ended:\n" + "".join(lines)
                lines.append(line.decode())
    except BaseException:
        process.kill()
        await process.wait()
        raise
    assert int(match.group(2)) == stored

    async def drain() -> None:  # keep the pipe from filling up
        assert process.stderr is not None
        async for line in process.stderr:
            lines.append(line.decode())
    asyncio.get_running_loop().create_task(drain())
    return process, int(match.group(1)), _descendants(process.pid), lines


def _kill_left(pids: set[int]) -> None:
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


async def test_paperwatch_run_stops_with_its_child_on_sigterm(tmp_path):
    async with FakeTelegramAPI() as fake:
        process, child, family, lines = await _start_run(tmp_path, fake)
        assert child in family
        try:
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            # polled, not process.wait(): that also waits for the stderr pipe, which the
            # child inherited
            gone = await _until(lambda: not any(_alive(p) for p in {process.pid, *family}),
                                STOP_SECONDS + MARGIN)
            elapsed = time.monotonic() - started
        finally:
            _kill_left({process.pid, *family})
            await asyncio.wait_for(process.wait(), 10)
        assert gone, f"left running after SIGTERM: {[p for p in family if _alive(p)]}"
        assert process.returncode == 0, "".join(lines)
        assert elapsed <= STOP_SECONDS, f"gone only {elapsed:.1f} s after SIGTERM"


async def test_the_child_exits_by_itself_when_paperwatch_run_is_killed(tmp_path):
    async with FakeTelegramAPI() as fake:
        process, child, family, _lines = await _start_run(tmp_path, fake)
        try:
            process.send_signal(signal.SIGKILL)
            # polled, not process.wait(): see above
            assert await _until(lambda: not _alive(process.pid), 5.0)
            gone = await _until(lambda: not _alive(child), 5.0)
            left = {p for p in family if _alive(p)}
        finally:
            _kill_left(family)
            await asyncio.wait_for(process.wait(), 10)
        assert gone, f"the matching process {child} outlived its killed parent by 5 s"
        assert await _until(lambda: not any(_alive(p) for p in left), 5.0), left


# --- 5. auto -------------------------------------------------------------------------------

async def test_auto_picks_the_process_from_the_threshold_of_active_watches(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    clock = FakeClock()
    await _store_watches(url, clock, watches=3)
    config = _config(url, "auto", above=3)
    paper = Paper(id="2612.80001", title="A graph model", authors=("Li Chen",))
    async with App(config, clock=clock) as app:
        watches = app.watches
        assert isinstance(watches, MatcherProcess)  # at the threshold: the process
        assert (await app.pipeline.ingest([paper], source="test", alert=True)).deliveries
        assert watches.child_pid and len(watches) == 3
    async with App(config, clock=clock) as app:  # one deleted: below the threshold
        assert isinstance(app.watches, MatcherProcess)
        assert "Stopped" in (await app.commands.dispatch(Incoming(
            ChatRef("telegram", "1"), "/unwatch 1"))).body.plain()
    async with App(config, clock=clock) as app:
        assert isinstance(app.watches, WatchSet)
