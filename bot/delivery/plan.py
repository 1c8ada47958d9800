"""What may go now, for one chat and its due alerts: a digest waits for its local time,
quiet hours wait for their end, the hourly cap makes the rest wait.

The functions read a chat's delivery settings through `ChatSchedule`, so the outbox's
`DeliveryChat` and the commands' chat type both fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.delivery.local_time import WEEKDAYS, in_quiet_hours, next_local_time, zone

HOUR = timedelta(hours=1)


class ChatSchedule(Protocol):
    """The delivery settings of a chat that planning reads."""

    @property
    def mode(self) -> str: ...
    @property
    def digest_time(self) -> str: ...
    @property
    def digest_day(self) -> int: ...
    @property
    def timezone(self) -> str: ...
    @property
    def quiet_start(self) -> str | None: ...
    @property
    def quiet_end(self) -> str | None: ...
    @property
    def muted_until(self) -> datetime | None: ...
    @property
    def recent_sends(self) -> Sequence[str | datetime]: ...


@dataclass(frozen=True)
class Plan:
    """For one chat and its due alerts: send now (up to `allowed` messages, 0 = no cap)
    under a heading of `kind`, or hold everything until `hold_until`."""

    send: bool
    kind: str = "instant"  # instant | away | daily | weekly
    allowed: int = 0
    hold_until: datetime | None = None
    why: str = ""


def recent_sends(chat: ChatSchedule, now: datetime) -> list[datetime]:
    """The chat's messages of the last hour, oldest first."""
    times = sorted(t if isinstance(t, datetime) else datetime.fromisoformat(t)
                   for t in chat.recent_sends or [])
    return [t for t in times if t > now - HOUR]


def digest_due(chat: ChatSchedule, oldest: datetime) -> datetime:
    """When a digest holding an alert created at `oldest` goes out: the chat's first digest
    time after it (daily: every day; weekly: on its weekday)."""
    weekday = chat.digest_day if chat.mode == "weekly" else None
    return next_local_time(oldest, chat.digest_time, zone(chat.timezone), weekday)


def plan_delivery(chat: ChatSchedule, oldest: datetime, now: datetime,
                  hourly_cap: int) -> Plan:
    """Decide for a chat whose alerts (the oldest created at `oldest`) are due at `now`."""
    digest = chat.mode in ("daily", "weekly")
    if digest:
        due = digest_due(chat, oldest)
        if due > now:
            return Plan(False, hold_until=due, why=f"{chat.mode} digest")
    tz = zone(chat.timezone)
    if chat.quiet_start and chat.quiet_end and in_quiet_hours(now, chat.quiet_start,
                                                               chat.quiet_end, tz):
        return Plan(False, hold_until=next_local_time(now, chat.quiet_end, tz),
                    why="quiet hours")
    allowed = 0
    if hourly_cap > 0:
        recent = recent_sends(chat, now)
        allowed = hourly_cap - len(recent)
        if allowed <= 0:
            return Plan(False, hold_until=recent[-hourly_cap] + HOUR, why="hourly cap")
    away = chat.muted_until is not None and chat.muted_until <= now and oldest < chat.muted_until
    kind = "away" if away else (chat.mode if digest else "instant")
    return Plan(True, kind=kind, allowed=allowed)


def describe_schedule(chat: ChatSchedule) -> str:
    """'instant', 'daily digest at 08:00 Europe/Paris', 'weekly digest on Monday 09:00 UTC'."""
    if chat.mode == "daily":
        return f"daily digest at {chat.digest_time} {chat.timezone}"
    if chat.mode == "weekly":
        return (f"weekly digest on {WEEKDAYS[chat.digest_day].capitalize()} "
                f"{chat.digest_time} {chat.timezone}")
    return "instant"
