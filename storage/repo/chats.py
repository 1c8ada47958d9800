"""Chats: find or create one, its state (active/blocked/moved) and its settings.

The core gets a chat as a frozen `ChatSettings` (`get_chat`, `ensure_chat`) and changes it
by id (`save_chat_settings`, `set_muted_until`, `set_chat_state`). `find_chat` and
`get_or_create_chat` still return the ORM row (tests read it; `get_chat` and `ensure_chat`
are built on them).
None of these functions commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.types import FOLLOWUP_KINDS, ChatRef, ChatSettings
from storage.models import (
    Chat,
    Delivery,
    Watch,
)
from storage.repo.dialect import upsert_insert

# What save_chat_settings may change by id: the settings a person sets with commands.
SETTINGS = frozenset({"muted_until", "mode", "digest_time", "digest_day", "timezone",
                      "quiet_start", "quiet_end", "followups"})


def chat_ref(chat: Chat | ChatSettings) -> ChatRef:
    return ChatRef(chat.platform, chat.external_id, chat.kind)


def followup_kinds(stored: str | None) -> tuple[str, ...]:
    """chats.followups ("code,trending") -> the known kinds it names, in FOLLOWUP_KINDS order."""
    named = {part.strip() for part in (stored or "").split(",")}
    return tuple(kind for kind in FOLLOWUP_KINDS if kind in named)


def chat_settings(chat: Chat) -> ChatSettings:
    """The ORM row as the frozen domain type."""
    return ChatSettings(
        id=chat.id, platform=chat.platform, external_id=chat.external_id, kind=chat.kind,
        state=chat.state, state_reason=chat.state_reason, muted_until=chat.muted_until,
        mode=chat.mode, digest_time=chat.digest_time, digest_day=chat.digest_day,
        timezone=chat.timezone, quiet_start=chat.quiet_start, quiet_end=chat.quiet_end,
        hold_until=chat.hold_until, recent_sends=tuple(chat.recent_sends or ()),
        followups=followup_kinds(chat.followups))


async def get_chat(session: AsyncSession, ref: ChatRef) -> ChatSettings | None:
    chat = await find_chat(session, ref)
    return chat_settings(chat) if chat is not None else None


async def ensure_chat(session: AsyncSession, ref: ChatRef, now: datetime) -> ChatSettings:
    """The chat for ref, created on first contact (race-safe across processes)."""
    return chat_settings(await get_or_create_chat(session, ref, now))


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


async def set_muted_until(session: AsyncSession, chat_id: int, until: datetime | None) -> None:
    """Mute until a time (None: not muted); waiting alerts keep their planned time."""
    await session.execute(update(Chat).where(Chat.id == chat_id).values(muted_until=until))


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


async def save_chat_settings(session: AsyncSession, chat_id: int, **values: Any) -> None:
    """Change a chat's delivery preferences (SETTINGS); the worker re-plans its waiting
    alerts. `followups` may be given as a sequence of kinds."""
    unknown = set(values) - SETTINGS
    if unknown:
        raise ValueError(f"not a chat setting: {', '.join(sorted(unknown))}")
    if "followups" in values and not isinstance(values["followups"], str):
        values["followups"] = ",".join(k for k in FOLLOWUP_KINDS if k in values["followups"])
    await session.execute(update(Chat).where(Chat.id == chat_id).values(**values, hold_until=None))
