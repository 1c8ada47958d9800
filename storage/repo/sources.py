"""Source poll state, and the heartbeat rows of live delivery workers.

None of these functions commits: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    SourceState,
    WorkerBeat,
)
from storage.repo.dialect import upsert_insert


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
        upsert_insert(session, SourceState).values(name=name, initialized=False, cursor={})
        .on_conflict_do_nothing(index_elements=["name"]))
    result = await session.execute(
        update(SourceState)
        .where(SourceState.name == name,
               or_(SourceState.last_attempt_at.is_(None),
                   SourceState.last_attempt_at <= now - min_gap))
        .values(last_attempt_at=now).execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount == 1


async def all_source_states(session: AsyncSession) -> list[SourceState]:
    return list(await session.scalars(select(SourceState).order_by(SourceState.name)))




async def worker_beat(session: AsyncSession, worker_id: str, now: datetime,
                      stale: timedelta) -> int:
    """Record that this worker is alive, forget workers silent for longer than `stale`,
    and return how many are alive (this one included)."""
    await session.execute(
        upsert_insert(session, WorkerBeat).values(id=worker_id, seen_at=now)
        .on_conflict_do_update(index_elements=["id"], set_={"seen_at": now}))
    await session.execute(delete(WorkerBeat).where(WorkerBeat.seen_at < now - stale))
    return await session.scalar(select(func.count()).select_from(WorkerBeat)) or 1


async def forget_worker(session: AsyncSession, worker_id: str) -> None:
    """A worker stopping cleanly hands its share back at once."""
    await session.execute(delete(WorkerBeat).where(WorkerBeat.id == worker_id))
