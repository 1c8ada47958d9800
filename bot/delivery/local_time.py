"""Local wall-clock times in a chat's time zone: zones, HH:MM, the next local time,
quiet hours. Pure functions over aware datetimes (UTC in, UTC out)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def zone(name: str | None) -> ZoneInfo:
    """The time zone of that name; UTC for a name this system does not know (any more)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; using UTC", name)
        return ZoneInfo("UTC")


def hhmm(text: str) -> tuple[int, int]:
    hour, _, minute = text.partition(":")
    return int(hour), int(minute)


def local_at(day: date, at: str, tz: ZoneInfo) -> datetime:
    """The instant (UTC) of wall-clock time `at` on `day` in `tz`. A time skipped by a
    daylight-saving jump counts as the moment after the jump (02:30 on a spring-forward
    night is 03:30); a time that happens twice is the first one."""
    hour, minute = hhmm(at)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(UTC)


def next_local_time(after: datetime, at: str, tz: ZoneInfo,
                    weekday: int | None = None) -> datetime:
    """The first instant strictly after `after` when the wall clock in `tz` shows `at`
    (on `weekday`, 0 = Monday, when given)."""
    start = after.astimezone(tz).date()
    for offset in range(9):
        day = start + timedelta(days=offset)
        if weekday is not None and day.weekday() != weekday:
            continue
        moment = local_at(day, at, tz)
        if moment > after:
            return moment
    raise AssertionError("unreachable: a week always has the day")  # pragma: no cover


def in_quiet_hours(now: datetime, start: str, end: str, tz: ZoneInfo) -> bool:
    """Whether the local time is within [start, end), which may wrap past midnight."""
    local = now.astimezone(tz)
    minute = local.hour * 60 + local.minute
    first, last = (h * 60 + m for h, m in (hhmm(start), hhmm(end)))
    if first < last:
        return first <= minute < last
    return minute >= first or minute < last
