"""How and when a chat gets its alerts: /mute, /unmute, /mode, /timezone, /quiet and
/followups. Each change goes through `repo.save_chat_settings` by chat id."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from bot.commands.arguments import (
    find_zone,
    parse_duration,
    parse_followups,
    parse_mode,
    parse_quiet,
)
from bot.commands.base import FOREVER, Context, fmt_local
from bot.commands.registry import usage
from bot.delivery.plan import describe_schedule, plan_delivery
from bot.types import FOLLOWUP_KINDS, Incoming, Reply
from storage import repo


class SettingsCommands:
    """The handlers that change a chat's delivery settings."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def mute(self, incoming: Incoming, arg: str) -> Reply:
        duration = parse_duration(arg) if arg else FOREVER
        if duration is None:
            return Reply.text(f"Can't read the duration “{arg[:30]}”. Use e.g. 30m, 8h, 3d, 1w "
                              "(at most a year), or nothing to mute until /unmute.", ok=False)
        until = self.ctx.clock() + duration
        async with self.ctx.sessions.begin() as session:
            chat = await self.ctx.chat(session, incoming.chat)
            await repo.set_muted_until(session, chat.id, until)
        when = ("until /unmute" if duration == FOREVER
                else f"until {fmt_local(until, chat.timezone)}")
        return Reply.text(f"Muted {when}. Alerts wait and none are lost.")

    async def unmute(self, incoming: Incoming, _arg: str) -> Reply:
        now = self.ctx.clock()
        async with self.ctx.sessions.begin() as session:
            chat = await self.ctx.chat(session, incoming.chat)
            was_muted = chat.muted_until is not None and chat.muted_until > now
            waiting = (await repo.delivery_counts(session, chat.id)).get("pending", 0)
            # an ended mute that is still set marks what waited as "while you were away":
            # the worker sends it as one message and then forgets the mute
            until = now if was_muted and waiting else None
            await repo.save_chat_settings(session, chat.id, muted_until=until)
            chat = replace(chat, muted_until=until, hold_until=None)
            oldest = await repo.oldest_pending(session, chat.id)
        self.ctx.notify()
        if not was_muted:
            return Reply.text("Alerts are not muted.")
        if not waiting or oldest is None:
            return Reply.text("Unmuted.")
        plural = "s" if waiting != 1 else ""
        plan = plan_delivery(chat, oldest, now,
                             self.ctx.delivery.max_messages_per_hour)
        when = ("arrive now" if plan.send or plan.hold_until is None else
                f"arrive {fmt_local(plan.hold_until, chat.timezone)} ({plan.why})")
        return Reply.text(f"Unmuted. {waiting} waiting alert{plural} {when}, together as one "
                          "“while you were away” message.")

    async def mode(self, incoming: Incoming, arg: str) -> Reply:
        if not arg:
            chat = await self.ctx.known_chat(incoming.chat)
            current = describe_schedule(chat) if chat else "instant"
            return Reply.text(f"Alerts: {current}. {usage('mode')}")
        try:
            values = parse_mode(arg)
        except ValueError as exc:
            return Reply.text(f"Can't set the mode: {exc}. {usage('mode')}", ok=False)
        async with self.ctx.sessions.begin() as session:
            chat = await self.ctx.chat(session, incoming.chat)
            await repo.save_chat_settings(session, chat.id, **values)
        chat = replace(chat, **values)  # type: ignore[arg-type]  # parse_mode's fields
        self.ctx.notify()
        if chat.mode == "instant":
            return Reply.text("✓ Alerts are sent as soon as papers match (at most "
                              f"{self.ctx.delivery.max_messages_per_hour} messages an hour; "
                              "more wait and come together).")
        hint = (" Your time zone is UTC; set yours with /timezone Area/City."
                if chat.timezone == "UTC" else "")
        return Reply.text(f"✓ Alerts now come as a "
                          f"{describe_schedule(chat)}.{hint}")

    async def timezone(self, incoming: Incoming, arg: str) -> Reply:
        if not arg:
            chat = await self.ctx.known_chat(incoming.chat)
            name = chat.timezone if chat else "UTC"
            return Reply.text(f"Time zone: {name}. Change it with /timezone Area/City, "
                              "e.g. /timezone Europe/Paris.")
        found = find_zone(arg)
        if found is None:
            return Reply.text(f"Unknown time zone “{arg[:40]}”. Use a name like Europe/Paris "
                              "or America/New_York.", ok=False)
        async with self.ctx.sessions.begin() as session:
            chat = await self.ctx.chat(session, incoming.chat)
            await repo.save_chat_settings(session, chat.id, timezone=found)
        self.ctx.notify()
        local = self.ctx.clock().astimezone(ZoneInfo(found)).strftime("%H:%M")
        return Reply.text(f"✓ Time zone set to {found} (it is {local} there now).")

    async def quiet(self, incoming: Incoming, arg: str) -> Reply:
        if not arg:
            chat = await self.ctx.known_chat(incoming.chat)
            if chat is None or not chat.quiet_start:
                return Reply.text(f"No quiet hours. {usage('quiet')}")
            return Reply.text(f"Quiet hours: {chat.quiet_start}–{chat.quiet_end} "
                              f"{chat.timezone}. /quiet off removes them.")
        if arg.lower() == "off":
            values: dict[str, str | None] = {"quiet_start": None, "quiet_end": None}
        else:
            try:
                start, end = parse_quiet(arg)
            except ValueError as exc:
                return Reply.text(f"Can't set quiet hours: {exc}. {usage('quiet')}", ok=False)
            values = {"quiet_start": start, "quiet_end": end}
        async with self.ctx.sessions.begin() as session:
            chat = await self.ctx.chat(session, incoming.chat)
            await repo.save_chat_settings(session, chat.id, **values)
        self.ctx.notify()
        if values["quiet_start"] is None:
            return Reply.text("✓ Quiet hours removed.")
        return Reply.text(f"✓ Quiet hours {values['quiet_start']}–{values['quiet_end']} "
                          f"{chat.timezone}: alerts wait and arrive together afterwards.")

    async def followups(self, incoming: Incoming, arg: str) -> Reply:
        if not arg:
            chat = await self.ctx.known_chat(incoming.chat)
            wanted = chat.followups if chat else FOLLOWUP_KINDS
            return Reply.text(f"Follow-ups: {describe_followups(wanted)}. "
                              f"{usage('followups')}")
        async with self.ctx.sessions.begin() as session:
            chat = await self.ctx.chat(session, incoming.chat)
            try:
                wanted = parse_followups(arg, chat.followups)
            except ValueError as exc:
                return Reply.text(f"Can't set follow-ups: {exc}. {usage('followups')}",
                                  ok=False)
            await repo.save_chat_settings(session, chat.id, followups=wanted)
        self.ctx.notify()
        return Reply.text(f"✓ Follow-ups: {describe_followups(wanted)}.")


def describe_followups(wanted: tuple[str, ...]) -> str:
    """'on (...)' for every kind, 'off' for none, else each kind with on or off."""
    if not wanted:
        return "off"
    if set(wanted) == set(FOLLOWUP_KINDS):
        return ("on: a word, once, when a paper you were alerted about gets code, starts "
                "trending or gets a new version with a changed title or abstract")
    return ", ".join(f"{k} {'on' if k in wanted else 'off'}" for k in FOLLOWUP_KINDS)
