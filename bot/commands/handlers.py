"""Every chat command, written once: `Incoming` -> `Reply`, whatever the platform.

`Commands` is the one dispatcher: it reads the command line, applies the rules every
command shares (length, control characters, admins only in shared chats, private replies)
and runs the handler of the registry's command, each in one transaction; a refused
command changes nothing. The handlers live in topic modules (watches, settings, status,
transfer); the registry and argument readers have their own modules. `CommandSpec`,
`COMMANDS` and `split_command` are importable from here as adapters expect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.commands.arguments import clean_line, split_command
from bot.commands.base import Context, Handler
from bot.commands.feedback import FeedbackCommands
from bot.commands.registry import COMMANDS, COMMANDS_BY_NAME, HELP_WATCH, CommandSpec
from bot.commands.settings import SettingsCommands
from bot.commands.status import StatusCommands
from bot.commands.transfer import TransferCommands
from bot.commands.watches import WatchCommands
from bot.config import DeliveryConfig, LimitsConfig
from bot.types import ChatRef, Incoming, Reply, RichText, Span
from bot.watching.live import LiveWatches
from bot.watching.query import MAX_QUERY_CHARS
from storage import repo

__all__ = ["COMMANDS", "COMMANDS_BY_NAME", "CommandSpec", "Commands", "split_command"]

log = logging.getLogger(__name__)

MAX_LINE_CHARS = 1000


class Commands:
    """The command set bound to storage, the live watch index and a clock."""

    specs = COMMANDS

    def __init__(self, sessions: async_sessionmaker, watches: LiveWatches,
                 clock: Callable[[], datetime], limits: LimitsConfig | None = None,
                 on_deliverable: Callable[[], None] | None = None,
                 delivery: DeliveryConfig | None = None,
                 on_daily_changed: Callable[[], None] | None = None) -> None:
        self.ctx = Context(sessions, watches, clock, limits or LimitsConfig(),
                           delivery or DeliveryConfig(), on_deliverable, on_daily_changed)
        self.sessions, self.watches, self.clock = sessions, watches, clock
        self.limits, self.delivery, self.recent = self.ctx.limits, self.ctx.delivery, \
            self.ctx.recent
        self._watches = WatchCommands(self.ctx)
        settings = SettingsCommands(self.ctx)
        status = StatusCommands(self.ctx)
        transfer = TransferCommands(self.ctx, self._watches)
        self.feedback = FeedbackCommands(self.ctx)
        self._handlers: dict[str, Handler] = {
            "start": self._start, "help": self._help, "watch": self._watches.watch,
            "unwatch": self._watches.unwatch, "watches": self._watches.watches,
            "mute": settings.mute, "unmute": settings.unmute, "mode": settings.mode,
            "timezone": settings.timezone, "quiet": settings.quiet,
            "followups": settings.followups, "status": status.status, "daily": status.daily,
            "export": transfer.export, "import": transfer.import_,
            "like": self.feedback.like, "dislike": self.feedback.dislike,
            "unlike": self.feedback.unlike, "likes": self.feedback.likes,
            "more": self.feedback.more, "foryou": self.feedback.foryou,
            "why": self.feedback.why,
        }
        assert set(self._handlers) == set(COMMANDS_BY_NAME), "a command without a handler"

    async def dispatch(self, incoming: Incoming) -> Reply:
        """Run one command line; never raises (errors become a short reply). In a chat that
        alerts can't reach, every answer but /start's begins by saying so."""
        reply = await self._dispatch(incoming)
        parts = split_command((incoming.text or "").strip())
        if parts is not None and parts[0] == "start":
            return reply
        try:
            chat = await self.ctx.known_chat(incoming.chat)
        except Exception:
            log.exception("chat state lookup failed")
            return reply
        if chat is None or chat.state != "blocked":
            return reply
        why = chat.state_reason or "the platform refused our messages"
        warning = RichText.of(f"Alerts can't reach you: {why}")
        return replace(reply, body=warning + reply.body)

    async def _dispatch(self, incoming: Incoming) -> Reply:
        text = clean_line(incoming.text)
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
            reply = replace(reply, ephemeral=True)
        return reply

    async def membership_changed(self, ref: ChatRef, present: bool, reason: str) -> None:
        """The platform says the bot was blocked or removed (present=False), or is back in
        the chat: stop matching and sending to it, or take it up again, without waiting for
        a refused send or a /start."""
        async with self.sessions.begin() as session:
            chat = await repo.get_chat(session, ref)
            if chat is None or (chat.state == "blocked") != present:
                return
            await repo.set_chat_state(session, chat.id, "active" if present else "blocked",
                                      None if present else reason)
        log.info("chat %s:%s %s", ref.platform, ref.external_id,
                 "is back" if present else f"gone: {reason}")
        if present:
            self.ctx.notify()

    async def watch_choices(self, ref: ChatRef, typed: str = "") -> list[tuple[int, str]]:
        """(number, query) of a chat's watches whose text contains `typed` (autocomplete)."""
        watches = await self._watches.watch_list(ref)
        typed = typed.casefold().strip()
        return [(w.number, w.query) for w in watches if typed in w.query.casefold()]

    async def _start(self, incoming: Incoming, _arg: str) -> Reply:
        async with self.sessions.begin() as session:
            chat = await self.ctx.chat(session, incoming.chat)
            revived = chat.state != "active"
            if revived:
                await repo.set_chat_state(session, chat.id, "active", None)
        if revived:
            self.ctx.notify()
        who = "this chat" if incoming.chat.kind != "user" else "you"
        lines = ["Welcome back: alerts are on again." if revived else
                 f"paperwatch sends {who} new research papers that match your watches.",
                 "Try: /watch federated learning",
                 "Then /watches to list them, /help watch for the query language."]
        return Reply.text(*lines)

    async def _help(self, _incoming: Incoming, arg: str) -> Reply:
        if arg.lower().lstrip("/") == "watch":
            last = HELP_WATCH[-1].replace(str(MAX_QUERY_CHARS), str(self.ctx.query_limit), 1)
            return Reply.text(Span(HELP_WATCH[0], bold=True), *HELP_WATCH[1:-1], last)
        lines: list[str | Span] = [Span("paperwatch commands", bold=True)]
        lines += [f"{spec.usage} — {spec.summary}" for spec in COMMANDS]
        return Reply.text(*lines)
