"""New papers -> delivery rows: one per (chat, paper), listing every watch of the chat that hit.

`plan_fan_out` runs beside the live index, in a worker thread (WatchSet.plan) or in the
matching process (bot/watching/matcher_process.py): it matches
a chunk of papers and builds every row ready to store, so the event loop and the database
write do no per-row Python work:
- `watch_ids` and `why` are serialized to JSON here (the `why` of equal hits once, cached);
- the chunk's rows are grouped by chat range and cut into batches small enough for one
  short transaction each. A batch then covers a narrow range of chats, so the indexes that
  start with the chat (the unique (chat, paper, kind) rule, the per-chat due index) are
  changed in few pages per transaction: random chats measured 3x slower on SQLite at 530k
  rows.
The hits per watch are summed over the whole fan-out (HitCounts) and written at its end.
Watches of chats that get nothing (blocked, moved) and watches this process has no chat for
yet (made after the paper was stored) are skipped.
"""

from __future__ import annotations

import gc
import json
import pickle
from collections.abc import Callable, Iterator, Sequence

from bot.types import MatchHit, Paper
from bot.watching.matching import WatchIndex

# (chat_id, paper_id, kind, watch_ids, why) as storage.repo.fanout writes it; watch_ids and
# why are JSON text when planned here, or lists (follow-ups), which the writer serializes
Row = tuple[int, str, str, str | list[int], str | list[list[str]]]


# watch id // COUNT_BUCKET -> {watch id: hits}: the counts of a whole fan-out, kept in
# buckets of neighbouring ids so they are written in id order without one big sort
HitCounts = dict[int, dict[int, int]]
COUNT_BUCKET = 10_000


class Batch:
    """The rows of one write transaction. Rows planned in the matching process arrive
    pickled and are unpacked only when written: one batch of ~10,000 rows is a few ms on
    the event loop, a whole chunk at once would stall it."""

    __slots__ = ("_rows", "_packed")

    def __init__(self, rows: list[Row] | None = None, packed: bytes | None = None) -> None:
        assert (rows is None) != (packed is None), "rows or packed rows, one of them"
        self._rows, self._packed = rows, packed

    @property
    def rows(self) -> list[Row]:
        if self._rows is None:
            assert self._packed is not None
            self._rows, self._packed = pickle.loads(self._packed), None
        return self._rows

    def packed(self) -> bytes:
        """The rows pickled, to cross to another process."""
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


def _rows_of_paper(paper_id: str, hits: list[MatchHit], chat_of: Callable[[int], int],
                   inactive: set[int], out: list[tuple[Row, list[int]]], js: _Json) -> None:
    per_chat: dict[int, list[MatchHit]] = {}
    for hit in hits:
        chat = chat_of(hit.watch_id)
        if chat and chat not in inactive:
            per_chat.setdefault(chat, []).append(hit)
    for chat_id, chat_hits in per_chat.items():
        if len(chat_hits) == 1:  # most rows: one watch of the chat hit
            hit = chat_hits[0]
            out.append(((chat_id, paper_id, "alert", f"[{hit.watch_id}]", js.why(hit.terms)),
                        [hit.watch_id]))
            continue
        ids = [h.watch_id for h in chat_hits]
        why = tuple(dict.fromkeys(term for h in chat_hits for term in h.terms))
        out.append(((chat_id, paper_id, "alert", js.watch_ids(ids), js.why(why)), ids))


def plan_fan_out(index: WatchIndex, papers: Sequence[Paper], chat_of: Callable[[int], int],
                 inactive: set[int], batch_rows: int, counts: HitCounts) -> list[Batch]:
    """Match `papers`; their rows grouped by chat range, in batches of at most `batch_rows`.
    The hits of each watch are added to `counts` (see HitCounts)."""
    hits_by_paper = index.match_many(papers)
    was_enabled = gc.isenabled()
    gc.disable()  # hundreds of thousands of acyclic tuples: collections would walk them all
    try:
        planned: list[tuple[Row, list[int]]] = []
        js = _Json()
        for paper_id, hits in hits_by_paper.items():
            _rows_of_paper(paper_id, hits, chat_of, inactive, planned, js)
        del hits_by_paper
        if not planned:
            return []
        # Group by chat range with plain Python loops, then sort each group (~10,000 rows,
        # a few ms): one sort of 270,000 rows is ~50 ms in C during which no other thread
        # (the event loop) may run. Rows in (chat, paper) order are stored twice as fast
        # as the same rows unordered (SQLite, 1M rows: 175,000/s against 96,000/s).
        span = max(1, max(row[0] for row, _ in planned) * batch_rows // len(planned) + 1)
        by_range: dict[int, list[Row]] = {}
        for row, ids in planned:
            by_range.setdefault(row[0] // span, []).append(row)
            for wid in ids:
                bucket = counts.setdefault(wid // COUNT_BUCKET, {})
                bucket[wid] = bucket.get(wid, 0) + 1
        del planned
        batches: list[Batch] = []
        current: list[Row] = []
        for key in sorted(by_range):
            group = by_range[key]
            group.sort(key=_chat_and_paper)
            for row in group:
                if len(current) >= batch_rows:
                    batches.append(Batch(current))
                    current = []
                current.append(row)
        if current:
            batches.append(Batch(current))
        return batches
    finally:
        if was_enabled:
            gc.enable()


def _chat_and_paper(row: Row) -> tuple[int, str]:
    return row[0], row[1]


def count_batches(counts: HitCounts) -> Iterator[list[tuple[int, int]]]:
    """The hit counts as (watch id, n) pairs by id, at most COUNT_BUCKET per list; each
    sort is small, so the caller may run this on the event loop."""
    for key in sorted(counts):
        yield sorted(counts[key].items())
