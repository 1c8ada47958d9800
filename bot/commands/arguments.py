"""Reading command arguments strictly: durations, times, time zones, /mode, /quiet, /daily
and /followups settings, and numbers in ASCII digits only.

Pure functions, no storage: each returns the values to store or raises ValueError with a
message meant for the person who typed it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.delivery.local_time import WEEKDAYS
from bot.types import FOLLOWUP_KINDS
from bot.watching.query import Query, QueryError, parse


def clean_line(text: str) -> str | None:
    """The command line with surrounding space removed; None if it holds control characters."""
    for ch in text:
        if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r":
            return None
    return text.strip()


def ascii_number(text: str) -> int | None:
    """A whole number written in ASCII digits ("12"), else None: int() also reads "²" and
    "١٢", which nobody means as a watch number or a count."""
    if not text or not text.isascii() or not text.isdecimal() or len(text) > 9:
        return None
    return int(text)


def split_command(text: str) -> tuple[str, str] | None:
    """'/watch@paperbot  federated learning' -> ('watch', 'federated learning')."""
    if not text.startswith("/"):
        return None
    head, _, rest = text[1:].partition(" ")
    head, _, _bot = head.partition("@")
    head = head.split("\n", 1)[0]
    return head.lower(), rest.strip()


_DURATION = re.compile(r"^([0-9]{1,4})\s*(m|min|mins|minutes?|h|hours?|d|days?|w|weeks?)$", re.I)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta | None:
    """'30m', '8h', '3 days', '1w' -> timedelta; None when unreadable or over a year."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)[0].lower()]
    if seconds <= 0 or seconds > 366 * 86400:
        return None
    return timedelta(seconds=seconds)


_TIME = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
# Anything a person may have meant as a time: "25:00", "9:5", "24:00", "12:60", and the
# same in other digits ("０9:00", "²2:00"): refused, not taken as a topic.
_TIME_LIKE = re.compile(r"^[\d²³¹⁰-⁹]+:[\d²³¹⁰-⁹]+$")


def parse_daily(words: list[str], default_tz: str = "UTC",
                parse_topic: Callable[[str], Query] = parse) -> dict[str, object]:
    """'[HH:MM] [TZ] [top N] [min N] [empty note|skip] [weekdays] [topic query...]' ->
    daily post settings (every day unless `weekdays`)."""
    settings: dict[str, object] = {"post_time": "09:00", "timezone": default_tz, "top_n": 10,
                                   "min_upvotes": 0, "topic_query": None,
                                   "post_empty_note": False, "weekdays": False}
    rest = list(words)
    if rest and (time := _TIME.match(rest[0])):
        rest.pop(0)
        hour, minute = time.groups()
        settings["post_time"] = f"{int(hour):02d}:{minute}"
    for word in rest:
        if _TIME_LIKE.match(word):
            raise ValueError(f"“{word[:20]}” is not a time; write the time first, as HH:MM "
                             "from 00:00 to 23:59 (e.g. 09:00)")
    if rest and ("/" in rest[0] or rest[0].upper() == "UTC"):
        name = rest.pop(0)
        found = find_zone(name)
        if found is None:
            raise ValueError(f"unknown time zone “{name[:40]}” (use e.g. Europe/Berlin)")
        settings["timezone"] = found
    while rest and (rest[0].lower() == "weekdays"
                    or len(rest) >= 2 and rest[0].lower() in ("top", "min", "empty")):
        if rest[0].lower() == "weekdays":  # like the Hugging Face email: no weekends
            rest.pop(0)
            settings["weekdays"] = True
            continue
        key, value = rest.pop(0).lower(), rest.pop(0)
        if key == "empty":
            if value.lower() not in ("note", "skip"):
                raise ValueError(f"“empty” takes note or skip, got “{value[:20]}”")
            settings["post_empty_note"] = value.lower() == "note"
            continue
        number = ascii_number(value)
        if number is None:
            raise ValueError(f"“{key}” needs a number in the digits 0-9, got “{value[:20]}”")
        if key == "top":
            if not 1 <= number <= 25:
                raise ValueError("top must be between 1 and 25")
            settings["top_n"] = number
        else:
            settings["min_upvotes"] = min(number, 100000)
    if rest:
        topic = " ".join(rest)
        try:
            settings["topic_query"] = parse_topic(topic).text
        except QueryError as exc:
            raise ValueError(f"topic: {exc.describe()}") from None
    return settings


def hhmm(text: str) -> str:
    """'8:30' -> '08:30'; ValueError for anything that is not a time of day."""
    match = _TIME.match(text)
    if not match:
        raise ValueError(f"“{text[:20]}” is not a time like 08:30")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def weekday(text: str) -> int | None:
    """'mon', 'Tuesday', 'wed.' -> 0, 1, 2 (at least three letters); None otherwise."""
    key = text.lower().rstrip(".")
    if len(key) >= 3:
        for index, name in enumerate(WEEKDAYS):
            if name.startswith(key):
                return index
    return None


def parse_mode(arg: str) -> dict[str, object]:
    """'instant' | 'daily [HH:MM]' | 'weekly [DAY] [HH:MM]' -> chat settings."""
    words = arg.split()
    mode = words[0].lower()
    rest = words[1:]
    if mode == "instant":
        if rest:
            raise ValueError(f"unexpected “{' '.join(rest)[:30]}”")
        return {"mode": "instant"}
    values: dict[str, object] = {"mode": mode}
    if mode == "weekly":
        if rest and (day := weekday(rest[0])) is not None:
            values["digest_day"] = day
            rest = rest[1:]
        elif rest and not _TIME.match(rest[0]):
            raise ValueError(f"“{rest[0][:20]}” is not a day of the week")
    elif mode != "daily":
        raise ValueError(f"“{words[0][:20]}” is not a mode (instant, daily or weekly)")
    if rest:
        values["digest_time"] = hhmm(rest.pop(0))
    if rest:
        raise ValueError(f"unexpected “{' '.join(rest)[:30]}”")
    return values


def parse_quiet(arg: str) -> tuple[str, str]:
    """'22:00-07:00' (or '22:00 07:00') -> ('22:00', '07:00')."""
    parts = [p for p in re.split(r"\s*(?:-|–|to|\s)\s*", arg.strip()) if p]
    if len(parts) != 2:
        raise ValueError("give a start and an end, like 22:00-07:00")
    start, end = hhmm(parts[0]), hhmm(parts[1])
    if start == end:
        raise ValueError("the start and the end are the same")
    return start, end


def parse_followups(arg: str, current: tuple[str, ...]) -> tuple[str, ...]:
    """'on' | 'off' | 'KIND on|off' (KIND in FOLLOWUP_KINDS) -> the kinds wanted after it."""
    words = arg.lower().split()
    if len(words) == 1 and words[0] in ("on", "off"):
        return FOLLOWUP_KINDS if words[0] == "on" else ()
    if len(words) == 2 and words[0] in FOLLOWUP_KINDS and words[1] in ("on", "off"):
        kind, switch = words
        wanted = set(current) | {kind} if switch == "on" else set(current) - {kind}
        return tuple(k for k in FOLLOWUP_KINDS if k in wanted)
    if words and words[0] not in FOLLOWUP_KINDS + ("on", "off"):
        raise ValueError(f"“{words[0][:20]}” is not a follow-up kind "
                         f"({', '.join(FOLLOWUP_KINDS)})")
    raise ValueError("say on or off, alone or after a kind")


@cache
def _zones_by_folded_name() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones()}


# Files of the zoneinfo tree that are not zones a person lives in (or are copies of the
# tree under another root): zoneinfo opens them all, from /etc/localtime on.
_NOT_AREAS = frozenset({"posix", "right", "etc/localtime", "systemv"})


def find_zone(text: str) -> str | None:
    """The IANA Area/City time zone name for what someone typed (case does not matter), or
    "UTC"; None for anything else ("localtime", "posixrules", "Factory", paths)."""
    text = text.strip()
    if not re.fullmatch(r"[A-Za-z0-9_+\-/]{1,64}", text) or ".." in text:
        return None
    if text.upper() == "UTC":
        return "UTC"
    area, slash, city = text.partition("/")
    if not slash or not area or not city or city.startswith("/") or city.endswith("/") \
            or area.casefold() in _NOT_AREAS:
        return None
    name = _zones_by_folded_name().get(text.casefold())
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name
