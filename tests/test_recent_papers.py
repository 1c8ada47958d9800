"""The preview's recent papers, read in keyset pages: every paper once, newest first.

One ingest stores all its papers with the same first_seen, so the pages meet ties on the
sort key; a page boundary inside a tie must neither repeat nor skip a paper.
"""

from datetime import timedelta

from bot.types import Paper
from storage import repo
from storage.repo.papers import _RECENT_PAGE


def _papers(prefix: str, n: int) -> list[Paper]:
    return [Paper(id=f"{prefix}.{i:05d}", title=f"Paper {prefix} {i}", source="arxiv")
            for i in range(n)]


async def test_pages_through_ties_on_first_seen_without_repeats_or_gaps(app, clock):
    old_day = clock()
    async with app.sessions.begin() as session:
        await repo.insert_new_papers(session, _papers("2611", 30), old_day)  # one ingest
    clock.advance(hours=3)
    today = _papers("2612", 2 * _RECENT_PAGE + 57)  # several pages, one first_seen
    async with app.sessions.begin() as session:
        await repo.insert_new_papers(session, today, clock())
    clock.advance(days=10)
    async with app.sessions.begin() as session:  # too old for the window below
        await repo.insert_new_papers(session, _papers("2601", 5), old_day - timedelta(days=30))

    async with app.sessions() as session:
        got = await repo.recent_papers(session, old_day - timedelta(days=1))
    ids = [p.id for p in got]
    assert len(ids) == len(set(ids)) == len(today) + 30
    assert set(ids) == {p.id for p in today} | {f"2611.{i:05d}" for i in range(30)}
    assert all(i.startswith("2612.") for i in ids[:len(today)])  # newest first

    async with app.sessions() as session:
        limited = await repo.recent_papers(session, old_day - timedelta(days=1),
                                           limit=_RECENT_PAGE + 3)
    assert [p.id for p in limited] == ids[:_RECENT_PAGE + 3]
