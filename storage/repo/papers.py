"""Papers: rows to and from the plain Paper, insert the new ones, refresh the known ones.

None of these functions commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.types import Paper
from storage.models import (
    PaperRow,
)
from storage.repo.dialect import upsert_insert


def paper_from_row(row: PaperRow | Row[Any]) -> Paper:
    return Paper(id=row.id, title=row.title, summary=row.summary, authors=tuple(row.authors),
                 categories=tuple(row.categories), keywords=tuple(row.keywords),
                 published=row.published, upvotes=row.upvotes, version=row.version,
                 source=row.source, github_url=row.github_url, project_url=row.project_url,
                 thumbnail_url=row.thumbnail_url, github_stars=row.github_stars,
                 ai_summary=row.ai_summary or "", organization=row.organization)


async def papers_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, PaperRow]:
    ids = list(dict.fromkeys(ids))
    out: dict[str, PaperRow] = {}
    # 200 ORM rows are ~20 ms of the event loop; an arXiv feed re-reads ~1,500 known papers
    for start in range(0, len(ids), 200):
        chunk = ids[start:start + 200]
        rows = await session.scalars(select(PaperRow).where(PaperRow.id.in_(chunk)))
        out.update({r.id: r for r in rows})
    return out


def new_paper_row(paper: Paper, now: datetime) -> PaperRow:
    return PaperRow(id=paper.id, version=paper.version, title=paper.title, summary=paper.summary,
                    authors=list(paper.authors), categories=list(paper.categories),
                    keywords=list(paper.keywords), published=paper.published,
                    upvotes=paper.upvotes, github_url=paper.github_url,
                    project_url=paper.project_url, thumbnail_url=paper.thumbnail_url,
                    github_stars=paper.github_stars, ai_summary=paper.ai_summary,
                    organization=paper.organization,
                    source=paper.source, first_seen=now, updated_at=now, fanout_pending=False)


def refresh_paper_row(row: PaperRow, paper: Paper, now: datetime) -> bool:
    """Fold a newer sighting into a stored paper; True when anything changed.

    Upvotes take the latest value; a newer version replaces text; empty fields get filled.
    """
    changed = False

    def put(attr: str, value: Any) -> None:
        nonlocal changed
        if value not in (None, "", [], ()) and getattr(row, attr) != value:
            setattr(row, attr, value)
            changed = True

    newer = paper.version is not None and (row.version is None or paper.version > row.version)
    if newer:
        put("version", paper.version)
        put("title", paper.title)
        put("summary", paper.summary)
    for attr in ("summary", "published", "github_url", "project_url", "thumbnail_url",
                 "ai_summary", "organization"):
        if getattr(row, attr) in (None, ""):
            put(attr, getattr(paper, attr))
    for attr in ("authors", "categories", "keywords"):
        if not getattr(row, attr) or newer:
            put(attr, list(getattr(paper, attr)))
    if paper.upvotes is not None:
        put("upvotes", paper.upvotes)
    if paper.github_stars is not None:
        put("github_stars", paper.github_stars)
    if changed:
        row.updated_at = now
    return changed


async def insert_new_papers(session: AsyncSession, papers: Sequence[Paper],
                            now: datetime, fanout_pending: bool = False) -> set[str]:
    """Insert papers not stored yet; return the ids this call inserted (race-safe).

    fanout_pending marks them as still to be matched and fanned out (crash-safe ingest)."""
    inserted: set[str] = set()
    # a multi-row VALUES is compiled anew each time, ~0.3 ms a row on the event loop: 50
    # rows a statement keep each step short
    for start in range(0, len(papers), 50):
        values = [{**{c: getattr(row, c) for c in _PAPER_COLUMNS},
                   "fanout_pending": fanout_pending}
                  for row in (new_paper_row(p, now) for p in papers[start:start + 50])]
        result = await session.execute(
            upsert_insert(session, PaperRow).values(values)
            .on_conflict_do_nothing(index_elements=["id"]).returning(PaperRow.id))
        inserted.update(result.scalars())
    return inserted


_PAPER_COLUMNS = [c.key for c in PaperRow.__table__.columns]


async def recent_papers_mark(session: AsyncSession, since: datetime) -> tuple:
    """What changes whenever the papers first seen since `since` change (a cache key)."""
    row = (await session.execute(
        select(func.count(), func.max(PaperRow.first_seen), func.max(PaperRow.updated_at),
               func.sum(func.coalesce(PaperRow.upvotes, 0)),
               func.sum(func.coalesce(PaperRow.version, 0)))
        .where(PaperRow.first_seen >= since))).one()
    return tuple(row)


async def recent_papers(session: AsyncSession, since: datetime, limit: int = 5000) -> list[Paper]:
    """The papers first seen since `since`, newest first, at most `limit`. Read as plain rows
    (not ORM objects) in pages of _RECENT_PAGE: a week is ~3,000 papers, and one ORM load
    of them held the event loop ~190 ms while every chat waited."""
    table = PaperRow.__table__
    out: list[Paper] = []
    after: tuple[datetime, str] | None = None
    while len(out) < limit:
        stmt = select(table).where(table.c.first_seen >= since)
        if after is not None:  # keyset paging: rows added meanwhile shift nothing
            stmt = stmt.where(or_(table.c.first_seen < after[0],
                                  and_(table.c.first_seen == after[0], table.c.id > after[1])))
        page = min(_RECENT_PAGE, limit - len(out))
        rows = (await session.execute(
            stmt.order_by(table.c.first_seen.desc(), table.c.id).limit(page))).all()
        out.extend(paper_from_row(row) for row in rows)
        if len(rows) < page:
            break
        after = (rows[-1].first_seen, rows[-1].id)
    return out


_RECENT_PAGE = 200
