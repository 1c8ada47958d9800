"""What the feedback commands resolve and schedule: the numbered items of the last message
sent to each chat (so /like 3 means item 3 of it, in every process and after a restart),
each person's /foryou schedule, and queueing the day's /foryou picks as outbox rows.

Each function takes an AsyncSession and never commits; plain types out, no ORM rows.
SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ranking.types import FORYOU_KIND, ForYouSetting, Person
from storage.models import Chat, Delivery, Feedback, ForYouSchedule, PaperRow, SentItem
from storage.repo.deliveries import enqueue_deliveries
from storage.repo.dialect import upsert_insert

# --- the numbered items of the last message -------------------------------------------------


async def record_sent_items(session: AsyncSession, chat_id: int,
                            items: Sequence[tuple[int, str]], now: datetime,
                            replace: bool = True) -> None:
    """Remember (number, paper id) of a message just sent to the chat: it replaces what
    was remembered (`replace`), or adds to it (the continuation of a long list)."""
    if replace:
        await session.execute(delete(SentItem).where(SentItem.chat_id == chat_id))
    if items:  # only stored papers can be marked (a live trending list may hold others)
        stored = set(await session.scalars(select(PaperRow.id).where(
            PaperRow.id.in_([paper_id for _, paper_id in items][:900]))))
        items = [(number, paper_id) for number, paper_id in items if paper_id in stored]
    if not items:
        return
    rows = [{"chat_id": chat_id, "number": number, "paper_id": paper_id, "sent_at": now}
            for number, paper_id in dict(items).items()]
    stmt = upsert_insert(session, SentItem).values(rows)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["chat_id", "number"],
        set_={"paper_id": stmt.excluded.paper_id, "sent_at": stmt.excluded.sent_at}))


async def sent_items(session: AsyncSession, chat_id: int) -> dict[int, str]:
    """number -> paper id of the last message sent to the chat (empty: none remembered)."""
    rows = await session.execute(select(SentItem.number, SentItem.paper_id)
                                 .where(SentItem.chat_id == chat_id).order_by(SentItem.number))
    return {number: paper_id for number, paper_id in rows}


# --- /foryou schedules ------------------------------------------------------------------------


def _setting(row: ForYouSchedule, tz: str | None) -> ForYouSetting:
    return ForYouSetting(Person(row.platform, row.user_id), row.chat_id, row.enabled,
                         row.post_time, tz or "UTC", row.last_day)


async def foryou_of(session: AsyncSession, person: Person) -> ForYouSetting | None:
    found = (await session.execute(
        select(ForYouSchedule, Chat.timezone).join(Chat, Chat.id == ForYouSchedule.chat_id)
        .where(ForYouSchedule.platform == person.platform,
               ForYouSchedule.user_id == person.user_id))).first()
    return _setting(found[0], found[1]) if found else None


async def set_foryou(session: AsyncSession, person: Person, chat_id: int, enabled: bool,
                     post_time: str | None, now: datetime,
                     last_day: date | None = None) -> None:
    """Turn a person's /foryou on (at `post_time`, to `chat_id`) or off. `last_day`: the
    local day already done (a time already past today starts tomorrow)."""
    values = {"platform": person.platform, "user_id": person.user_id, "chat_id": chat_id,
              "enabled": enabled, "updated_at": now, "last_day": last_day}
    changed = {"chat_id": chat_id, "enabled": enabled, "updated_at": now,
               "last_day": last_day}
    if post_time is not None:
        values["post_time"] = changed["post_time"] = post_time
    stmt = upsert_insert(session, ForYouSchedule).values(**values)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["platform", "user_id"], set_=changed))


async def foryou_enabled(session: AsyncSession) -> list[ForYouSetting]:
    """Every schedule that is on, with its chat's time zone (active chats only)."""
    rows = await session.execute(
        select(ForYouSchedule, Chat.timezone).join(Chat, Chat.id == ForYouSchedule.chat_id)
        .where(ForYouSchedule.enabled.is_(True), Chat.state == "active")
        .order_by(ForYouSchedule.id))
    return [_setting(row, tz) for row, tz in rows]


async def take_foryou_day(session: AsyncSession, person: Person, day: date) -> bool:
    """Mark the person's local `day` done; False when it was done already (by another
    scheduler, or before a restart): then nothing must be queued."""
    result = await session.execute(
        update(ForYouSchedule)
        .where(ForYouSchedule.platform == person.platform,
               ForYouSchedule.user_id == person.user_id,
               ForYouSchedule.enabled.is_(True),
               or_(ForYouSchedule.last_day.is_(None), ForYouSchedule.last_day < day))
        .values(last_day=day).returning(ForYouSchedule.id))
    return result.first() is not None


async def matched_since(session: AsyncSession, chat_id: int, since: datetime) -> set[str]:
    """Papers the chat's watches matched (alert rows) created at or after `since`."""
    rows = await session.scalars(select(Delivery.paper_id).where(
        Delivery.chat_id == chat_id, Delivery.kind == "alert", Delivery.created_at >= since))
    return set(rows)


async def enqueue_foryou(session: AsyncSession, chat_id: int,
                         picks: Sequence[tuple[str, Sequence[str]]], now: datetime) -> int:
    """Queue the day's picks (paper id, top words) for the chat as "foryou" outbox rows; a
    paper proposed before is never proposed again (unique chat, paper, kind)."""
    rows = [{"chat_id": chat_id, "paper_id": paper_id, "kind": FORYOU_KIND, "watch_ids": [],
             "why": [["word", w] for w in words], "state": "pending", "attempts": 0,
             "next_attempt_at": now, "created_at": now}
            for paper_id, words in picks]
    return await enqueue_deliveries(session, rows) if rows else 0


async def chats_with_likes(session: AsyncSession, chat_ids: Sequence[int],
                           at_least: int) -> set[int]:
    """Which of these private chats belong to a person with `at_least` likes (whose alerts
    a ranking model may order): one query for a whole delivery round."""
    found: set[int] = set()
    ids = list(dict.fromkeys(chat_ids))
    for start in range(0, len(ids), 900):
        rows = await session.scalars(
            select(Chat.id).join(Feedback, (Feedback.platform == Chat.platform)
                                 & (Feedback.user_id == Chat.external_id))
            .where(Chat.id.in_(ids[start:start + 900]), Chat.kind == "user",
                   Feedback.value == 1)
            .group_by(Chat.id).having(func.count() >= at_least))
        found.update(rows)
    return found
