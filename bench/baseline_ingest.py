"""The first version's ingest, kept as the baseline of bench/ingest.py (not used by the bot).

One transaction for the whole batch: store the papers, match them on the event loop, build
one delivery row per (chat, paper) on the loop, insert them 500 at a time and bump the hit
count of each watch with its own UPDATE. This is what issue 14 measured (100k watches:
113 s, a 3.1 s loop stall, a /watch answered after 60 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import update

from bot.types import MatchHit, Paper
from storage import repo
from storage.models import Watch

if TYPE_CHECKING:
    from bot.app import App


async def baseline_ingest(app: App, papers: list[Paper]) -> int:
    now = app.clock()
    async with app.sessions.begin() as session:
        existing = await repo.papers_by_id(session, [p.id for p in papers])
        fresh = [p for p in papers if p.id not in existing]
        inserted = await repo.insert_new_papers(session, fresh, now)
        new_papers = [p for p in fresh if p.id in inserted]
        await app.watches.refresh(session, now)
        hits = app.watches.index.match_many(new_papers)
        watch_chat = await repo.active_watch_ids(
            session, {h.watch_id for paper_hits in hits.values() for h in paper_hits})
        rows, hit_counts = [], {}
        for paper_id, paper_hits in hits.items():
            per_chat: dict[int, list[MatchHit]] = {}
            for hit in paper_hits:
                if hit.watch_id in watch_chat:
                    per_chat.setdefault(watch_chat[hit.watch_id], []).append(hit)
            for chat_id, chat_hits in per_chat.items():
                why = list(dict.fromkeys(term for h in chat_hits for term in h.terms))
                rows.append({"chat_id": chat_id, "paper_id": paper_id,
                             "watch_ids": sorted(h.watch_id for h in chat_hits),
                             "why": [list(t) for t in why], "state": "pending", "attempts": 0,
                             "next_attempt_at": now, "created_at": now})
                for h in chat_hits:
                    hit_counts[h.watch_id] = hit_counts.get(h.watch_id, 0) + 1
        created = await repo.enqueue_deliveries(session, rows)
        for watch_id, count in hit_counts.items():  # the first version: one UPDATE per watch
            await session.execute(update(Watch).where(Watch.id == watch_id)
                                  .values(hit_count=Watch.hit_count + count))
    return created
