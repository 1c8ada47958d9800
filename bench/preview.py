"""Bench: the /watch preview over ~3,000 recent papers, with and without the prefilter.

Papers from bench.matching's PaperMaker (real-sized, the vocabulary of the bundled real
abstracts), queries from its make_watches. Times, in one process:
- 50 previews of varied queries, the full match alone (prefilter off) and with the
  prefilter on the cached joined texts, and with texts made per call (daily topics);
- the joined texts of all papers (made once per reload, in a worker thread);
- RecentPapers' reload of the papers through the ORM (on the event loop), on a SQLite file
  and, when PAPERWATCH_TEST_POSTGRES_URL is set, on a fresh PostgreSQL database.

    python -m bench.preview
    python -m bench.preview --papers 3000 --queries 50
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.ingest import fresh_database
from bench.matching import Corpus, PaperMaker, make_papers, make_watches
from bot.types import Paper
from bot.watching.matching import matching_papers
from bot.watching.prefilter import paper_text
from bot.watching.preview import RecentPapers
from bot.watching.query import Query, QueryError, parse
from storage import repo
from storage.db import create_engine, session_factory, upgrade

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def queries(corpus: Corpus, count: int) -> list[Query]:
    out: list[Query] = []
    for _, text in make_watches(corpus, count * 3, seed=7):
        try:
            out.append(parse(text))
        except QueryError:
            continue
        if len(out) == count:
            break
    return out


def time_previews(query_list: list[Query], papers: list[Paper], **kw) -> tuple[float, int]:
    """Milliseconds per preview and the number of papers matched in all."""
    start = time.perf_counter()
    found = sum(len(matching_papers(q, papers, **kw)) for q in query_list)
    return (time.perf_counter() - start) * 1000 / len(query_list), found


async def time_reload(url: str, papers: list[Paper], rounds: int = 5) -> float:
    """Milliseconds for one RecentPapers reload of all the papers (median of rounds)."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        async with sessions() as session:
            await repo.insert_new_papers(session, papers, NOW - timedelta(hours=1))
            await session.commit()
        recent = RecentPapers(sessions)
        times = []
        for _ in range(rounds):
            recent._mark = None  # as after any change of the table's recent rows
            start = time.perf_counter()
            got = await recent.get(NOW)
            times.append((time.perf_counter() - start) * 1000)
            assert len(got) == len(papers)
        return statistics.median(times)
    finally:
        await engine.dispose()


async def postgres_reload(base_url: str, papers: list[Paper]) -> float:
    async with fresh_database(base_url) as url:
        return await time_reload(url, papers)

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=3000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args(argv)
    corpus = Corpus()
    papers = make_papers(PaperMaker(corpus, 11), args.papers)
    query_list = queries(corpus, args.queries)

    start = time.perf_counter()
    texts = [paper_text(p) for p in papers]
    texts_ms = (time.perf_counter() - start) * 1000
    off, found_off = time_previews(query_list, papers, prefilter=False)
    on, found_on = time_previews(query_list, papers, texts=texts)
    uncached, found_uncached = time_previews(query_list, papers)
    assert found_off == found_on == found_uncached, (found_off, found_on, found_uncached)
    print(f"{len(papers)} papers, {len(query_list)} queries, {found_on} papers matched in all")
    print(f"joined texts of all papers (once per reload, worker thread): {texts_ms:.0f} ms")
    print(f"preview, full match only:         {off:7.1f} ms")
    print(f"preview, prefilter, cached texts: {on:7.1f} ms   ({off / on:.1f}x faster)")
    print(f"preview, prefilter, texts made:   {uncached:7.1f} ms   ({off / uncached:.1f}x faster)")

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        print(f"reload of {len(papers)} papers, SQLite:     "
              f"{asyncio.run(time_reload(url, papers)):.0f} ms")
    pg = os.environ.get("PAPERWATCH_TEST_POSTGRES_URL", "")
    if pg:
        print(f"reload of {len(papers)} papers, PostgreSQL: "
              f"{asyncio.run(postgres_reload(pg, papers)):.0f} ms")


if __name__ == "__main__":
    main()
