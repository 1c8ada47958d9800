"""Discord slash commands generated from the core registry, and the persistent buttons.

Every `CommandSpec` becomes one slash command with the spec's summary as its description
and its one free-text argument as a string option (`/watch query:`, `/unwatch watch:` with
autocomplete over the caller's own watches). `/import` takes a file option. `/daily` is
specialised: typed options (action, channel, time, time zone with autocomplete, top, min
upvotes, topic); allowed in servers, in the DM with the bot and in private channels, for
server and user installs (a person's own trending list comes by DM). In a server it is
hidden from members without Manage Server by default; the handler checks the permission
again at run time because server admins can override that default.

Options are turned back into the command line the core understands
(`daily_line(...)` -> "/daily on 09:00 Europe/Berlin top 5 min 10 diffusion").

Buttons carry their command line in a stable custom id ("pw:/unwatch #3"); they are a
`DynamicItem`, so a press on a message sent before a restart still works.
"""

from __future__ import annotations

import hashlib
import json
import re
import zoneinfo
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Protocol

import discord
from discord import app_commands

from adapters.discord_render import MAX_CUSTOM_ID, button_label
from bot.commands.handlers import CommandSpec
from bot.wording import short

BUTTON_PREFIX = "pw:"
MAX_CHOICES = 25
MAX_CHOICE_CHARS = 100
PERSONAL_CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=True)
GUILD_INSTALL = app_commands.AppInstallationType(guild=True)
DAILY_CONTEXTS = app_commands.AppCommandContext(guild=True, dm_channel=True,
                                                private_channel=True)
DAILY_INSTALLS = app_commands.AppInstallationType(guild=True, user=True)

DAILY_DESCRIPTION = ("The day's trending papers: to you by DM, or in a server channel "
                     "(needs Manage Server)")
IMPORT_DESCRIPTION = "Add the watches of a file made by /export watches"

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class Handlers(Protocol):
    """What the generated commands call (the adapter implements it)."""

    async def run_command(self, interaction: discord.Interaction, spec: CommandSpec,
                          value: str | None) -> None: ...

    async def run_daily(self, interaction: discord.Interaction, options: DailyOptions) -> None: ...

    async def watch_choices(self, interaction: discord.Interaction,
                            typed: str) -> list[app_commands.Choice[str]]: ...

    async def run_button(self, interaction: discord.Interaction, command: str) -> None: ...

    async def run_import(self, interaction: discord.Interaction,
                         file: discord.Attachment) -> None: ...


@dataclass
class DailyOptions:
    """The /daily options as typed (None where left out)."""

    action: str | None = None
    channel_id: int | None = None
    time: str | None = None
    timezone: str | None = None
    top: int | None = None
    min_upvotes: int | None = None
    topic: str | None = None

    def settings_given(self) -> bool:
        return any(v is not None for v in (self.time, self.timezone, self.top, self.min_upvotes,
                                           self.topic))


def daily_line(options: DailyOptions) -> str:
    """The /daily options as the core's command line; ValueError with a short reason if an
    option would be misread (a bad time would otherwise be taken for a topic)."""
    action = options.action or ("on" if options.settings_given() else None)
    if action is None:
        return "/daily"
    if action == "off":
        return "/daily off"
    words = ["/daily", "on"]
    if options.time is not None:
        time = options.time.strip()
        if not _TIME.match(time):
            raise ValueError(f"time “{time[:20]}” is not HH:MM (24-hour), e.g. 09:00")
        words.append(time)
    if options.timezone is not None:
        zone = options.timezone.strip()
        if zone.upper() != "UTC" and (zone not in timezones() or "/" not in zone):
            raise ValueError(f"unknown time zone “{zone[:40]}”: pick one like Europe/Berlin")
        words.append(zone)
    if options.top is not None:
        words += ["top", str(options.top)]
    if options.min_upvotes is not None:
        words += ["min", str(options.min_upvotes)]
    topic = " ".join((options.topic or "").split())
    if topic:
        first = topic.split()[0].lower()
        # the core reads a leading "top N" / "min N" as settings: keep the topic a topic
        words.append(f"({topic})" if first in ("top", "min") else topic)
    return " ".join(words)


@cache
def timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def timezone_choices(typed: str) -> list[app_commands.Choice[str]]:
    typed = typed.strip().casefold().replace(" ", "_")
    names = [z for z in ("UTC",) + timezones() if typed in z.casefold()]
    return [app_commands.Choice(name=z, value=z) for z in names[:MAX_CHOICES]]


# --- generated commands -------------------------------------------------------------


def _callback(spec: CommandSpec, handlers: Handlers) -> Callable[..., Coroutine[Any, Any, None]]:
    """A callback with no option, a required or an optional string option named `value`
    (renamed to the spec's argument name in Discord)."""
    if spec.argument is None:
        async def no_option(interaction: discord.Interaction) -> None:
            await handlers.run_command(interaction, spec, None)
        return no_option
    if spec.argument_required:
        async def required(interaction: discord.Interaction, value: str) -> None:
            await handlers.run_command(interaction, spec, value)
        callback: Callable[..., Coroutine[Any, Any, None]] = required
    else:
        async def optional(interaction: discord.Interaction, value: str | None = None) -> None:
            await handlers.run_command(interaction, spec, value)
        callback = optional
    callback = app_commands.rename(value=spec.argument)(callback)
    return app_commands.describe(value=short(spec.argument_help or spec.argument, 100))(callback)


def personal_command(spec: CommandSpec, handlers: Handlers) -> app_commands.Command:
    command: app_commands.Command[Any, ..., None] = app_commands.Command(
                                   name=spec.name, description=short(spec.summary, 100),
                                   callback=_callback(spec, handlers),
                                   allowed_contexts=PERSONAL_CONTEXTS,
                                   allowed_installs=GUILD_INSTALL)
    if spec.name == "unwatch":
        async def complete(interaction: discord.Interaction,
                           current: str) -> list[app_commands.Choice[str]]:
            return await handlers.watch_choices(interaction, current)
        command.autocomplete("value")(complete)
    return command


class PostChannel(app_commands.Transformer):
    """A text or announcement channel option, taken as resolved by Discord (no cache)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return [discord.ChannelType.text, discord.ChannelType.news]

    async def transform(self, interaction: discord.Interaction, value: Any) -> Any:
        return value


def daily_command(spec: CommandSpec, handlers: Handlers) -> app_commands.Command:
    @app_commands.describe(
        action="on: set or change the post; off: stop it (leave empty to see the settings)",
        channel="where to post (default: this channel)",
        time="HH:MM, 24-hour (default 09:00)",
        timezone="e.g. Europe/Berlin (default UTC)",
        top="how many papers (1-25, default 10)",
        min_upvotes="only papers with at least this many upvotes",
        topic="only papers matching this watch query, e.g. diffusion OR video")
    @app_commands.default_permissions(manage_guild=True)
    async def daily(interaction: discord.Interaction,
                    action: Literal["on", "off"] | None = None,
                    channel: app_commands.Transform[app_commands.AppCommandChannel,
                                                    PostChannel] | None = None,
                    time: str | None = None,
                    timezone: str | None = None,
                    top: app_commands.Range[int, 1, 25] | None = None,
                    min_upvotes: app_commands.Range[int, 0, 100000] | None = None,
                    topic: str | None = None) -> None:
        options = DailyOptions(action, channel.id if channel is not None else None, time,
                               timezone, top, min_upvotes, topic)
        await handlers.run_daily(interaction, options)

    command: app_commands.Command[Any, ..., None] = app_commands.Command(
                                   name=spec.name, description=DAILY_DESCRIPTION,
                                   callback=daily, allowed_contexts=DAILY_CONTEXTS,
                                   allowed_installs=DAILY_INSTALLS)

    @command.autocomplete("timezone")
    async def complete_zone(_interaction: discord.Interaction,
                            current: str) -> list[app_commands.Choice[str]]:
        return timezone_choices(current)

    return command


def import_command(spec: CommandSpec, handlers: Handlers) -> app_commands.Command:
    @app_commands.describe(file="a text file with one watch query a line")
    async def run(interaction: discord.Interaction, file: discord.Attachment) -> None:
        await handlers.run_import(interaction, file)

    return app_commands.Command(name=spec.name, description=IMPORT_DESCRIPTION, callback=run,
                                allowed_contexts=PERSONAL_CONTEXTS,
                                allowed_installs=GUILD_INSTALL)


def build_tree(client: discord.Client, specs: tuple[CommandSpec, ...],
               handlers: Handlers) -> app_commands.CommandTree:
    tree: app_commands.CommandTree = app_commands.CommandTree(client)
    for spec in specs:
        if spec.name == "daily":
            tree.add_command(daily_command(spec, handlers))
        elif spec.name == "import":
            tree.add_command(import_command(spec, handlers))
        else:
            tree.add_command(personal_command(spec, handlers))
    return tree


def tree_digest(tree: app_commands.CommandTree, guild: discord.abc.Snowflake | None) -> str:
    """A hash of exactly what `tree.sync(guild=...)` would upload."""
    payload = [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
    text = json.dumps(sorted(payload, key=lambda c: c["name"]), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# --- buttons ------------------------------------------------------------------------


def custom_id(command: str) -> str | None:
    value = BUTTON_PREFIX + command
    return value if len(value) <= MAX_CUSTOM_ID else None


class CommandButton(discord.ui.DynamicItem[discord.ui.Button],
                    template=re.compile(re.escape(BUTTON_PREFIX) + r"(?P<command>/.+)")):
    """A button that runs a command line for whoever presses it, also after a restart."""

    def __init__(self, command: str, label: str = "") -> None:
        super().__init__(discord.ui.Button(label=button_label(label or command),
                                           style=discord.ButtonStyle.secondary,
                                           custom_id=BUTTON_PREFIX + command))
        self.command = command

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match: re.Match[str], /) -> CommandButton:
        label = getattr(item, "label", None) or ""
        return cls(match["command"], label)

    async def callback(self, interaction: discord.Interaction) -> None:
        handlers: Handlers | None = getattr(interaction.client, "paperwatch", None)
        if handlers is not None:
            await handlers.run_button(interaction, self.command)


def button_view(buttons: tuple[tuple[str, str], ...]) -> discord.ui.View | None:
    """(label, command) pairs as a persistent view; commands too long for an id are left out."""
    view = discord.ui.View(timeout=None)
    for label, command in buttons:
        if custom_id(command) is not None and len(view.children) < 25:
            view.add_item(CommandButton(command, label))
    return view if view.children else None
