"""Every chat command, written once: `Incoming` -> `Reply`, whatever the platform.

The registry (`COMMANDS`) is what adapters publish as their command menu (Telegram
setMyCommands, Discord slash commands), so the menu always matches what the bot does.
Each command runs in one transaction; a refused command changes nothing.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import DeliveryConfig, LimitsConfig
from bot.delivery.daily import WEEKDAYS, zone
from bot.delivery.outbox import describe_schedule, plan_delivery
from bot.delivery.render import plural
from bot.types import ChatRef, Incoming, Reply, RichText, Span
from bot.watching.preview import PREVIEW_DAYS, RecentPapers, preview
from bot.watching.query import MAX_QUERY_CHARS, Query, QueryError, canonical, parse
from bot.watching.watchset import WatchSet
from storage import repo
from storage.models import Chat, Watch

log = logging.getLogger(__name__)

MAX_LINE_CHARS = 1000
FOREVER = timedelta(days=36500)


@dataclass(frozen=True)
class CommandSpec:
    """What a command is called, what it does, and the one free-text argument it takes."""

    name: str
    summary: str  # one line for menus (under 100 characters: Discord's limit)
    usage: str
    argument: str | None = None  # the argument's name, for platforms with typed options
    argument_help: str = ""
    argument_required: bool = False
    admin: bool = False  # changes a shared chat: only its admins may run it there
    personal: bool = True  # answer only the sender where the platform can


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", "Start paperwatch here (and resume after a block)", "/start"),
    CommandSpec("help", "How to use paperwatch; /help watch explains queries", "/help [watch]",
                argument="topic", argument_help="a command name, e.g. watch"),
    CommandSpec("watch", "Watch a topic: alerts for new papers that match", "/watch QUERY",
                argument="query", argument_help="e.g. federated learning, au:\"Yann LeCun\"",
                argument_required=True, admin=True),
    CommandSpec("unwatch", "Stop a watch (its number from /watches, or its text)",
                "/unwatch N|QUERY", argument="watch", argument_help="number or text of a watch",
                argument_required=True, admin=True),
    CommandSpec("watches", "List your watches with their hit counts", "/watches"),
    CommandSpec("mute", "Pause alerts (they wait, none are lost): /mute 8h", "/mute [DURATION]",
                argument="duration", argument_help="e.g. 30m, 8h, 3d, 1w (empty: until /unmute)",
                admin=True),
    CommandSpec("unmute", "Resume alerts; what waited arrives as one message", "/unmute",
                admin=True),
    CommandSpec("mode", "Alerts at once, or as a daily or weekly digest",
                "/mode instant | daily [HH:MM] | weekly [DAY HH:MM]", argument="schedule",
                argument_help="instant, daily 08:00 or weekly mon 09:00", admin=True),
    CommandSpec("timezone", "Your time zone, for digests and quiet hours", "/timezone Area/City",
                argument="zone", argument_help="e.g. Europe/Paris, America/New_York",
                admin=True),
    CommandSpec("quiet", "Quiet hours: alerts wait until they end", "/quiet HH:MM-HH:MM | off",
                argument="hours", argument_help="e.g. 22:00-07:00, or off", admin=True),
    CommandSpec("status", "Your pending and failed alerts, and the sources' health", "/status"),
    CommandSpec("daily", "Daily trending post here: /daily on 09:00 Europe/Paris top 10",
                "/daily on [HH:MM] [TZ] [top N] [min UPVOTES] [empty note|skip] [topic] | off",
                argument="settings", argument_help="on 09:00 UTC top 10 min 5 diffusion | off",
                admin=True, personal=False),
)
COMMANDS_BY_NAME = {c.name: c for c in COMMANDS}

HELP_WATCH = (
    "Watch queries",
    "• Words in a row are one phrase: federated learning (also federated-learning, "
    "plural forms like transformers)",
    "• \"quoted phrase\", AND, OR, NOT or -word, and (parentheses): "
    "diffusion AND (video OR audio) -survey",
    "• Fields: ti: title, abs: abstract, au: author, cat: arXiv category "
    "(cat:cs.LG, or cat:cs for any cs)",
    "• A field, NOT or - applies to the whole run of words after it: "
    "ti:diffusion models is one title phrase; diffusion -medical imaging leaves out "
    "\"medical imaging\" only",
    "• A trailing * matches word starts: quantiz*",
    f"• At most {MAX_QUERY_CHARS} characters and 20 terms.",
)


def _clean_line(text: str) -> str | None:
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


def query_key(query: Query | str) -> str:
    """What makes two watches the same watch: the parsed query's canonical form (so
    "re-ranking" and "reranking" are one), or the folded text when it does not parse."""
    if isinstance(query, Query):
        return canonical(query.tree)
    try:
        return canonical(parse(query).tree)
    except QueryError:
        return " ".join(query.casefold().split())


def _find_same(watches: list[Watch], query: Query | str) -> Watch | None:
    key = query_key(query)
    return next((w for w in watches if query_key(w.query) == key), None)


def _fmt_when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


class Commands:
    """The command set bound to storage, the live watch index and a clock."""

    specs = COMMANDS

    def __init__(self, sessions: async_sessionmaker, watches: WatchSet,
                 clock: Callable[[], datetime], limits: LimitsConfig | None = None,
                 on_deliverable: Callable[[], None] | None = None,
                 delivery: DeliveryConfig | None = None,
                 on_daily_changed: Callable[[], None] | None = None) -> None:
        self.sessions = sessions
        self.watches = watches
        self.clock = clock
        self.limits = limits or LimitsConfig()
        self.delivery = delivery or DeliveryConfig()
        self.on_deliverable = on_deliverable
        self.on_daily_changed = on_daily_changed
        self.recent = RecentPapers(sessions)
        self._handlers: dict[str, Callable[[Incoming, str], Awaitable[Reply]]] = {
            "start": self._start, "help": self._help, "watch": self._watch,
            "unwatch": self._unwatch, "watches": self._watches, "mute": self._mute,
            "unmute": self._unmute, "status": self._status, "daily": self._daily,
            "mode": self._mode, "timezone": self._timezone, "quiet": self._quiet,
        }

    async def dispatch(self, incoming: Incoming) -> Reply:
        """Run one command line; never raises (errors become a short reply). In a chat that
        alerts can't reach, every answer but /start's begins by saying so."""
        reply = await self._dispatch(incoming)
        parts = split_command((incoming.text or "").strip())
        if parts is not None and parts[0] == "start":
            return reply
        try:
            async with self.sessions() as session:
                chat = await repo.find_chat(session, incoming.chat)
        except Exception:
            log.exception("chat state lookup failed")
            return reply
        if chat is None or chat.state != "blocked":
            return reply
        why = chat.state_reason or "the platform refused our messages"
        warning = RichText.of(f"Alerts can't reach you: {why}")
        return Reply(warning + reply.body, reply.buttons, ephemeral=reply.ephemeral, ok=reply.ok)

    async def _dispatch(self, incoming: Incoming) -> Reply:
        text = _clean_line(incoming.text)
        if text is None:
            return Reply.text("That message contains control characters; nothing was changed.",
                              ok=False)
        if len(text) > MAX_LINE_CHARS:
            return Reply.text(f"That message is {len(text)} characters long; commands are at "
                              f"most {MAX_LINE_CHARS}. Nothing was changed.", ok=False)
        parts = split_command(text)
        if parts is None:
            return Reply.text("I understand commands only. Try /help.", ok=False)
        name, arg = parts
        spec = COMMANDS_BY_NAME.get(name)
        if spec is None:
            return Reply.text(f"Unknown command /{name[:30]}. Try /help.", ok=False)
        if spec.admin and incoming.chat.kind != "user" and not incoming.is_admin:
            return Reply.text("Only this chat's admins can change its watches and settings.",
                              ok=False, ephemeral=True)
        try:
            reply = await self._handlers[name](incoming, arg)
        except Exception:
            log.exception("command /%s failed", name)
            return Reply.text("Something went wrong on our side; nothing was changed. "
                              "Please try again later.", ok=False)
        if spec.personal and incoming.chat.kind == "user":
            reply = Reply(reply.body, reply.buttons, ephemeral=True, ok=reply.ok)
        return reply

    # --- helpers ---------------------------------------------------------------------

    def _parse_query(self, text: str) -> Query:
        """parse(), with the configured limit on length (limits.max_query_chars) as well."""
        stripped = text.strip()
        limit = min(self.limits.max_query_chars, MAX_QUERY_CHARS)
        if len(stripped) > limit:
            raise QueryError(f"The query is {len(stripped)} characters long; the limit is "
                             f"{limit}", text.index(stripped[0]) + limit, "Shorten it.")
        return parse(text)

    async def _chat(self, session: AsyncSession, ref: ChatRef) -> Chat:
        return await repo.get_or_create_chat(session, ref, self.clock())

    def _notify(self) -> None:
        if self.on_deliverable is not None:
            self.on_deliverable()

    def _notify_daily(self) -> None:
        if self.on_daily_changed is not None:
            self.on_daily_changed()

    async def membership_changed(self, ref: ChatRef, present: bool, reason: str) -> None:
        """The platform says the bot was blocked or removed (present=False), or is back in
        the chat: stop matching and sending to it, or take it up again, without waiting for
        a refused send or a /start."""
        async with self.sessions.begin() as session:
            chat = await repo.find_chat(session, ref)
            if chat is None or (chat.state == "blocked") != present:
                return
            await repo.set_chat_state(session, chat.id, "active" if present else "blocked",
                                      None if present else reason)
        log.info("chat %s:%s %s", ref.platform, ref.external_id,
                 "is back" if present else f"gone: {reason}")
        if present:
            self._notify()

    async def watch_choices(self, ref: ChatRef, typed: str = "") -> list[tuple[int, str]]:
        """(number, query) of a chat's watches whose text contains `typed` (autocomplete)."""
        async with self.sessions() as session:
            chat = await repo.find_chat(session, ref)
            watches = await repo.active_watches(session, chat.id) if chat else []
        typed = typed.casefold().strip()
        return [(w.number, w.query) for w in watches if typed in w.query.casefold()]

    # --- commands --------------------------------------------------------------------

    async def _start(self, incoming: Incoming, _arg: str) -> Reply:
        async with self.sessions.begin() as session:
            chat = await self._chat(session, incoming.chat)
            revived = chat.state != "active"
            if revived:
                await repo.set_chat_state(session, chat.id, "active", None)
        if revived:
            self._notify()
        who = "this chat" if incoming.chat.kind != "user" else "you"
        lines = ["Welcome back: alerts are on again." if revived else
                 f"paperwatch sends {who} new research papers that match your watches.",
                 "Try: /watch federated learning",
                 "Then /watches to list them, /help watch for the query language."]
        return Reply.text(*lines)

    async def _help(self, _incoming: Incoming, arg: str) -> Reply:
        if arg.lower().lstrip("/") == "watch":
            limit = min(self.limits.max_query_chars, MAX_QUERY_CHARS)
            last = HELP_WATCH[-1].replace(str(MAX_QUERY_CHARS), str(limit), 1)
            return Reply.text(Span(HELP_WATCH[0], bold=True), *HELP_WATCH[1:-1], last)
        lines: list[str | Span] = [Span("paperwatch commands", bold=True)]
        lines += [f"{spec.usage} — {spec.summary}" for spec in COMMANDS]
        return Reply.text(*lines)

    async def _watch(self, incoming: Incoming, arg: str) -> Reply:
        if not arg:
            return Reply.text("Usage: /watch QUERY, e.g. /watch federated learning. "
                              "/help watch explains queries.", ok=False)
        try:
            query = self._parse_query(arg)
        except QueryError as exc:
            return Reply.text(f"Can't watch that: {exc.describe()}", ok=False)
        async with self.sessions.begin() as session:
            chat = await self._chat(session, incoming.chat)
            current = await repo.active_watches(session, chat.id)
            same = _find_same(current, query)
            if same is not None:
                shown = f"“{same.query}”" + ("" if same.query == query.text
                                             else f", the same as “{query.text}”")
                return Reply.text(f"Already watching {shown} (#{same.number}). "
                                  "/watches lists them.", ok=False)
            if len(current) >= self.limits.max_watches_per_chat:
                return Reply.text(f"You have {len(current)} watches, the most allowed. "
                                  "/unwatch one first.", ok=False)
            watch = await repo.add_watch(session, chat.id, query.text, self.clock())
        self.watches.add(watch.id, query)
        matched = await preview(self.recent, query, self.clock(), self.clock)
        lines: list[str | Span] = [f"✓ Watching “{query.text}” (#{watch.number}). "
                                   "New matching papers will be sent here."]
        if matched:
            lines.append(f"In the last {PREVIEW_DAYS} days it would have matched "
                         f"{plural(len(matched), 'paper')}, e.g.:")
            lines += [Span(f"• {p.title}", link=p.url) for p in matched[:3]]
        else:
            lines.append(f"No stored paper of the last {PREVIEW_DAYS} days matches it yet.")
        return Reply.text(*lines)

    async def _unwatch(self, incoming: Incoming, arg: str) -> Reply:
        if not arg:
            return Reply.text("Usage: /unwatch N (its number in /watches) or /unwatch QUERY.",
                              ok=False)
        async with self.sessions.begin() as session:
            chat = await repo.find_chat(session, incoming.chat)
            current = await repo.active_watches(session, chat.id) if chat else []
            digits = arg.removeprefix("#").strip()
            if digits.isnumeric():  # "2", and also "²" or "١": refused below, not a query
                number = ascii_number(digits)
                if number is None:
                    return Reply.text("A watch number is written in the digits 0-9, like "
                                      "/unwatch 2.", ok=False)
                target = next((w for w in current if w.number == number), None)
            else:
                target = _find_same(current, arg)
            if target is None:
                return Reply.text(f"No watch “{arg[:60]}” here. /watches lists yours.", ok=False)
            await repo.delete_watch(session, target, self.clock())
        self.watches.remove(target.id)
        return Reply.text(f"✓ Stopped watching “{target.query}”.")

    async def _watches(self, incoming: Incoming, _arg: str) -> Reply:
        async with self.sessions() as session:
            chat = await repo.find_chat(session, incoming.chat)
            current = await repo.active_watches(session, chat.id) if chat else []
        if not current:
            return Reply.text("No watches yet. Try /watch federated learning.")
        lines: list[str | Span] = [Span(f"Watches ({len(current)})", bold=True)]
        lines += [f"{w.number}. {w.query} — {plural(w.hit_count, 'hit')}" for w in current]
        return Reply.text(*lines)

    async def _mute(self, incoming: Incoming, arg: str) -> Reply:
        duration = parse_duration(arg) if arg else FOREVER
        if duration is None:
            return Reply.text(f"Can't read the duration “{arg[:30]}”. Use e.g. 30m, 8h, 3d, 1w "
                              "(at most a year), or nothing to mute until /unmute.", ok=False)
        until = self.clock() + duration
        async with self.sessions.begin() as session:
            chat = await self._chat(session, incoming.chat)
            await repo.set_muted_until(session, chat, until)
        when = ("until /unmute" if duration == FOREVER
                else f"until {_fmt_local(until, chat.timezone)}")
        return Reply.text(f"Muted {when}. Alerts wait and none are lost.")

    async def _unmute(self, incoming: Incoming, _arg: str) -> Reply:
        now = self.clock()
        async with self.sessions.begin() as session:
            chat = await self._chat(session, incoming.chat)
            was_muted = chat.muted_until is not None and chat.muted_until > now
            waiting = (await repo.delivery_counts(session, chat.id)).get("pending", 0)
            # an ended mute that is still set marks what waited as "while you were away":
            # the worker sends it as one message and then forgets the mute
            until = now if was_muted and waiting else None
            await repo.save_chat_settings(session, chat, muted_until=until)
            oldest = await repo.oldest_pending(session, chat.id)
        self._notify()
        if not was_muted:
            return Reply.text("Alerts are not muted.")
        if not waiting or oldest is None:
            return Reply.text("Unmuted.")
        plural = "s" if waiting != 1 else ""
        plan = plan_delivery(chat, oldest, now, self.delivery.max_messages_per_hour)
        when = ("arrive now" if plan.send or plan.hold_until is None else
                f"arrive {_fmt_local(plan.hold_until, chat.timezone)} ({plan.why})")
        return Reply.text(f"Unmuted. {waiting} waiting alert{plural} {when}, together as one "
                          "“while you were away” message.")

    async def _mode(self, incoming: Incoming, arg: str) -> Reply:
        usage = "Usage: " + COMMANDS_BY_NAME["mode"].usage
        if not arg:
            async with self.sessions() as session:
                chat = await repo.find_chat(session, incoming.chat)
            current = describe_schedule(chat) if chat else "instant"
            return Reply.text(f"Alerts: {current}. {usage}")
        try:
            values = parse_mode(arg)
        except ValueError as exc:
            return Reply.text(f"Can't set the mode: {exc}. {usage}", ok=False)
        async with self.sessions.begin() as session:
            chat = await self._chat(session, incoming.chat)
            await repo.save_chat_settings(session, chat, **values)
        self._notify()
        if chat.mode == "instant":
            return Reply.text("✓ Alerts are sent as soon as papers match (at most "
                              f"{self.delivery.max_messages_per_hour} messages an hour; "
                              "more wait and come together).")
        hint = (" Your time zone is UTC; set yours with /timezone Area/City."
                if chat.timezone == "UTC" else "")
        return Reply.text(f"✓ Alerts now come as a {describe_schedule(chat)}.{hint}")

    async def _timezone(self, incoming: Incoming, arg: str) -> Reply:
        if not arg:
            async with self.sessions() as session:
                chat = await repo.find_chat(session, incoming.chat)
            name = chat.timezone if chat else "UTC"
            return Reply.text(f"Time zone: {name}. Change it with /timezone Area/City, "
                              "e.g. /timezone Europe/Paris.")
        name = find_zone(arg)
        if name is None:
            return Reply.text(f"Unknown time zone “{arg[:40]}”. Use a name like Europe/Paris "
                              "or America/New_York.", ok=False)
        async with self.sessions.begin() as session:
            chat = await self._chat(session, incoming.chat)
            await repo.save_chat_settings(session, chat, timezone=name)
        self._notify()
        local = self.clock().astimezone(ZoneInfo(name)).strftime("%H:%M")
        return Reply.text(f"✓ Time zone set to {name} (it is {local} there now).")

    async def _quiet(self, incoming: Incoming, arg: str) -> Reply:
        usage = "Usage: " + COMMANDS_BY_NAME["quiet"].usage
        if not arg:
            async with self.sessions() as session:
                chat = await repo.find_chat(session, incoming.chat)
            if chat is None or not chat.quiet_start:
                return Reply.text(f"No quiet hours. {usage}")
            return Reply.text(f"Quiet hours: {chat.quiet_start}–{chat.quiet_end} "
                              f"{chat.timezone}. /quiet off removes them.")
        if arg.lower() == "off":
            values: dict[str, str | None] = {"quiet_start": None, "quiet_end": None}
        else:
            try:
                start, end = parse_quiet(arg)
            except ValueError as exc:
                return Reply.text(f"Can't set quiet hours: {exc}. {usage}", ok=False)
            values = {"quiet_start": start, "quiet_end": end}
        async with self.sessions.begin() as session:
            chat = await self._chat(session, incoming.chat)
            await repo.save_chat_settings(session, chat, **values)
        self._notify()
        if values["quiet_start"] is None:
            return Reply.text("✓ Quiet hours removed.")
        return Reply.text(f"✓ Quiet hours {values['quiet_start']}–{values['quiet_end']} "
                          f"{chat.timezone}: alerts wait and arrive together afterwards.")

    async def _status(self, incoming: Incoming, _arg: str) -> Reply:
        now = self.clock()
        async with self.sessions() as session:
            chat = await repo.find_chat(session, incoming.chat)
            counts = await repo.delivery_counts(session, chat.id) if chat else {}
            watches = await repo.active_watches(session, chat.id) if chat else []
            sources = await repo.all_source_states(session)
            failure = await repo.last_failure(session, chat.id) if counts.get("failed") else None
            oldest = await repo.oldest_pending(session, chat.id) if counts.get("pending") else None
        lines: list[str | Span] = [
            Span("Status", bold=True),
            f"Watches: {len(watches)}. Alerts sent: {counts.get('sent', 0)}, "
            f"pending: {counts.get('pending', 0)}, failed: {counts.get('failed', 0)}."]
        if failure and chat:
            lines.append(f"Last failure: {failure[:200]}")
        if chat:
            quiet = (f"; quiet hours {chat.quiet_start}–{chat.quiet_end}"
                     if chat.quiet_start else "")
            lines.append(f"Delivery: {describe_schedule(chat)}; time zone {chat.timezone}"
                         f"{quiet}.")
        if chat and chat.muted_until and chat.muted_until > now:
            # /mute with no duration stores now + FOREVER: say what the person was told
            forever = chat.muted_until - now > FOREVER - timedelta(days=366)
            until = "/unmute" if forever else _fmt_local(chat.muted_until, chat.timezone)
            lines.append(f"Muted until {until}.")
        elif chat and oldest is not None:
            plan = plan_delivery(chat, oldest, now, self.delivery.max_messages_per_hour)
            if not plan.send and plan.hold_until is not None:
                lines.append("Waiting alerts go out at "
                             f"{_fmt_local(plan.hold_until, chat.timezone)} ({plan.why}).")
        for state in sources:
            when = _fmt_when(state.last_success_at) if state.last_success_at else "never"
            note = f" — {state.last_note}" if state.last_note else ""
            failing = "; the last poll failed" if state.last_status == "error" else ""
            lines.append(f"Source {state.name}: last success {when}{note}{failing}")
        if not sources:
            lines.append("Sources: none polled yet on this database (paperwatch run polls "
                         "them; in the console, /ingest adds papers).")
        return Reply.text(*lines)

    async def _daily(self, incoming: Incoming, arg: str) -> Reply:
        words = arg.split()
        if not words:
            async with self.sessions() as session:
                chat = await repo.find_chat(session, incoming.chat)
                post = await repo.get_channel_post(session, chat.id) if chat else None
            if post is None or not post.enabled:
                return Reply.text("No daily post here. Usage: " + COMMANDS_BY_NAME["daily"].usage)
            topic = f", topic “{post.topic_query}”" if post.topic_query else ""
            empty = "; on days without papers, a short note" if post.post_empty_note else ""
            problem = (f" It is paused: {post.disabled_reason}. /daily on resumes it."
                       if post.disabled_reason and chat and chat.state != "active" else "")
            return Reply.text(f"Daily post at {post.post_time} {post.timezone}: top {post.top_n}"
                              f"{_at_least(post.min_upvotes)}{topic}{empty}.{problem}")
        action = words[0].lower()
        if action == "off":
            async with self.sessions.begin() as session:
                chat = await self._chat(session, incoming.chat)
                await repo.save_channel_post(session, chat.id, self.clock(), enabled=False)
            self._notify_daily()
            return Reply.text("Daily post turned off.")
        if action != "on":
            return Reply.text("Usage: " + COMMANDS_BY_NAME["daily"].usage, ok=False)
        async with self.sessions() as session:
            known = await repo.find_chat(session, incoming.chat)
        try:
            settings = parse_daily(words[1:], known.timezone if known else "UTC",
                                   parse_topic=self._parse_query)
        except ValueError as exc:
            return Reply.text(f"Can't set the daily post: {exc}", ok=False)
        async with self.sessions.begin() as session:
            chat = await self._chat(session, incoming.chat)
            await repo.save_channel_post(session, chat.id, self.clock(), enabled=True,
                                         disabled_reason=None, **settings)
        self._notify_daily()
        topic = f", topic “{settings['topic_query']}”" if settings["topic_query"] else ""
        empty = "; on days without papers, a short note" if settings["post_empty_note"] else ""
        return Reply.text(f"✓ Daily trending post at {settings['post_time']} "
                          f"{settings['timezone']}: top {settings['top_n']}"
                          f"{_at_least(settings['min_upvotes'])}{topic}{empty}.")


def _at_least(min_upvotes: object) -> str:
    """', at least 5 upvotes' (nothing when no minimum is set)."""
    if not isinstance(min_upvotes, int) or min_upvotes <= 0:
        return ""
    return f", at least {plural(min_upvotes, 'upvote')}"


_TIME = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
# Anything a person may have meant as a time: "25:00", "9:5", "24:00", "12:60".
_TIME_LIKE = re.compile(r"^[0-9]+:[0-9]+$")


def parse_daily(words: list[str], default_tz: str = "UTC",
                parse_topic: Callable[[str], Query] = parse) -> dict[str, object]:
    """'[HH:MM] [TZ] [top N] [min N] [topic query...]' -> channel post settings."""
    settings: dict[str, object] = {"post_time": "09:00", "timezone": default_tz, "top_n": 10,
                                   "min_upvotes": 0, "topic_query": None,
                                   "post_empty_note": False}
    rest = list(words)
    if rest and _TIME.match(rest[0]):
        hour, minute = _TIME.match(rest.pop(0)).groups()  # type: ignore[union-attr]
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
    while len(rest) >= 2 and rest[0].lower() in ("top", "min", "empty"):
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


def _hhmm(text: str) -> str:
    match = _TIME.match(text)
    if not match:
        raise ValueError(f"“{text[:20]}” is not a time like 08:30")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def _weekday(text: str) -> int | None:
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
        if rest and (day := _weekday(rest[0])) is not None:
            values["digest_day"] = day
            rest = rest[1:]
        elif rest and not _TIME.match(rest[0]):
            raise ValueError(f"“{rest[0][:20]}” is not a day of the week")
    elif mode != "daily":
        raise ValueError(f"“{words[0][:20]}” is not a mode (instant, daily or weekly)")
    if rest:
        values["digest_time"] = _hhmm(rest.pop(0))
    if rest:
        raise ValueError(f"unexpected “{' '.join(rest)[:30]}”")
    return values


def parse_quiet(arg: str) -> tuple[str, str]:
    """'22:00-07:00' (or '22:00 07:00') -> ('22:00', '07:00')."""
    parts = [p for p in re.split(r"\s*(?:-|–|to|\s)\s*", arg.strip()) if p]
    if len(parts) != 2:
        raise ValueError("give a start and an end, like 22:00-07:00")
    start, end = _hhmm(parts[0]), _hhmm(parts[1])
    if start == end:
        raise ValueError("the start and the end are the same")
    return start, end


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


def _fmt_local(moment: datetime, tz_name: str) -> str:
    """'2026-11-24 13:30 Europe/Paris' (the chat's local time and zone)."""
    return moment.astimezone(zone(tz_name)).strftime("%Y-%m-%d %H:%M ") + tz_name
