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

This module is the client's construction and lifecycle (login, command sync, gateway,
guild membership, stop); the interaction handlers are `adapters.discord_interactions`
(`DiscordInteractions`), the sending is `adapters.discord_send` (`DiscordSending`).
Callers import everything from here.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import discord
from discord import app_commands

from adapters.discord_commands import CommandButton, build_tree
from adapters.discord_errors import RateLimitWatch
from adapters.discord_feedback import FeedbackPick
from adapters.discord_interactions import (
    DAILY_REFUSED,
    MAX_IMPORT_BYTES,
    NOT_DOWNLOADED,
    TOO_BIG,
    WATCH_BY_DM,
    DiscordInteractions,
)
from adapters.discord_render import MAX_DESCRIPTION
from adapters.discord_send import DiscordSending
from adapters.discord_sync import default_state_path, sync_commands
from bot.commands.handlers import Commands, CommandSpec
from bot.config import DiscordConfig
from bot.types import ChatRef, Reply

__all__ = ["DAILY_REFUSED", "INVITE_PERMISSIONS", "MAX_IMPORT_BYTES", "NOT_DOWNLOADED",
           "TOO_BIG", "WATCH_BY_DM", "DiscordAdapter", "invite_url"]

log = logging.getLogger(__name__)

INVITE_PERMISSIONS = discord.Permissions(view_channel=True, send_messages=True,
                                         embed_links=True)


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS,
                                   scopes=("bot", "applications.commands"))


class DiscordAdapter(DiscordInteractions, DiscordSending):
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
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]  # discord.py's documented override
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
