"""Chats: find or create one, its state (active/blocked/moved) and its settings.

None of these functions commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.types import ChatRef
from storage.models import (
    Chat,
    Delivery,
    Watch,
)
from storage.repo.dialect import upsert_insert


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
        upsert_insert(session, Chat)
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
