"""New papers -> delivery rows: one per (chat, paper), listing every watch of the chat that hit.

`plan_fan_out` runs in a worker thread on the live index (see WatchSet.off_loop): it matches
a chunk of papers and cuts the rows into batches small enough for one short transaction
each, with the hit counts of each batch. Watches of chats that get nothing (blocked, moved)
and watches this process has no chat for yet (made after the paper was stored) are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.types import MatchHit, Paper
from bot.watching.matching import WatchIndex

# (chat_id, paper_id, kind, watch_ids, why) as storage.repo.fanout writes it
Row = tuple[int, str, str, list[int], list[list[str]]]


@dataclass
class Batch:
    rows: list[Row] = field(default_factory=list)
    hit_counts: dict[int, int] = field(default_factory=dict)


def _rows_of_paper(paper_id: str, hits: list[MatchHit], chat_of: Callable[[int], int],
                   inactive: set[int]) -> list[tuple[Row, list[MatchHit]]]:
    per_chat: dict[int, list[MatchHit]] = {}
    for hit in hits:
        chat = chat_of(hit.watch_id)
        if chat and chat not in inactive:
            per_chat.setdefault(chat, []).append(hit)
    out = []
    for chat_id, chat_hits in per_chat.items():
        why = list(dict.fromkeys(term for h in chat_hits for term in h.terms))
        row: Row = (chat_id, paper_id, "alert", sorted(h.watch_id for h in chat_hits),
                    [list(t) for t in why])
        out.append((row, chat_hits))
    return out


def plan_fan_out(index: WatchIndex, papers: Sequence[Paper], chat_of: Callable[[int], int],
                 inactive: set[int], batch_rows: int) -> list[Batch]:
    """Match `papers` and group the resulting rows into batches of at most `batch_rows`."""
    batches = [Batch()]
    for paper_id, hits in index.match_many(papers).items():
        for row, chat_hits in _rows_of_paper(paper_id, hits, chat_of, inactive):
            batch = batches[-1]
            if len(batch.rows) >= batch_rows:
                batch = Batch()
                batches.append(batch)
            batch.rows.append(row)
            for hit in chat_hits:
                batch.hit_counts[hit.watch_id] = batch.hit_counts.get(hit.watch_id, 0) + 1
    return [b for b in batches if b.rows]
