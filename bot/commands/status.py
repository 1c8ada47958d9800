"""/status and /daily: what is waiting or failed for a chat and how the sources are, and
the chat's daily trending post."""

from __future__ import annotations

from datetime import timedelta

from bot.commands.arguments import parse_daily
from bot.commands.base import FOREVER, Context, fmt_local, fmt_when
from bot.commands.registry import usage
from bot.delivery.plan import describe_schedule, plan_delivery
from bot.delivery.render import plural
from bot.types import Incoming, Reply, Span
from storage import repo


def _at_least(min_upvotes: object) -> str:
    """', at least 5 upvotes' (nothing when no minimum is set)."""
    if not isinstance(min_upvotes, int) or min_upvotes <= 0:
        return ""
    return f", at least {plural(min_upvotes, 'upvote')}"


def _days(weekdays: bool) -> str:
    return ", Monday to Friday" if weekdays else ""


class StatusCommands:
    """The handlers that report on a chat and set up its daily post."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def status(self, incoming: Incoming, _arg: str) -> Reply:
        now = self.ctx.clock()
        async with self.ctx.sessions() as session:
            chat = await repo.get_chat(session, incoming.chat)
            counts = await repo.delivery_counts(session, chat.id) if chat else {}
            watches = await repo.active_watches(session, chat.id) if chat else []
            sources = await repo.all_source_states(session)
            failure = (await repo.last_failure(session, chat.id)
                       if chat and counts.get("failed") else None)
            oldest = (await repo.oldest_pending(session, chat.id)
                      if chat and counts.get("pending") else None)
        lines: list[str | Span] = [
            Span("Status", bold=True),
            f"Watches: {len(watches)}. Alerts sent: {counts.get('sent', 0)}, "
            f"pending: {counts.get('pending', 0)}, failed: {counts.get('failed', 0)}."]
        if failure and chat:
            lines.append(f"Last failure: {failure[:200]}")
        if chat:
            quiet = (f"; quiet hours {chat.quiet_start}–{chat.quiet_end}"
                     if chat.quiet_start else "")
            lines.append(f"Delivery: {describe_schedule(chat)}; "
                         f"time zone {chat.timezone}{quiet}.")
        if chat and chat.muted_until and chat.muted_until > now:
            # /mute with no duration stores now + FOREVER: say what the person was told
            forever = chat.muted_until - now > FOREVER - timedelta(days=366)
            until = "/unmute" if forever else fmt_local(chat.muted_until, chat.timezone)
            lines.append(f"Muted until {until}.")
        elif chat and oldest is not None:
            plan = plan_delivery(chat, oldest, now,
                                 self.ctx.delivery.max_messages_per_hour)
            if not plan.send and plan.hold_until is not None:
                lines.append("Waiting alerts go out at "
                             f"{fmt_local(plan.hold_until, chat.timezone)} ({plan.why}).")
        for state in sources:
            when = fmt_when(state.last_success_at) if state.last_success_at else "never"
            note = f" — {state.last_note}" if state.last_note else ""
            failing = "; the last poll failed" if state.last_status == "error" else ""
            lines.append(f"Source {state.name}: last success {when}{note}{failing}")
        if not sources:
            lines.append("Sources: none polled yet on this database (paperwatch run polls "
                         "them; in the console, /ingest adds papers).")
        return Reply.text(*lines)

    async def daily(self, incoming: Incoming, arg: str) -> Reply:
        words = arg.split()
        if not words:
            return await self._show_daily(incoming)
        action = words[0].lower()
        if action == "off":
            async with self.ctx.sessions.begin() as session:
                chat = await self.ctx.chat(session, incoming.chat)
                await repo.save_channel_post(session, chat.id, self.ctx.clock(), enabled=False)
            self.ctx.notify_daily()
            return Reply.text("Daily post turned off.")
        if action != "on":
            return Reply.text(usage("daily"), ok=False)
        known = await self.ctx.known_chat(incoming.chat)
        try:
            settings = parse_daily(words[1:], known.timezone if known else "UTC",
                                   parse_topic=self.ctx.parse_query)
        except ValueError as exc:
            return Reply.text(f"Can't set the daily post: {exc}", ok=False)
        async with self.ctx.sessions.begin() as session:
            chat = await self.ctx.chat(session, incoming.chat)
            await repo.save_channel_post(session, chat.id, self.ctx.clock(), enabled=True,
                                         disabled_reason=None, **settings)
        self.ctx.notify_daily()
        topic = f", topic “{settings['topic_query']}”" if settings["topic_query"] else ""
        empty = "; on days without papers, a short note" if settings["post_empty_note"] else ""
        days = _days(bool(settings["weekdays"]))
        return Reply.text(f"✓ Daily trending post at {settings['post_time']} "
                          f"{settings['timezone']}{days}: top {settings['top_n']}"
                          f"{_at_least(settings['min_upvotes'])}{topic}{empty}.")

    async def _show_daily(self, incoming: Incoming) -> Reply:
        async with self.ctx.sessions() as session:
            chat = await repo.get_chat(session, incoming.chat)
            post = await repo.get_channel_post(session, chat.id) if chat else None
        if post is None or not post.enabled:
            return Reply.text("No daily post here. " + usage("daily"))
        topic = f", topic “{post.topic_query}”" if post.topic_query else ""
        empty = "; on days without papers, a short note" if post.post_empty_note else ""
        problem = (f" It is paused: {post.disabled_reason}. /daily on resumes it."
                   if post.disabled_reason and chat and chat.state != "active" else "")
        return Reply.text(f"Daily post at {post.post_time} {post.timezone}"
                          f"{_days(post.weekdays)}: top {post.top_n}"
                          f"{_at_least(post.min_upvotes)}{topic}{empty}.{problem}")
