"""Repository functions: every query paperwatch runs, each taking an AsyncSession.

None of them commits: the caller owns the transaction (`async with sessions.begin()`).
SQL that differs by dialect (upserts, row claiming) is chosen here, in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, false, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.types import ChatRef, Paper
from storage.models import (
    ChannelPost,
    Chat,
    DailyPost,
    Delivery,
    PaperRow,
    SourceState,
    Watch,
    WorkerBeat,
)

# --- dialect-specific pieces ------------------------------------------------------------


def _insert(session: AsyncSession, model: type) -> Any:
    """INSERT that supports ON CONFLICT on both SQLite and PostgreSQL."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


# --- chats ------------------------------------------------------------------------------


def chat_ref(chat: Chat) -> ChatRef:
    return ChatRef(chat.platform, chat.external_id, chat.kind)


async def find_chat(session: AsyncSession, ref: ChatRef) -> Chat | None:
    return await session.scalar(
        select(Chat).where(Chat.platform == ref.platform, Chat.external_id == ref.external_id))


async def get_or_create_chat(session: AsyncSession, ref: ChatRef, now: datetime) -> Chat:
    """The chat row for ref, created on first contact (race-safe across processes)."""
    chat = await find_chat(session, ref)
    if chat is not None:
        return chat
    await session.execute(
        _insert(session, Chat)
        .values(platform=ref.platform, external_id=ref.external_id, kind=ref.kind,
                state="active", created_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "external_id"]))
    chat = await find_chat(session, ref)
    assert chat is not None
    return chat


async def set_chat_state(session: AsyncSession, chat_id: int, state: str,
                         reason: str | None = None) -> None:
    await session.execute(
        update(Chat).where(Chat.id == chat_id).values(state=state, state_reason=reason))


async def set_muted_until(session: AsyncSession, chat: Chat, until: datetime | None) -> None:
    chat.muted_until = until
    await session.flush()


async def move_chat(session: AsyncSession, ref: ChatRef, new_external_id: str) -> None:
    """A chat got a new id (Telegram group -> supergroup): keep its watches and outbox."""
    chat = await find_chat(session, ref)
    if chat is None:
        return
    other = await find_chat(session, ChatRef(ref.platform, new_external_id, ref.kind))
    if other is None:
        chat.external_id = new_external_id
        await session.flush()
        return
    # The new id already talked to us: fold the old chat's watches and waiting alerts into
    # it (alerts it already has stay single), and stop sending to the old id.
    # Moved watches are numbered after the new chat's own, keeping their order.
    offset = await session.scalar(select(func.max(Watch.number)).where(Watch.chat_id == other.id))
    await session.execute(update(Watch).where(Watch.chat_id == chat.id)
                          .values(chat_id=other.id, number=Watch.number + (offset or 0))
                          .execution_options(synchronize_session=False))
    already = select(Delivery.paper_id).where(Delivery.chat_id == other.id)
    await session.execute(
        update(Delivery)
        .where(Delivery.chat_id == chat.id, Delivery.state == "pending",
               Delivery.paper_id.not_in(already))
        .values(chat_id=other.id, claimed_by=None, claimed_until=None)
        .execution_options(synchronize_session=False))
    await session.execute(
        update(Delivery).where(Delivery.chat_id == chat.id, Delivery.state == "pending")
        .values(state="failed", last_error=f"chat moved to {new_external_id}")
        .execution_options(synchronize_session=False))
    await set_chat_state(session, chat.id, "blocked", f"moved to {new_external_id}")


# --- watches ----------------------------------------------------------------------------


async def active_watches(session: AsyncSession, chat_id: int) -> list[Watch]:
    rows = await session.scalars(
        select(Watch).where(Watch.chat_id == chat_id, Watch.deleted_at.is_(None))
        .order_by(Watch.id))
    return list(rows)


async def add_watch(session: AsyncSession, chat_id: int, query: str, now: datetime) -> Watch:
    """Store a watch with the chat's next number (numbers are never reused in a chat)."""
    highest = await session.scalar(select(func.max(Watch.number)).where(Watch.chat_id == chat_id))
    watch = Watch(chat_id=chat_id, number=(highest or 0) + 1, query=query, created_at=now,
                  hit_count=0)
    session.add(watch)
    await session.flush()
    return watch


async def delete_watch(session: AsyncSession, watch: Watch, now: datetime) -> None:
    watch.deleted_at = now
    await session.flush()


async def get_watch(session: AsyncSession, watch_id: int) -> Watch | None:
    return await session.get(Watch, watch_id)


async def watches_changed(session: AsyncSession, after_id: int, deleted_since: datetime | None,
                          created_since: datetime | None = None,
                          ) -> tuple[list[tuple[int, str]], list[int]]:
    """(id, query) of active watches with id > after_id or created since a time, and the ids
    deleted since a time. Plain rows, not ORM objects: a bot start loads a million of them."""
    recent = Watch.id > after_id
    if created_since is not None:
        recent = or_(recent, Watch.created_at >= created_since)
    added = (await session.execute(
        select(Watch.id, Watch.query).where(recent, Watch.deleted_at.is_(None))
        .order_by(Watch.id))).all()
    removed: list[int] = []
    if deleted_since is not None:
        removed = list(await session.scalars(
            select(Watch.id).where(Watch.deleted_at >= deleted_since)))
    return [(wid, text) for wid, text in added], removed


async def active_watch_ids(session: AsyncSession, ids: Iterable[int]) -> dict[int, int]:
    """Of these watch ids, the ones still active, mapped to their chat id."""
    ids = list(ids)
    out: dict[int, int] = {}
    for start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
        chunk = ids[start:start + 900]
        rows = await session.execute(
            select(Watch.id, Watch.chat_id)
            .join(Chat, Chat.id == Watch.chat_id)
            .where(Watch.id.in_(chunk), Watch.deleted_at.is_(None), Chat.state == "active"))
        out.update({wid: cid for wid, cid in rows})
    return out


async def watch_queries(session: AsyncSession, ids: Iterable[int]) -> dict[int, str]:
    ids = list(ids)
    if not ids:
        return {}
    rows = await session.execute(select(Watch.id, Watch.query).where(Watch.id.in_(ids)))
    return {wid: q for wid, q in rows}


async def watch_numbers(session: AsyncSession, ids: Iterable[int]) -> dict[int, int]:
    """The number each watch shows its chat (/watches, /unwatch N), by watch id."""
    ids = list(ids)
    if not ids:
        return {}
    rows = await session.execute(select(Watch.id, Watch.number).where(Watch.id.in_(ids)))
    return {wid: number for wid, number in rows}


async def add_hits(session: AsyncSession, counts: dict[int, int]) -> None:
    for watch_id, n in counts.items():
        await session.execute(update(Watch).where(Watch.id == watch_id)
                              .values(hit_count=Watch.hit_count + n))


# --- papers -----------------------------------------------------------------------------


def paper_from_row(row: PaperRow) -> Paper:
    return Paper(id=row.id, title=row.title, summary=row.summary, authors=tuple(row.authors),
                 categories=tuple(row.categories), keywords=tuple(row.keywords),
                 published=row.published, upvotes=row.upvotes, version=row.version,
                 source=row.source, github_url=row.github_url, project_url=row.project_url,
                 thumbnail_url=row.thumbnail_url, github_stars=row.github_stars,
                 ai_summary=row.ai_summary or "", organization=row.organization)


async def papers_by_id(session: AsyncSession, ids: Iterable[str]) -> dict[str, PaperRow]:
    ids = list(dict.fromkeys(ids))
    out: dict[str, PaperRow] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
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
                    source=paper.source, first_seen=now, updated_at=now)


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
                            now: datetime) -> set[str]:
    """Insert papers not stored yet; return the ids this call inserted (race-safe)."""
    inserted: set[str] = set()
    for start in range(0, len(papers), 200):
        values = [{c: getattr(row, c) for c in _PAPER_COLUMNS}
                  for row in (new_paper_row(p, now) for p in papers[start:start + 200])]
        result = await session.execute(
            _insert(session, PaperRow).values(values)
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
    rows = await session.scalars(
        select(PaperRow).where(PaperRow.first_seen >= since)
        .order_by(PaperRow.first_seen.desc()).limit(limit))
    return [paper_from_row(r) for r in rows]


# --- deliveries -------------------------------------------------------------------------


async def enqueue_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows; a (chat, paper) pair that already exists is left alone."""
    inserted = 0
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        result = await session.execute(
            _insert(session, Delivery).values(list(chunk))
            .on_conflict_do_nothing(index_elements=["chat_id", "paper_id"])
            .returning(Delivery.id))
        inserted += len(result.all())
    return inserted


def _due(now: datetime) -> Any:
    return and_(
        Delivery.state == "pending",
        Delivery.next_attempt_at <= now,
        or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
    )


async def _serialize_claims(session: AsyncSession) -> None:
    """On SQLite, take the write lock first so concurrent claimers queue instead of
    interleaving (PostgreSQL uses row locks instead)."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(update(Chat).where(false()).values(state=Chat.state))


async def claim_due(session: AsyncSession, worker: str, now: datetime, lease_until: datetime,
                    max_chats: int, platforms: Sequence[str]) -> list[Delivery]:
    """Claim every due delivery of up to `max_chats` chats, the chats with the oldest due
    row first. A chat's rows are claimed together (they go out as one message), and chats
    locked by another worker are skipped, so workers never share a chat or a row.
    Muted and blocked chats are not due."""
    await _serialize_claims(session)
    oldest_due = (select(func.min(Delivery.next_attempt_at))
                  .where(Delivery.chat_id == Chat.id, _due(now)).scalar_subquery())
    # a chat whose earlier rows another worker is still sending waits for that worker:
    # one sender per chat keeps its pacing and its hourly count right
    busy = exists().where(Delivery.chat_id == Chat.id, Delivery.state == "pending",
                          Delivery.claimed_until >= now)
    chats = select(Chat.id).where(
        Chat.state == "active", Chat.platform.in_(platforms),
        or_(Chat.muted_until.is_(None), Chat.muted_until <= now),
        or_(Chat.hold_until.is_(None), Chat.hold_until <= now),
        ~busy, oldest_due.is_not(None)).order_by(oldest_due, Chat.id).limit(max_chats)
    if session.get_bind().dialect.name == "postgresql":
        chats = chats.with_for_update(skip_locked=True, of=Chat)
    chat_ids = list(await session.scalars(chats))
    if not chat_ids:
        return []
    ids = list(await session.scalars(
        select(Delivery.id).where(Delivery.chat_id.in_(chat_ids), _due(now))))
    await session.execute(
        update(Delivery).where(Delivery.id.in_(ids), _due(now))
        .values(claimed_by=worker, claimed_until=lease_until)
        .execution_options(synchronize_session=False))
    rows = await session.scalars(
        select(Delivery).where(Delivery.id.in_(ids), Delivery.claimed_by == worker,
                               Delivery.claimed_until == lease_until)
        .order_by(Delivery.chat_id, Delivery.id))
    return list(rows)


async def mark_sent(session: AsyncSession, ids: Sequence[int], now: datetime) -> None:
    await session.execute(
        update(Delivery).where(Delivery.id.in_(ids))
        .values(state="sent", sent_at=now, claimed_by=None, claimed_until=None,
                attempts=Delivery.attempts + 1, last_error=None)
        .execution_options(synchronize_session=False))


async def mark_retry(session: AsyncSession, ids: Sequence[int], next_at: datetime, error: str,
                     count_attempt: bool = True) -> None:
    await session.execute(
        update(Delivery).where(Delivery.id.in_(ids))
        .values(next_attempt_at=next_at, claimed_by=None, claimed_until=None, last_error=error,
                attempts=Delivery.attempts + (1 if count_attempt else 0))
        .execution_options(synchronize_session=False))


async def mark_failed(session: AsyncSession, ids: Sequence[int], reason: str) -> None:
    await session.execute(
        update(Delivery).where(Delivery.id.in_(ids))
        .values(state="failed", claimed_by=None, claimed_until=None, last_error=reason,
                attempts=Delivery.attempts + 1)
        .execution_options(synchronize_session=False))


async def release(session: AsyncSession, ids: Sequence[int],
                  next_at: datetime | None = None) -> None:
    """Give claimed rows back untouched (held for later, or no send slot in time)."""
    values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
    if next_at is not None:
        values["next_attempt_at"] = next_at
    await session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(**values)
                          .execution_options(synchronize_session=False))


async def set_hold(session: AsyncSession, chat_id: int, until: datetime | None) -> None:
    await session.execute(update(Chat).where(Chat.id == chat_id).values(hold_until=until))


async def record_sends(session: AsyncSession, chat_id: int, recent: Sequence[datetime]) -> None:
    """Remember when the latest messages went to a chat (the hourly cap's memory)."""
    await session.execute(update(Chat).where(Chat.id == chat_id).values(
        recent_sends=[t.astimezone(UTC).isoformat() for t in recent]))


async def end_away(session: AsyncSession, chat_id: int, muted_until: datetime) -> None:
    """The "while you were away" alerts went out: forget the ended mute (unless the chat
    was muted again meanwhile)."""
    await session.execute(update(Chat).where(Chat.id == chat_id,
                                             Chat.muted_until == muted_until)
                          .values(muted_until=None))


async def save_chat_settings(session: AsyncSession, chat: Chat, **values: Any) -> None:
    """Change delivery preferences; the worker re-plans the chat's waiting alerts."""
    for key, value in values.items():
        setattr(chat, key, value)
    chat.hold_until = None
    await session.flush()


async def oldest_pending(session: AsyncSession, chat_id: int) -> datetime | None:
    return await session.scalar(select(func.min(Delivery.created_at)).where(
        Delivery.chat_id == chat_id, Delivery.state == "pending"))


async def last_failure(session: AsyncSession, chat_id: int) -> str | None:
    return await session.scalar(
        select(Delivery.last_error).where(Delivery.chat_id == chat_id,
                                          Delivery.state == "failed")
        .order_by(Delivery.id.desc()).limit(1))


async def delivery_counts(session: AsyncSession, chat_id: int | None = None) -> dict[str, int]:
    stmt = select(Delivery.state, func.count()).group_by(Delivery.state)
    if chat_id is not None:
        stmt = stmt.where(Delivery.chat_id == chat_id)
    return {state: n for state, n in (await session.execute(stmt)).all()}


async def next_due_at(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(Delivery.state == "pending"))


# --- channel posts ----------------------------------------------------------------------


async def get_channel_post(session: AsyncSession, chat_id: int) -> ChannelPost | None:
    return await session.get(ChannelPost, chat_id)


async def save_channel_post(session: AsyncSession, chat_id: int, now: datetime,
                            **values: Any) -> ChannelPost:
    post = await session.get(ChannelPost, chat_id)
    if post is None:
        post = ChannelPost(chat_id=chat_id, updated_at=now)
        session.add(post)
    for key, value in values.items():
        setattr(post, key, value)
    post.updated_at = now
    await session.flush()
    return post


async def daily_post_targets(session: AsyncSession,
                             platforms: Sequence[str]) -> list[tuple[ChannelPost, Chat]]:
    """Every enabled daily post of an active chat on one of these platforms."""
    rows = await session.execute(
        select(ChannelPost, Chat).join(Chat, Chat.id == ChannelPost.chat_id)
        .where(ChannelPost.enabled.is_(True), Chat.state == "active",
               Chat.platform.in_(platforms)).order_by(ChannelPost.chat_id))
    return [(post, chat) for post, chat in rows]


async def daily_posts_of(session: AsyncSession, keys: Iterable[tuple[int, date]]
                         ) -> dict[tuple[int, date], DailyPost]:
    keys = list(keys)
    out: dict[tuple[int, date], DailyPost] = {}
    for start in range(0, len(keys), 400):
        chunk = keys[start:start + 400]
        rows = await session.scalars(select(DailyPost).where(or_(*(
            and_(DailyPost.chat_id == c, DailyPost.day == d) for c, d in chunk))))
        out.update({(r.chat_id, r.day): r for r in rows})
    return out


async def claim_daily_post(session: AsyncSession, chat_id: int, day: date, worker: str,
                           now: datetime, lease_until: datetime) -> DailyPost | None:
    """Take the (chat, day) post: create its row, or take over one whose lease ran out or
    whose retry is due. None if it is done or someone else has it."""
    result = await session.execute(
        _insert(session, DailyPost)
        .values(chat_id=chat_id, day=day, state="claimed", claimed_by=worker,
                claimed_until=lease_until, attempts=0, papers=0, created_at=now)
        .on_conflict_do_nothing(index_elements=["chat_id", "day"]).returning(DailyPost.day))
    if result.first() is None:
        taken = await session.execute(
            update(DailyPost)
            .where(DailyPost.chat_id == chat_id, DailyPost.day == day, or_(
                and_(DailyPost.state == "claimed", DailyPost.claimed_until < now),
                and_(DailyPost.state == "retry", DailyPost.next_attempt_at <= now)))
            .values(state="claimed", claimed_by=worker, claimed_until=lease_until)
            .execution_options(synchronize_session=False))
        if taken.rowcount != 1:
            return None
    return await session.scalar(
        select(DailyPost).where(DailyPost.chat_id == chat_id, DailyPost.day == day)
        .execution_options(populate_existing=True))


async def finish_daily_post(session: AsyncSession, chat_id: int, day: date, state: str, *,
                            now: datetime, papers: int = 0, error: str | None = None,
                            next_at: datetime | None = None, attempt: bool = True) -> None:
    """Record the outcome: sent, empty (nothing to post), failed, or retry at next_at."""
    await session.execute(
        update(DailyPost).where(DailyPost.chat_id == chat_id, DailyPost.day == day)
        .values(state=state, claimed_by=None, claimed_until=None, papers=papers,
                last_error=error, next_attempt_at=next_at,
                posted_at=now if state == "sent" else None,
                attempts=DailyPost.attempts + (1 if attempt else 0))
        .execution_options(synchronize_session=False))


async def disable_channel_post(session: AsyncSession, chat_id: int, reason: str) -> None:
    await session.execute(update(ChannelPost).where(ChannelPost.chat_id == chat_id)
                          .values(disabled_reason=reason))


async def stored_trending(session: AsyncSession, day: date, limit: int = 100) -> list[Paper]:
    """The day's Hugging Face papers from the papers table, most upvoted first: first seen
    that day (the poller stores a day's list as it appears) or published that day (UTC)."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    end = start + timedelta(days=1)
    rows = await session.scalars(
        select(PaperRow).where(PaperRow.source == "hf", or_(
            and_(PaperRow.first_seen >= start, PaperRow.first_seen < end),
            and_(PaperRow.published >= start, PaperRow.published < end)))
        .order_by(func.coalesce(PaperRow.upvotes, 0).desc(), PaperRow.id).limit(limit))
    return [paper_from_row(r) for r in rows]


async def prune_daily_posts(session: AsyncSession, before: date) -> None:
    await session.execute(delete(DailyPost).where(DailyPost.day < before))


# --- queue report -----------------------------------------------------------------------


async def queue_stats(session: AsyncSession, now: datetime) -> dict[str, Any]:
    """What `paperwatch status` shows: the outbox by platform and state, what is due,
    claimed, held and why, recent failures and refusing chats."""
    by_state = (await session.execute(
        select(Chat.platform, Delivery.state, func.count())
        .join(Chat, Chat.id == Delivery.chat_id)
        .group_by(Chat.platform, Delivery.state))).all()
    pending = Delivery.state == "pending"
    due = (await session.execute(
        select(func.count(), func.min(Delivery.next_attempt_at)).join(Chat)
        .where(_due(now), Chat.state == "active",
               or_(Chat.muted_until.is_(None), Chat.muted_until <= now),
               or_(Chat.hold_until.is_(None), Chat.hold_until <= now)))).one()
    claimed = await session.scalar(select(func.count()).where(
        pending, Delivery.claimed_until >= now))
    later = await session.scalar(select(func.count()).where(
        pending, Delivery.next_attempt_at > now))
    muted = await session.scalar(select(func.count()).select_from(Delivery).join(Chat).where(
        pending, Chat.muted_until > now))
    held = await session.scalar(select(func.count()).select_from(Delivery).join(Chat).where(
        pending, Chat.hold_until > now, or_(Chat.muted_until.is_(None),
                                            Chat.muted_until <= now)))
    blocked_rows = await session.scalar(select(func.count()).select_from(Delivery).join(Chat)
                                        .where(pending, Chat.state != "active"))
    reasons = (await session.execute(
        select(Delivery.last_error, func.count()).where(
            Delivery.state == "failed", Delivery.created_at >= now - timedelta(days=1))
        .group_by(Delivery.last_error).order_by(func.count().desc()).limit(5))).all()
    blocked = await session.scalar(select(func.count()).select_from(Chat)
                                   .where(Chat.state != "active"))
    modes = (await session.execute(select(Chat.mode, func.count()).group_by(Chat.mode))).all()
    posts = (await session.execute(select(DailyPost.state, func.count()).where(
        DailyPost.day >= (now - timedelta(days=1)).date()).group_by(DailyPost.state))).all()
    return {"by_state": [tuple(r) for r in by_state], "due": due[0], "oldest_due": due[1],
            "claimed": claimed or 0, "later": later or 0, "muted": muted or 0,
            "held": held or 0, "blocked_rows": blocked_rows or 0,
            "failed_reasons": [tuple(r) for r in reasons], "blocked_chats": blocked or 0,
            "modes": dict(modes), "daily_posts": dict(posts)}


# --- sources ----------------------------------------------------------------------------


async def get_source_state(session: AsyncSession, name: str) -> SourceState | None:
    return await session.get(SourceState, name)


async def save_source_state(session: AsyncSession, name: str, *, initialized: bool | None = None,
                            last_attempt_at: datetime | None = None,
                            last_success_at: datetime | None = None,
                            last_status: str | None = None, last_note: str | None = None,
                            cursor: dict[str, Any] | None = None) -> SourceState:
    """Change only the fields given; create the row on first use."""
    state = await session.get(SourceState, name)
    if state is None:
        state = SourceState(name=name, initialized=False, cursor={})
        session.add(state)
    given = {"initialized": initialized, "last_attempt_at": last_attempt_at,
             "last_success_at": last_success_at, "last_status": last_status,
             "last_note": last_note, "cursor": cursor}
    for key, value in given.items():
        if value is not None:
            setattr(state, key, value)
    await session.flush()
    return state


async def claim_source_cycle(session: AsyncSession, name: str, now: datetime,
                             min_gap: timedelta) -> bool:
    """Take this source's next poll for the calling process: True unless some process
    attempted it less than `min_gap` ago (so several schedulers poll once, not N times)."""
    await session.execute(
        _insert(session, SourceState).values(name=name, initialized=False, cursor={})
        .on_conflict_do_nothing(index_elements=["name"]))
    result = await session.execute(
        update(SourceState)
        .where(SourceState.name == name,
               or_(SourceState.last_attempt_at.is_(None),
                   SourceState.last_attempt_at <= now - min_gap))
        .values(last_attempt_at=now).execution_options(synchronize_session=False))
    return result.rowcount == 1


async def all_source_states(session: AsyncSession) -> list[SourceState]:
    return list(await session.scalars(select(SourceState).order_by(SourceState.name)))


# --- live delivery workers --------------------------------------------------------------


async def worker_beat(session: AsyncSession, worker_id: str, now: datetime,
                      stale: timedelta) -> int:
    """Record that this worker is alive, forget workers silent for longer than `stale`,
    and return how many are alive (this one included)."""
    await session.execute(
        _insert(session, WorkerBeat).values(id=worker_id, seen_at=now)
        .on_conflict_do_update(index_elements=["id"], set_={"seen_at": now}))
    await session.execute(delete(WorkerBeat).where(WorkerBeat.seen_at < now - stale))
    return await session.scalar(select(func.count()).select_from(WorkerBeat)) or 1


async def forget_worker(session: AsyncSession, worker_id: str) -> None:
    """A worker stopping cleanly hands its share back at once."""
    await session.execute(delete(WorkerBeat).where(WorkerBeat.id == worker_id))
