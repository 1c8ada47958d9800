"""Inbound Discord: slash commands, buttons, select menus and autocomplete, turned into
the core's Incoming and answered within Discord's 3 seconds.

`DiscordInteractions` is the interaction half of `adapters.discord_bot.DiscordAdapter`
(it implements the `Handlers` the generated commands of `adapters.discord_commands` call).
Who is who: `/watch` and every personal command manage the watches of the member who ran
it, wherever it was typed; command answers are ephemeral. `/daily` in a server configures
the daily post of a server channel, for members with Manage Server only (checked here at
run time); in the DM with the bot it is the member's own trending list. `/import file:`
hands the attached file (at most 64 KB) to the command. A slow core answer is deferred
("thinking…") and followed up; a reply's attachments go with its last message.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable
from dataclasses import replace
from typing import Any

import aiohttp
import discord
from discord import app_commands

from adapters.discord_commands import MAX_CHOICE_CHARS, DailyOptions, button_view, daily_line
from adapters.discord_render import COLOR_ERROR, COLOR_OK, embeds_for, group_embeds
from bot.commands.handlers import Commands, CommandSpec
from bot.types import Attachment, Button, ChatRef, Incoming, Reply
from bot.wording import short

log = logging.getLogger("adapters.discord_bot")  # one logger for the whole adapter, as before

MAX_IMPORT_BYTES = 64 * 1024  # a watch list is a few KB; anything bigger is not one
TOO_BIG = (f"That file is over {MAX_IMPORT_BYTES // 1024} KB; a watch list is one query a "
           "line and much smaller. Nothing was imported.")
NOT_DOWNLOADED = "I couldn't download that file from Discord. Nothing was imported; try again."
DAILY_REFUSED = ("Only members with the Manage Server permission can set up this server's "
                 "daily post. Nothing was changed.")
WATCH_BY_DM = "Your watches are personal: alerts come to you by direct message."


class DiscordInteractions:
    """The interaction handlers: run a command line for whoever used it, answer in time."""

    commands: Commands
    defer_after: float
    _commands_running: set[asyncio.Task[Reply]]

    @staticmethod
    def _personal(interaction: discord.Interaction, text: str) -> Incoming:
        """A command of the member who ran it, about their own watches (their DM chat)."""
        user = interaction.user
        where = None
        if interaction.guild_id is not None and interaction.channel_id is not None:
            where = ChatRef("discord", str(interaction.channel_id), "channel")
        return Incoming(chat=ChatRef("discord", str(user.id), "user"), text=text,
                        user_id=str(user.id), user_name=user.display_name, is_admin=True,
                        reply_chat=where)

    async def run_command(self, interaction: discord.Interaction, spec: CommandSpec,
                          value: str | None) -> None:
        text = f"/{spec.name} {value.strip()}" if value and value.strip() else f"/{spec.name}"
        note = WATCH_BY_DM if spec.name == "watch" and interaction.guild_id else None
        await self._answer(interaction, self.commands.dispatch(self._personal(interaction, text)),
                           ephemeral=spec.personal, note=note)

    async def run_button(self, interaction: discord.Interaction, command: str) -> None:
        reply = self.commands.dispatch(self._personal(interaction, command))
        await self._answer(interaction, reply, ephemeral=True, force_ephemeral=True)

    async def run_buttons(self, interaction: discord.Interaction, commands: list[str]) -> None:
        """Several command lines from one component (the papers chosen in a feedback menu),
        run one after another for whoever chose; one ephemeral answer, a line each."""
        async def run_all() -> Reply:
            replies = [await self.commands.dispatch(self._personal(interaction, command))
                       for command in commands]
            if len(replies) == 1:
                return replace(replies[0], ephemeral=True)
            lines = [r.body.plain().split("\n", 1)[0] for r in replies]
            return Reply.text(*lines, ok=all(r.ok for r in replies), ephemeral=True)

        await self._answer(interaction, run_all(), ephemeral=True, force_ephemeral=True)

    async def watch_choices(self, interaction: discord.Interaction,
                            typed: str) -> list[app_commands.Choice[str]]:
        """The caller's own watches; the value is the watch's number, so the line is /unwatch N."""
        chat = ChatRef("discord", str(interaction.user.id), "user")
        try:
            choices = await self.commands.watch_choices(chat, typed)
        except Exception:
            log.exception("discord: watch autocomplete failed")
            return []
        return [app_commands.Choice(name=short(f"{n}. {query}", MAX_CHOICE_CHARS), value=str(n))
                for n, query in choices[:25]]

    async def run_import(self, interaction: discord.Interaction,
                         file: discord.Attachment) -> None:
        """/import with its file: read (when small enough) and handed to the command."""
        if file.size > MAX_IMPORT_BYTES:
            await self._refuse(interaction, TOO_BIG)
            return
        try:
            data = await file.read()
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            log.warning("discord: downloading attachment %s failed: %s", file.id, exc)
            await self._refuse(interaction, NOT_DOWNLOADED)
            return
        if len(data) > MAX_IMPORT_BYTES:
            await self._refuse(interaction, TOO_BIG)
            return
        attachment = Attachment(file.filename, data,
                                file.content_type or "application/octet-stream")
        incoming = replace(self._personal(interaction, "/import"), attachment=attachment)
        await self._answer(interaction, self.commands.dispatch(incoming), ephemeral=True)

    async def run_daily(self, interaction: discord.Interaction, options: DailyOptions) -> None:
        try:
            line = daily_line(options)
        except ValueError as exc:
            await self._refuse(interaction, f"Can't set the daily post: {exc}. Nothing was "
                                            "changed.")
            return
        if interaction.guild_id is None or interaction.channel_id is None:
            # the DM with the bot or a private channel: the member's own trending list
            await self._answer(interaction, self.commands.dispatch(
                self._personal(interaction, line)), ephemeral=False)
            return
        # Hidden by default_permissions, but admins can override that per role or channel.
        permissions = interaction.permissions
        if not (permissions.manage_guild or permissions.administrator):
            await self._refuse(interaction, DAILY_REFUSED)
            return
        target = options.channel_id or interaction.channel_id
        here = ChatRef("discord", str(interaction.channel_id), "channel")
        incoming = Incoming(chat=ChatRef("discord", str(target), "channel"), text=line,
                            user_id=str(interaction.user.id),
                            user_name=interaction.user.display_name, is_admin=True,
                            reply_chat=here if target != interaction.channel_id else None)
        await self._answer(interaction, self.commands.dispatch(incoming), ephemeral=False,
                           channel_field=target if line.startswith("/daily on") else None)

    async def _refuse(self, interaction: discord.Interaction, text: str) -> None:
        await self._answer(interaction, _done(Reply.text(text, ok=False, ephemeral=True)),
                           ephemeral=True)

    async def _answer(self, interaction: discord.Interaction, pending: Awaitable[Reply], *,
                      ephemeral: bool, force_ephemeral: bool = False, note: str | None = None,
                      channel_field: int | None = None) -> None:
        """Answer within Discord's 3 seconds: directly when the core is quick, else defer
        ("thinking…", ephemeral as expected) and follow up."""
        task = asyncio.ensure_future(pending)
        # a command runs to its end even when its answer can't be delivered
        self._commands_running.add(task)
        task.add_done_callback(self._commands_running.discard)
        deferred = False
        try:
            done, _ = await asyncio.wait({task}, timeout=self.defer_after)
            if not done:
                await interaction.response.defer(ephemeral=ephemeral, thinking=True)
                deferred = True
            reply = await task
            hidden = ephemeral if deferred or force_ephemeral else reply.ephemeral
            embeds = embeds_for(reply.body, COLOR_OK if reply.ok else COLOR_ERROR)
            if note:
                embeds[-1].set_footer(text=note)
            if channel_field is not None and reply.ok:
                embeds[-1].add_field(name="Channel", value=f"<#{channel_field}>")
            groups = group_embeds(embeds)
            view = _view(reply.buttons)
            for index, group in enumerate(groups):
                extra: dict[str, Any] = {"embeds": group, "ephemeral": hidden}
                if index == len(groups) - 1:
                    if view is not None:
                        extra["view"] = view
                    if reply.attachments:
                        extra["files"] = [discord.File(io.BytesIO(a.data), filename=a.filename)
                                          for a in reply.attachments]
                if index == 0 and not deferred:
                    await interaction.response.send_message(**extra)
                else:
                    await interaction.followup.send(**extra)
        except discord.HTTPException as exc:  # e.g. 10062: the interaction expired
            log.warning("discord: answering interaction %s failed: %s", interaction.id, exc)

    async def _on_tree_error(self, interaction: discord.Interaction,
                             error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
            log.warning("discord: out-of-date command used: %s", error)
            text = ("That command is out of date; Discord will show the current ones shortly. "
                    "Nothing was changed.")
        else:
            log.error("discord: command failed: %s", error, exc_info=error)
            text = "Something went wrong on our side; nothing was changed. Please try again later."
        if not interaction.response.is_done():
            await self._refuse(interaction, text)


async def _done(reply: Reply) -> Reply:
    return reply


def _view(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    return button_view(tuple((b.label, b.command) for b in buttons)) if buttons else None
