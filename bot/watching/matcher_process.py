"""The live watch index in a child process: matching never holds this process's GIL.

The matching engine is pure Python. In a worker thread it holds the interpreter lock that
the event loop and the database driver also need: SQLite stored 155,000 delivery rows a
second alone and 67,000 beside one busy Python thread (bench/ingest.py has the end-to-end
figures). So at scale the index lives in one child process (spawned, so it shares no
threads or sockets with this one): it parses the watches, matches chunks of papers and
plans their delivery rows, and sends its write batches back pickled (`Batch.packed`), a
few per message; the writer unpacks one batch per transaction, a few ms on the event loop.

The child runs calls one at a time in the order given, so a /watch added between two
chunks is live for the next chunk, as with the thread. If the child dies (killed, out of
memory) the call in flight raises `MatcherDied`, the index counts as not loaded and the
next refresh starts a new child and loads every watch again; the papers of a fan-out that
failed are still marked `fanout_pending` and the next ingest finishes them.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.ingest.fanout import Batch
from bot.types import Paper
from bot.watching.query import Query
from bot.watching.watchset import OVERLAP, PAGE, WatchSet
from storage.repo import fanout

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_STOP_WAIT = 2.0  # seconds a child gets to exit after close before it is killed
TAKE_BATCHES = 16  # planned write batches per message from the child (~4 MB)


class MatcherDied(RuntimeError):
    """The matching process ended in the middle of a call."""


# --- in the child ---------------------------------------------------------------------

_state: WatchSet | None = None
_planned: list[bytes] = []  # the last chunk's batches, packed, not yet taken


def _child_start() -> None:
    global _state
    # Ctrl-C reaches the whole process group: the parent stops the child itself, and a
    # KeyboardInterrupt here would only print a traceback
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright (SIGKILL, out of memory) never stops its pool, and the
    # worker would wait for the next call forever, an orphan holding the whole index
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), daemon=True,
                         name="exit-with-parent").start()
    _state = WatchSet()


def _exit_with_parent(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])  # readable once the parent is gone
    os._exit(0)


def _child() -> WatchSet:
    assert _state is not None, "not in the matching process"
    return _state


def _child_add(rows: list[tuple[int, int, str]]) -> int:
    _child().add_rows(rows)
    return len(_child())


def _child_remove(watch_ids: list[int]) -> int:
    state = _child()
    for watch_id in watch_ids:
        state.remove_now(watch_id)
    return len(state)


def _child_freeze() -> None:
    gc.freeze()  # see WatchSet.refresh: the index lives as long as the process


def _child_plan(papers: list[Paper], inactive: set[int], batch_rows: int,
                copy_at: datetime | None) -> int:
    """Plan a chunk and keep its batches packed for `_child_take`; how many."""
    _planned.clear()
    _planned.extend(batch.packed()
                    for batch in _child().plan_batches(papers, inactive, batch_rows, copy_at))
    return len(_planned)


def _child_take(count: int) -> list[bytes]:
    """The next `count` planned batches."""
    taken = _planned[:count]
    del _planned[:count]
    return taken


def _child_reset_counts() -> int:
    _child().reset_hit_counts()
    return len(_child())


def _child_counts() -> list[bytes]:
    return [pickle.dumps(pairs, protocol=pickle.HIGHEST_PROTOCOL)
            for pairs in _child().take_hit_counts_now()]


def _child_pid() -> int:
    return multiprocessing.current_process().pid or 0


# --- in this process --------------------------------------------------------------------


class MatcherProcess:
    """The LiveWatches of a process that matches at scale (see the module docstring)."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._size = 0
        self._max_id = 0
        self._last_refresh: datetime | None = None
        self._refreshing = asyncio.Lock()
        self.child_pid = 0  # for the benchmark's memory figure

    @property
    def loaded(self) -> bool:
        return self._last_refresh is not None

    def __len__(self) -> int:
        return self._size

    # --- changes from commands ------------------------------------------------------------

    def add(self, watch_id: int, query: Query, chat_id: int = 0) -> None:
        if self.loaded:
            self._max_id = max(self._max_id, watch_id)
            self._send(_child_add, [(watch_id, chat_id, query.text)])

    def remove(self, watch_id: int) -> None:
        if self.loaded:
            self._send(_child_remove, [watch_id])

    def _send(self, func: Callable[..., int], *args: Any) -> None:
        """Queue a change without waiting (the child applies calls in order)."""
        assert self._pool is not None
        try:
            future = self._pool.submit(func, *args)
        except (BrokenProcessPool, RuntimeError):
            self._lost("a change could not be sent")
            return
        # the callback runs on the event loop, like every other change of this object
        asyncio.wrap_future(future).add_done_callback(self._changed)

    def _changed(self, future: asyncio.Future[int]) -> None:
        if future.cancelled():
            return
        if future.exception() is not None:
            self._lost(f"a change failed: {future.exception()!r}")
            return
        self._size = future.result()

    # --- loading ----------------------------------------------------------------------

    async def refresh(self, session: AsyncSession, now: datetime) -> None:
        async with self._refreshing:
            if self._last_refresh is None:
                await self._first_load(session)
                self._last_refresh = now
                return
            since = self._last_refresh - OVERLAP
            added, removed = await fanout.watch_changes(session, self._max_id, since)
            if added:
                self._max_id = max(self._max_id, added[-1][0])
                self._size = await self._call(_child_add, added)
            if removed:
                self._size = await self._call(_child_remove, removed)
            self._last_refresh = now

    async def _first_load(self, session: AsyncSession) -> None:
        """Every active watch, in pages: the next page is read while the child indexes one."""
        await self._restart()
        after, indexing = 0, None
        while True:
            rows = await fanout.watch_rows(session, after, PAGE)
            if indexing is not None:
                self._size = await indexing
            if not rows:
                break
            after = self._max_id = rows[-1][0]
            indexing = asyncio.ensure_future(self._call(_child_add, rows))
        await self._call(_child_freeze)
        log.info("matching process %s holds %d watches", self.child_pid, self._size)

    async def _restart(self) -> None:
        await self.close()
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_start)
        self._size = self._max_id = 0
        self.child_pid = await self._call(_child_pid)

    # --- the fan-out --------------------------------------------------------------------

    async def plan(self, papers: Sequence[Paper], inactive: set[int], batch_rows: int,
                   copy_at: datetime | None = None) -> list[Batch]:
        count = await self._call(_child_plan, list(papers), inactive, batch_rows, copy_at)
        # taken a few MB per message: the result thread reads a message holding the GIL,
        # and a whole chunk (50 MB at 1M watches) at once stalled the event loop 90 ms
        pieces = await asyncio.gather(*(self._call(_child_take, TAKE_BATCHES)
                                        for _ in range(0, count, TAKE_BATCHES)))
        if copy_at is not None:
            return [Batch(lines=lines) for piece in pieces for lines in piece]
        return [Batch(packed=rows) for piece in pieces for rows in piece]

    def reset_hit_counts(self) -> None:
        if self._pool is not None:
            self._send(_child_reset_counts)  # before the plans that follow: calls keep order

    async def take_hit_counts(self) -> Iterator[list[tuple[int, int]]]:
        packed = await self._call(_child_counts)
        return (pickle.loads(pairs) for pairs in packed)  # one list per write, when written

    # --- the child ----------------------------------------------------------------------

    async def _call(self, func: Callable[..., _T], *args: Any) -> _T:
        if self._pool is None:
            raise MatcherDied("the matching process is not running")
        try:
            return await asyncio.wrap_future(self._pool.submit(func, *args))
        except BrokenProcessPool as exc:
            self._lost("it ended in the middle of a call")
            raise MatcherDied("the matching process ended; it restarts at the next "
                              "refresh") from exc

    def _lost(self, why: str) -> None:
        if self._last_refresh is not None:
            log.error("matching process %s lost (%s): all watches are loaded again at the "
                      "next refresh", self.child_pid, why)
        self._last_refresh = None

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())  # no public handle
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        await asyncio.to_thread(_join, processes, _STOP_WAIT)


def _join(processes: list[Any], timeout: float) -> None:
    for process in processes:
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join(timeout)
