"""The Discord adapter: slash commands and buttons -> the core's commands, send() for alerts.

Runs inside the bot's one event loop beside the other adapters: `await adapter.start()`
logs in, syncs the slash commands (only when they changed since the last sync: a hash
per target is kept in a small JSON file), connects to the gateway in a background task
and returns once READY; `await adapter.stop()` closes the connection. Sharding: with
`shard_count` set ("auto" or a number) the client is an `AutoShardedClient`.

Who is who: `/watch` and every personal command manage the watches of the member who ran
it, wherever it was typed; alerts go to that member by DM and command answers are
ephemeral. `/daily` in a server configures the daily post of a server channel; only members
with Manage Server may run it (checked at run time, not only hidden by default permissions).
In the DM with the bot (or anywhere through a user install) `/daily` is the member's own
trending list, sent to them by DM.

Files: a reply's attachments go with its last message (discord.File); `/import file:`
hands the attached file (at most 64 KB) to the command.

Membership: kicked from a server (GUILD_DELETE without "unavailable"), its channels are
switched off in the core at once; invited back (GUILD_CREATE as a join), on again.

Sending: a "user" chat is a member (open the DM channel, then post), a "channel" chat is
a server channel. Alerts are embeds (`adapters.discord_render`) with persistent buttons
under personal ones. The client is created with `AllowedMentions.none()`, so paper text
never pings anyone. Discord's refusals map onto the core's send errors: 50007 (DMs
closed or bot blocked) and missing access / unknown channel are permanent and never
retried; a 429 is waited out by discord.py itself when short and raised as RateLimited
when longer than `max_ratelimit_timeout`.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import discord
from discord import app_commands

from adapters.discord_commands import (
    MAX_CHOICE_CHARS,
    CommandButton,
    DailyOptions,
    build_tree,
    button_view,
    custom_id,
    daily_line,
)
from adapters.discord_errors import RateLimitWatch, to_send_error
from adapters.discord_feedback import FeedbackPick, feedback_items
from adapters.discord_render import (
    COLOR_ALERT,
    COLOR_ERROR,
    COLOR_OK,
    MAX_DESCRIPTION,
    embeds_for,
    group_embeds,
    measure,
    safe_url,
)
from adapters.discord_sync import default_state_path, sync_commands
from adapters.text import short
from bot.commands.handlers import Commands, CommandSpec
from bot.config import DiscordConfig
from bot.types import (
    Attachment,
    Button,
    ChatRef,
    Incoming,
    OutMessage,
    PermanentSendError,
    RateLimited,
    Reply,
    RichText,
    TransientSendError,
)

log = logging.getLogger(__name__)

MAX_IMPORT_BYTES = 64 * 1024  # a watch list is a few KB; anything bigger is not one
TOO_BIG = (f"That file is over {MAX_IMPORT_BYTES // 1024} KB; a watch list is one query a "
           "line and much smaller. Nothing was imported.")
NOT_DOWNLOADED = "I couldn't download that file from Discord. Nothing was imported; try again."
DAILY_REFUSED = ("Only members with the Manage Server permission can set up this server's "
                 "daily post. Nothing was changed.")
WATCH_BY_DM = "Your watches are personal: alerts come to you by direct message."
INVITE_PERMISSIONS = discord.Permissions(view_channel=True, send_messages=True,
                                         embed_links=True)


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS,
                                   scopes=("bot", "applications.commands"))


class DiscordAdapter:
    """One Discord bot: slash commands, buttons, and send() for deliveries."""

    platform = "discord"
    max_chars = MAX_DESCRIPTION  # embed description, in `measure` units

    def __init__(self, config: DiscordConfig, commands: Commands, *,
                 sync_state_path: str | Path | None = None, ready_timeout: float = 60.0,
                 defer_after: float = 2.0, max_ratelimit_timeout: float = 30.0,
                 guild_ready_timeout: float = 2.0) -> None:
        if not config.token:
            raise ValueError("discord: no token (set PAPERWATCH_DISCORD_TOKEN)")
        self.config = config
        self.commands = commands
        self.specs: dict[str, CommandSpec] = {spec.name: spec for spec in commands.specs}
        self.sync_state_path = Path(sync_state_path) if sync_state_path else default_state_path()
        self.ready_timeout = ready_timeout
        self.defer_after = defer_after  # answer "thinking…" when the core takes longer
        self.max_ratelimit_timeout = max_ratelimit_timeout
        self.guild_ready_timeout = guild_ready_timeout  # READY waits this long after a guild
        self.rate_limits = RateLimitWatch()
        self.client: discord.Client | None = None
        self.tree: app_commands.CommandTree | None = None
        self.receiving = True
        self.synced: list[str] = []  # targets synced by the last start ("global", guild ids)
        self._task: asyncio.Task[None] | None = None
        self._commands_running: set[asyncio.Task[Reply]] = set()

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Logged in, and READY on the gateway unless started send-only (health)."""
        client = self.client
        if client is None or client.is_closed():
            return False
        return client.is_ready() if self.receiving else client.user is not None

    def _make_client(self) -> discord.Client:
        options: dict[str, Any] = {
            "intents": discord.Intents(guilds=True),  # nothing privileged
            "allowed_mentions": discord.AllowedMentions.none(),
            "max_ratelimit_timeout": self.max_ratelimit_timeout,
            "http_trace": self.rate_limits.trace,
            "guild_ready_timeout": self.guild_ready_timeout,
        }
        shards = self.config.shard_count
        if shards:
            client: discord.Client = discord.AutoShardedClient(
                shard_count=None if shards == "auto" else int(shards), **options)
        else:
            client = discord.Client(**options)
        client.paperwatch = self  # type: ignore[attr-defined]  # for CommandButton presses

        async def on_guild_remove(guild: discord.Guild) -> None:
            await self._guild_membership(guild, present=False)

        async def on_guild_join(guild: discord.Guild) -> None:
            await self._guild_membership(guild, present=True)

        client.event(on_guild_remove)
        client.event(on_guild_join)
        client.add_dynamic_items(CommandButton, FeedbackPick)
        self.tree = build_tree(client, tuple(self.specs.values()), self)
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        return client

    async def _guild_membership(self, guild: discord.Guild, present: bool) -> None:
        """Kicked from a server (or it was deleted): its channels' daily posts stop at once;
        invited back: they resume."""
        reason = f"bot was removed from the server {guild.name!r}"
        for channel in guild.channels:
            await self.commands.membership_changed(
                ChatRef("discord", str(channel.id), "channel"), present, reason)

    async def start(self, receive: bool = True) -> None:
        """Log in (raises discord.LoginFailure on a bad token), sync the slash commands if
        they changed, connect to the gateway and return once READY. With receive=False
        only sending works (worker processes: one gateway connection per bot)."""
        if self.client is not None:
            return
        self.receiving = receive
        if self.config.api_base_url != DiscordConfig().api_base_url:
            # discord.py has one REST base for the process; only a configured one replaces it
            discord.http.Route.BASE = self.config.api_base_url.rstrip("/")
        # paperwatch never joins voice: the two start-up warnings about voice libraries are noise
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False
        client = self._make_client()
        self.client = client
        try:
            await client.login(self.config.token)
            if receive:
                assert self.tree is not None
                self.synced = await sync_commands(client, self.tree, self.config.guild_ids,
                                                  self.sync_state_path)
                self._task = asyncio.create_task(client.connect(reconnect=True),
                                                 name="discord-gateway")
                self._task.add_done_callback(self._gateway_ended)
                await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        assert client.application_id is not None
        log.info("discord: %s %s; invite: %s", client.user,
                 "ready" if receive else "ready to send (not receiving)",
                 invite_url(client.application_id))

    async def _wait_ready(self) -> None:
        assert self.client is not None and self._task is not None
        ready = asyncio.ensure_future(self.client.wait_until_ready())
        try:
            await asyncio.wait({ready, self._task}, timeout=self.ready_timeout,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._task.done():
            self._task.result()  # raises why the gateway refused us
            raise ConnectionError("discord: the gateway connection ended before READY")
        if not self.client.is_ready():
            log.warning("discord: not READY after %.0fs; still trying in the background",
                        self.ready_timeout)

    def _gateway_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None and self.client is not None:
            log.error("discord: the gateway connection failed for good",
                      exc_info=task.exception())

    async def stop(self) -> None:
        """Close the gateway and the HTTP session; safe to call twice."""
        client, task = self.client, self._task
        self.client, self._task = None, None
        if client is not None:
            await client.close()
        if task is not None:
            try:
                await asyncio.wait_for(task, 10.0)
            except (asyncio.CancelledError, TimeoutError):
                pass
            except Exception as exc:  # already logged by _gateway_ended
                log.debug("discord: gateway task ended with %r", exc)
        if client is not None:
            log.info("discord: stopped")

    # --- sending ------------------------------------------------------------------------

    def measure(self, text: RichText) -> int:
        return measure(text)

    async def send(self, chat: ChatRef, message: OutMessage) -> None:
        """One alert as embeds: a DM for a member, a post for a server channel."""
        client = self.client
        if client is None or client.is_closed():
            raise TransientSendError("discord adapter is not running")
        try:
            target = int(chat.external_id)
        except ValueError:
            raise PermanentSendError(f"not a Discord id: {chat.external_id[:40]!r}") from None
        embeds = embeds_for(message.body, COLOR_ALERT, title_line=True, title=message.title)
        if message.image_url and safe_url(message.image_url):
            embeds[0].set_image(url=message.image_url)
        groups = group_embeds(embeds)
        # Under a channel post, anyone could press a button meant for its admins.
        view = _alert_view(message) if chat.kind == "user" else None
        try:
            if chat.kind == "user":
                channel: Any = await client.create_dm(discord.Object(id=target))
            else:
                channel = client.get_partial_messageable(target)
            for index, embeds in enumerate(groups):
                extra = {"view": view} if view is not None and index == len(groups) - 1 else {}
                await channel.send(embeds=embeds, **extra)
        except discord.RateLimited as exc:
            raise RateLimited(exc.retry_after, self.rate_limits.last_scope,
                              reason=f"discord: rate limited for {exc.retry_after:.0f}s") from exc
        except discord.HTTPException as exc:
            raise to_send_error(exc, chat, self.rate_limits.last_scope) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TransientSendError(f"discord: {exc.__class__.__name__}: {exc}") from exc

    # --- receiving ----------------------------------------------------------------------

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


def _alert_view(message: OutMessage) -> discord.ui.View | None:
    """An alert's persistent components: the feedback controls of its numbered papers,
    then its own buttons."""
    view = discord.ui.View(timeout=None)
    feedback_items(view, message.items)
    for button in message.buttons:
        if custom_id(button.command) is not None and len(view.children) < 25:
            view.add_item(CommandButton(button.command, button.label))
    return view if view.children else None


def _view(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    return button_view(tuple((b.label, b.command) for b in buttons)) if buttons else None
