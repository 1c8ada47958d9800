"""Discord slash-command sync, only when the command set changed: a hash per target
(global, or each development guild) is kept in a small JSON file between starts, so a
restart does not spend Discord's daily command-update budget."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import discord
from discord import app_commands

from adapters.discord_commands import tree_digest

log = logging.getLogger(__name__)


def default_state_path() -> Path:
    """Where the command-sync hashes live unless the wiring says otherwise."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "paperwatch" / "discord-commands.json"


def load_state(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save_state(path: Path, state: dict[str, str]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
        tmp.replace(path)
    except OSError as exc:
        log.warning("discord: can't store the command hash in %s (%s); the commands "
                    "will be synced again at the next start", path, exc)


async def sync_commands(client: discord.Client, tree: app_commands.CommandTree,
                        guild_ids: Iterable[int], state_path: Path) -> list[str]:
    """PUT the command set to Discord for each target whose hash changed: the configured
    guilds (instant, for development) or else globally. Returns the targets synced."""
    state = load_state(state_path)
    synced: list[str] = []
    guilds: list[discord.Object | None] = [discord.Object(id=g) for g in guild_ids]
    for guild in guilds or [None]:
        if guild is not None:
            tree.copy_global_to(guild=guild)
        key = f"{client.application_id}:{'global' if guild is None else guild.id}"
        digest = tree_digest(tree, guild)
        if state.get(key) == digest:
            log.info("discord: commands unchanged for %s; not syncing", key)
            continue
        try:
            await tree.sync(guild=guild)
        except discord.HTTPException as exc:
            log.error("discord: syncing the commands for %s failed: %s", key, exc)
            continue
        state[key] = digest
        synced.append("global" if guild is None else str(guild.id))
        log.info("discord: synced %d commands for %s", len(tree.get_commands(guild=guild)), key)
    save_state(state_path, state)
    return synced
