"""New papers -> delivery rows: one per (chat, paper), listing every watch of the chat that hit.

`plan_fan_out` runs beside the live index, in a worker thread (WatchSet.plan) or in the
matching process (bot/watching/matcher_process.py): it matches a chunk of papers (the hits
grouped as the engine finds them, `WatchIndex.match_groups`) and builds every row ready to
store, so the event loop and the database write do no per-row Python
work:
- `watch_ids` and `why` are serialized to JSON here (the `why` of equal hits once, cached);
- the chunk's hits are kept as packed numbers (chat and paper in one sort key, the watch,
  the phrases) and sorted once by (chat, paper), then cut into batches small enough for one
  short transaction each. A batch then covers a narrow range of chats, so the indexes that
  start with the chat (the unique (chat, paper, kind) rule) are
  changed in few pages per transaction, and the more papers a chunk holds, the narrower
  that range: sqlite3 alone stored 175,000 rows a second from chunks of 100 papers and
  308,000 from chunks of 800 (2.1M rows, the table and its three indexes). Packed, a hit
  costs 24 bytes instead of a row tuple's ~175, so a chunk may hold millions of them.
The hits per watch are summed over the whole fan-out (HitCounts) and written at its end.
Watches of chats that get nothing (blocked, moved) and watches this process has no chat for
yet (made after the paper was stored) are skipped.
"""

from __future__ import annotations

import json
import pickle
from array import array
from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import repeat

import numpy as np

from bot.types import Paper
from bot.watching.index_tables import Group
from bot.watching.matching import WatchIndex, collector_paused
from storage.repo.fanout import copy_text

# (chat_id, paper_id, kind, watch_ids, why) as storage.repo.fanout writes it; watch_ids and
# why are JSON text when planned here, or lists (follow-ups), which the writer serializes
Row = tuple[int, str, str, str | list[int], str | list[list[str]]]


COUNT_BUCKET = 10_000  # (watch id, n) pairs per hit-count write


class HitCounts:
    """The hits per watch of a whole fan-out, summed chunk by chunk as (ids, counts)
    arrays, written in watch id order at its end."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, watch_ids: np.ndarray) -> None:
        self._parts.append(np.unique(watch_ids, return_counts=True))

    def batches(self) -> Iterator[list[tuple[int, int]]]:
        """(watch id, n) pairs by id, at most COUNT_BUCKET per list."""
        if not self._parts:
            return
        ids = np.concatenate([ids for ids, _ in self._parts])
        counts = np.concatenate([counts for _, counts in self._parts])
        unique, where = np.unique(ids, return_inverse=True)
        sums = np.bincount(where, weights=counts).astype(np.int64)
        for start in range(0, len(unique), COUNT_BUCKET):
            end = start + COUNT_BUCKET
            yield list(zip(unique[start:end].tolist(), sums[start:end].tolist(), strict=True))


class Batch:
    """The rows of one write transaction, in one of three forms: rows; rows pickled by the
    matching process, unpacked only when written (one batch of ~10,000 rows is a few ms on
    the event loop, a whole chunk at once would stall it); or, for PostgreSQL, the rows as
    COPY text made in the matching process, which the bot's process only passes on."""

    __slots__ = ("_rows", "_packed", "lines")

    def __init__(self, rows: list[Row] | None = None, packed: bytes | None = None,
                 lines: bytes | None = None) -> None:
        assert sum(x is not None for x in (rows, packed, lines)) == 1, "one form of the rows"
        self._rows, self._packed, self.lines = rows, packed, lines

    @property
    def rows(self) -> list[Row]:
        """The rows; packed ones are unpacked anew each time and not kept, so a chunk's
        batches written one by one hold only their packed form."""
        if self._rows is not None:
            return self._rows
        assert self._packed is not None, "COPY lines are not unpacked"
        rows: list[Row] = pickle.loads(self._packed)
        return rows

    def packed(self) -> bytes:
        """The batch as bytes, to cross to another process: its COPY lines, or its rows
        pickled."""
        if self.lines is not None:
            return self.lines
        return self._packed if self._packed is not None else pickle.dumps(
            self._rows, protocol=pickle.HIGHEST_PROTOCOL)


class _Json:
    """JSON text of watch id lists and of `why` lists; the `why` of equal terms made once."""

    def __init__(self) -> None:
        self._why: dict[tuple[tuple[str, str], ...], str] = {}

    def why(self, terms: tuple[tuple[str, str], ...]) -> str:
        text = self._why.get(terms)
        if text is None:
            text = self._why[terms] = json.dumps([list(t) for t in terms])
        return text

    @staticmethod
    def watch_ids(ids: list[int]) -> str:
        return f"[{ids[0]}]" if len(ids) == 1 else json.dumps(sorted(ids))


class _Hits:
    """The hits of a chunk, packed: (chat * papers + paper) as the sort key, the watch id
    and the id of its phrases, as arrays per paper. The engine gives a paper's hits as
    groups (the watches that hit it the same way); one Python step per group, the rest a
    few passes in C: one Python object per hit (MatchHit) measured 2 us each, more than
    matching them."""

    def __init__(self, papers: int, chats: array, inactive: set[int]) -> None:
        self.papers = papers
        self.chats = np.array(chats, dtype=np.int64)  # a copy: `chats` may grow meanwhile
        self.inactive = np.fromiter(inactive, dtype=np.int64, count=len(inactive))
        self.keys: list[np.ndarray] = []
        self.watches: list[np.ndarray] = []
        self.terms: list[np.ndarray] = []
        self.phrases: dict[tuple[tuple[str, str], ...], int] = {}  # phrases -> their id

    def add(self, paper: int, groups: list[Group]) -> None:
        """One paper's hits, given as the engine's groups (see WatchIndex.match_groups)."""
        ids: list[int] = []
        sizes: list[int] = []
        group_phrases: list[int] = []
        phrases = self.phrases
        add_id, add_ids, add_size, add_phrase = ids.append, ids.extend, sizes.append, \
            group_phrases.append
        for _, members, terms in groups:
            if isinstance(members, int):
                add_id(members)
                add_size(1)
            else:
                add_ids(members)
                add_size(len(members))
            phrase = phrases.get(terms)
            if phrase is None:
                phrase = phrases[terms] = len(phrases)
            add_phrase(phrase)
        watches = np.array(ids, dtype=np.int64)
        phrase_ids = np.repeat(np.array(group_phrases, dtype=np.int64), sizes)
        chats = np.zeros(len(watches), dtype=np.int64)
        known = watches < len(self.chats)
        chats[known] = self.chats[watches[known]]
        wanted = chats != 0
        if len(self.inactive):
            wanted &= ~np.isin(chats, self.inactive)
        self.keys.append(chats[wanted] * self.papers + paper)
        self.watches.append(watches[wanted])
        self.terms.append(phrase_ids[wanted])

    def in_order(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """keys, watches and phrase ids of every hit, by (chat, paper)."""
        if not self.keys:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
        keys = np.concatenate(self.keys)
        order = np.argsort(keys, kind="stable")
        watches, terms = np.concatenate(self.watches)[order], np.concatenate(self.terms)[order]
        self.keys, self.watches, self.terms = [], [], []
        return keys[order], watches, terms


def plan_fan_out(index: WatchIndex, papers: Sequence[Paper], chats: array,
                 inactive: set[int], batch_rows: int, counts: HitCounts,
                 copy_at: datetime | None = None) -> Iterator[Batch]:
    """Match `papers` (`chats`: watch id -> chat id, 0 unknown); their rows in (chat, paper)
    order, in batches of at most `batch_rows`, as COPY lines stamped `copy_at` when given.
    The hits of each watch are added to `counts`."""
    ordered = sorted(papers, key=lambda p: p.id)
    paper_ids = [p.id for p in ordered]
    hits = _Hits(len(paper_ids), chats, inactive)
    # Thousands of acyclic tuples per paper and batch: a collection would walk them all,
    # and re-enabling the collector after each paper with its groups alive cost 2.7 s a day
    with collector_paused():
        for position, paper in enumerate(ordered):
            groups = index.match_groups(paper)
            if groups:
                hits.add(position, groups)
        keys, watches, terms = hits.in_order()
        if not len(keys):
            return
        counts.add(watches)
        # one row per run of equal keys: a chat with several watches that hit the paper
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        ends = np.append(starts[1:], len(keys))
        phrases = list(hits.phrases)
        js = _Json()
        why_of = [js.why(t) for t in phrases]
        for first in range(0, len(starts), batch_rows):
            rows = _rows(keys, watches, terms, starts[first:first + batch_rows],
                         ends[first:first + batch_rows], paper_ids, phrases, why_of, js)
            yield Batch(rows) if copy_at is None else Batch(
                lines=copy_text(rows, copy_at, json_text=True))


def _rows(keys: np.ndarray, watches: np.ndarray, terms: np.ndarray, starts: np.ndarray,
          ends: np.ndarray, paper_ids: list[str], phrases: list[tuple[tuple[str, str], ...]],
          why_of: list[str], js: _Json) -> list[Row]:
    """The rows of the runs [starts, ends) of the sorted hits."""
    n_papers = len(paper_ids)
    run_keys = keys[starts]
    # most rows: one watch of the chat hit the paper; built as columns
    rows: list[Row] = list(zip(
        (run_keys // n_papers).tolist(),
        [paper_ids[p] for p in (run_keys % n_papers).tolist()],
        repeat("alert"),
        [f"[{w}]" for w in watches[starts].tolist()],
        [why_of[t] for t in terms[starts].tolist()]))
    for n in np.flatnonzero(ends - starts > 1).tolist():  # several watches of the chat
        run = slice(int(starts[n]), int(ends[n]))
        ids = watches[run].tolist()
        why = tuple(dict.fromkeys(term for t in terms[run].tolist() for term in phrases[t]))
        chat, paper_id, kind, _, _ = rows[n]
        rows[n] = (chat, paper_id, kind, js.watch_ids(ids), js.why(why))
    return rows
