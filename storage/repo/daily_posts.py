"""Daily trending posts: each chat's settings, one claimed row per (chat, day).

None of these functions commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.types import ChannelPostSettings, DailyPostState, DeliveryChat, Paper
from storage.models import (
    ChannelPost,
    Chat,
    DailyPost,
    PaperRow,
)
from storage.repo.deliveries import delivery_chat
from storage.repo.dialect import upsert_insert
from storage.repo.papers import paper_from_row

# what /daily may set; the rest of a channel_posts row is bookkeeping
SETTINGS = ("enabled", "post_time", "timezone", "top_n", "min_upvotes", "topic_query",
            "post_empty_note", "weekdays", "disabled_reason")


def channel_post_settings(post: ChannelPost) -> ChannelPostSettings:
    return ChannelPostSettings(
        chat_id=post.chat_id, enabled=post.enabled, post_time=post.post_time,
        timezone=post.timezone, top_n=post.top_n, min_upvotes=post.min_upvotes,
        topic_query=post.topic_query, post_empty_note=post.post_empty_note,
        weekdays=bool(post.weekdays), disabled_reason=post.disabled_reason)


def daily_post_state(row: DailyPost) -> DailyPostState:
    return DailyPostState(chat_id=row.chat_id, day=row.day, state=row.state,
                          attempts=row.attempts, claimed_until=row.claimed_until,
                          next_attempt_at=row.next_attempt_at, papers=row.papers,
                          last_error=row.last_error)


async def get_channel_post(session: AsyncSession, chat_id: int) -> ChannelPostSettings | None:
    post = await session.get(ChannelPost, chat_id, populate_existing=True)
    return channel_post_settings(post) if post is not None else None


async def save_channel_post(session: AsyncSession, chat_id: int, now: datetime,
                            **values: Any) -> ChannelPostSettings:
    """Create or change a chat's daily post; `values` are ChannelPostSettings fields."""
    unknown = set(values) - set(SETTINGS)
    if unknown:
        raise TypeError(f"not a daily post setting: {', '.join(sorted(unknown))}")
    post = await session.get(ChannelPost, chat_id)
    if post is None:
        post = ChannelPost(chat_id=chat_id, updated_at=now)
        session.add(post)
    for key, value in values.items():
        setattr(post, key, value)
    post.updated_at = now
    await session.flush()
    return channel_post_settings(post)


async def daily_post_targets(session: AsyncSession, platforms: Sequence[str]
                             ) -> list[tuple[ChannelPostSettings, DeliveryChat]]:
    """Every enabled daily post of an active chat on one of these platforms: a channel's
    or group's post, or a person's own subscription (their private chat or DM)."""
    rows = await session.execute(
        select(ChannelPost, Chat).join(Chat, Chat.id == ChannelPost.chat_id)
        .where(ChannelPost.enabled.is_(True), Chat.state == "active",
               Chat.platform.in_(platforms)).order_by(ChannelPost.chat_id))
    return [(channel_post_settings(post), delivery_chat(chat)) for post, chat in rows]


async def daily_posts_of(session: AsyncSession, keys: Iterable[tuple[int, date]]
                         ) -> dict[tuple[int, date], DailyPostState]:
    keys = list(keys)
    out: dict[tuple[int, date], DailyPostState] = {}
    for start in range(0, len(keys), 400):
        chunk = keys[start:start + 400]
        rows = await session.scalars(select(DailyPost).where(or_(*(
            and_(DailyPost.chat_id == c, DailyPost.day == d) for c, d in chunk))))
        out.update({(r.chat_id, r.day): daily_post_state(r) for r in rows})
    return out


async def claim_daily_post(session: AsyncSession, chat_id: int, day: date, worker: str,
                           now: datetime, lease_until: datetime) -> DailyPostState | None:
    """Take the (chat, day) post: create its row, or take over one whose lease ran out or
    whose retry is due. None if it is done or someone else has it."""
    result = await session.execute(
        upsert_insert(session, DailyPost)
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
            .returning(DailyPost.day).execution_options(synchronize_session=False))
        if taken.first() is None:
            return None
    row = await session.scalar(
        select(DailyPost).where(DailyPost.chat_id == chat_id, DailyPost.day == day)
        .execution_options(populate_existing=True))
    return daily_post_state(row) if row is not None else None


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
