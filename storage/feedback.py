"""Repository functions for feedback marks and the paper texts the ranking engine reads.

Each takes an AsyncSession and never commits (the caller owns the transaction); they return
the plain dataclasses of `bot.ranking.types`, never ORM objects. SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ranking.types import DISLIKE, LIKE, Mark, PaperText, Person, PersonMark
from storage.models import Feedback, PaperRow

# `IN (...)` lists stay under SQLite's parameter limit
_CHUNK = 900


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(Feedback)


def _of(person: Person) -> Any:
    return (Feedback.platform == person.platform) & (Feedback.user_id == person.user_id)


# --- marks ------------------------------------------------------------------------------


async def set_feedback(session: AsyncSession, person: Person, paper_id: str, value: int,
                       now: datetime) -> bool:
    """Store (or replace) the person's mark on a stored paper. False, and nothing stored,
    when the paper is not in the database."""
    if value not in (LIKE, DISLIKE):
        raise ValueError(f"feedback value must be +1 or -1, not {value!r}")
    if await session.scalar(select(PaperRow.id).where(PaperRow.id == paper_id)) is None:
        return False
    stmt = _insert(session).values(platform=person.platform, user_id=person.user_id,
                                   paper_id=paper_id, value=value, created_at=now)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["platform", "user_id", "paper_id"],
        set_={"value": stmt.excluded.value, "created_at": stmt.excluded.created_at}))
    return True


async def set_feedback_many(session: AsyncSession, marks: Sequence[PersonMark],
                            now: datetime) -> None:
    """Store many marks at once (imports, benchmarks); each replaces that person's old mark
    on that paper. The papers must be stored (the foreign key refuses others)."""
    # one row per person and paper (the last mark wins): PostgreSQL refuses to update a
    # row twice in one statement
    unique = list({(m.person, m.paper_id): m for m in marks}.values())
    for start in range(0, len(unique), 500):
        stmt = _insert(session).values([
            {"platform": m.person.platform, "user_id": m.person.user_id,
             "paper_id": m.paper_id, "value": m.value, "created_at": now}
            for m in unique[start:start + 500]])
        await session.execute(stmt.on_conflict_do_update(
            index_elements=["platform", "user_id", "paper_id"],
            set_={"value": stmt.excluded.value, "created_at": stmt.excluded.created_at}))


async def remove_feedback(session: AsyncSession, person: Person, paper_id: str) -> bool:
    """Take a mark back; True when there was one."""
    result = await session.execute(
        delete(Feedback).where(_of(person), Feedback.paper_id == paper_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]  # an UPDATE/DELETE gives a CursorResult


async def feedback_of(session: AsyncSession, person: Person) -> list[Mark]:
    """The person's marks, newest first."""
    rows = await session.execute(
        select(Feedback.paper_id, Feedback.value, Feedback.created_at).where(_of(person))
        .order_by(Feedback.created_at.desc(), Feedback.paper_id))
    return [Mark(paper_id, value, created_at) for paper_id, value, created_at in rows]


async def feedback_of_many(session: AsyncSession, people: Iterable[Person] | None = None
                           ) -> dict[Person, tuple[tuple[str, int], ...]]:
    """The (paper id, value) marks of these people (everyone's, by default) at once, for
    bulk retraining; people without marks are left out. Plain tuples: a bulk read of
    100,000 marks leaves no objects behind for the garbage collector to walk."""
    out: dict[Person, list[tuple[str, int]]] = {}
    if people is None:
        # pages by row id: each await hands the event loop back after at most 10,000 rows
        after = 0
        while rows := (await session.execute(
                select(Feedback.id, Feedback.platform, Feedback.user_id, Feedback.paper_id,
                       Feedback.value)
                .where(Feedback.id > after).order_by(Feedback.id).limit(10_000))).all():
            after = rows[-1][0]
            for _id, platform, user_id, paper_id, value in rows:
                out.setdefault(Person(platform, user_id), []).append((paper_id, value))
        return {person: tuple(marks) for person, marks in out.items()}
    by_platform: dict[str, list[str]] = {}
    for person in sorted(set(people)):
        by_platform.setdefault(person.platform, []).append(person.user_id)
    for platform, user_ids in by_platform.items():
        for start in range(0, len(user_ids), _CHUNK // 2):
            found = await session.execute(
                select(Feedback.user_id, Feedback.paper_id, Feedback.value)
                .where(Feedback.platform == platform,
                       Feedback.user_id.in_(user_ids[start:start + _CHUNK // 2])))
            for user_id, paper_id, value in found:
                out.setdefault(Person(platform, user_id), []).append((paper_id, value))
    return {person: tuple(marks) for person, marks in out.items()}


async def people_with_feedback(session: AsyncSession,
                               since: datetime | None = None) -> list[Person]:
    """Everyone with at least one mark, or (with `since`) everyone who marked a paper at or
    after that time: whose model may have changed. A taken-back mark leaves no row, so a
    retraining job also compares each person's marks with what its model was built from."""
    stmt = select(Feedback.platform, Feedback.user_id).distinct()
    if since is not None:
        stmt = stmt.where(Feedback.created_at >= since)
    rows = await session.execute(stmt.order_by(Feedback.platform, Feedback.user_id))
    return [Person(platform, user_id) for platform, user_id in rows]


async def feedback_chunk(session: AsyncSession, after_id: int = 0,
                         limit: int = 50_000) -> tuple[list[PersonMark], int]:
    """One chunk of all marks in row order, and the id to continue after (for bulk
    retraining of everyone); an empty list at the end."""
    rows = (await session.execute(
        select(Feedback.id, Feedback.platform, Feedback.user_id, Feedback.paper_id,
               Feedback.value)
        .where(Feedback.id > after_id).order_by(Feedback.id).limit(limit))).all()
    marks = [PersonMark(Person(platform, user_id), paper_id, value)
             for _id, platform, user_id, paper_id, value in rows]
    return marks, (rows[-1][0] if rows else after_id)


async def feedback_counts(session: AsyncSession) -> tuple[int, int]:
    """(marks, people): for status and metrics."""
    marks = await session.scalar(select(func.count()).select_from(Feedback))
    people = await session.scalar(
        select(func.count()).select_from(
            select(Feedback.platform, Feedback.user_id).distinct().subquery()))
    return int(marks or 0), int(people or 0)


# --- paper texts for the tf-idf space -----------------------------------------------------


async def corpus_mark(session: AsyncSession) -> tuple[int, datetime | None]:
    """(stored papers, latest first_seen): changes whenever a paper is stored."""
    count, latest = (await session.execute(
        select(func.count(), func.max(PaperRow.first_seen)))).one()
    return int(count), latest


async def paper_texts(session: AsyncSession, after: tuple[datetime, str] | None = None,
                      limit: int = 20_000) -> list[PaperText]:
    """Stored papers' texts in (first_seen, id) order, a chunk at a time: the ones after the
    `after` key (the last one of the previous chunk)."""
    stmt = select(PaperRow.id, PaperRow.title, PaperRow.summary, PaperRow.first_seen)
    if after is not None:
        seen, last_id = after
        stmt = stmt.where(or_(PaperRow.first_seen > seen,
                              and_(PaperRow.first_seen == seen, PaperRow.id > last_id)))
    rows = await session.execute(
        stmt.order_by(PaperRow.first_seen, PaperRow.id).limit(limit))
    return [PaperText(id_, title, summary or "", first_seen)
            for id_, title, summary, first_seen in rows]


async def paper_ids_since(session: AsyncSession, since: datetime) -> list[str]:
    """Ids of the papers first stored at or after `since` (the candidates of /foryou)."""
    rows = await session.scalars(
        select(PaperRow.id).where(PaperRow.first_seen >= since).order_by(PaperRow.id))
    return list(rows)


async def stored_ids(session: AsyncSession, ids: Sequence[str]) -> set[str]:
    """Which of these paper ids are stored."""
    wanted = list(dict.fromkeys(ids))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        found.update(await session.scalars(
            select(PaperRow.id).where(PaperRow.id.in_(wanted[start:start + _CHUNK]))))
    return found
