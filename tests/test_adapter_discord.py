"""The Discord adapter's personal /daily, files and pictures, end to end: the real discord.py
against the fake REST API and gateway, the real core on a real database.

- `/daily` in the DM with the bot is the member's own trending list (their private chat),
  registered for DMs, private channels and user installs; in a server it still needs
  Manage Server;
- a reply's attachments are files on the interaction response; `/import file:` hands the
  file's bytes to the command, and a file over 64 KB is refused before any download;
- an alert's image is its embed's image; none without one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import discord
import discord.gateway
import discord.http
import pytest

from adapters.discord_bot import MAX_IMPORT_BYTES, DiscordAdapter
from bot.config import DiscordConfig
from bot.types import Attachment, ChatRef, OutMessage, RichText
from storage import repo
from tests.fakes.discord_api import MANAGE_GUILD, MEMBER, FakeDiscord, Posted, guild, user
from tests.helpers import FileCommands

WAIT = 10.0  # an upper bound on any one wait, never a timing assertion
GUILD = 500000000000000001
GENERAL = 500000000000000002
ANN = user(300000000000000001, "ann")
ANN_ID = int(ANN["id"])




@pytest.fixture
async def fake(monkeypatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=[guild(GUILD, [GENERAL])]) as api:
        monkeypatch.setattr(discord.http.Route, "BASE", api.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", api.gateway)
        yield api


async def started(commands: object, fake: FakeDiscord, tmp_path) -> DiscordAdapter:
    adapter = DiscordAdapter(replace(DiscordConfig(enabled=True, token=fake.token)),
                             commands,  # type: ignore[arg-type]
                             sync_state_path=tmp_path / "discord-sync.json",
                             guild_ready_timeout=0.05)
    await asyncio.wait_for(adapter.start(), WAIT)
    return adapter


@pytest.fixture
async def bot(app, fake, tmp_path) -> AsyncIterator[DiscordAdapter]:
    adapter = await started(app.commands, fake, tmp_path)
    app.add_sender(adapter)
    yield adapter
    await asyncio.wait_for(adapter.stop(), WAIT)


@pytest.fixture
async def files(app, fake, tmp_path) -> AsyncIterator[FileCommands]:
    commands = FileCommands(app.commands, ephemeral=True)
    adapter = await started(commands, fake, tmp_path)
    yield commands
    await asyncio.wait_for(adapter.stop(), WAIT)


async def slash(fake: FakeDiscord, name: str, options: dict | None = None,
                **where: object) -> Posted:
    payload = fake.slash(name, options, user_obj=ANN, **where)  # type: ignore[arg-type]
    return await fake.next_callback(await fake.interact(payload), timeout=WAIT)


# --- a personal /daily -------------------------------------------------------------------


async def test_daily_in_a_dm_is_the_members_own_trending_list(app, fake, bot):
    registered = {c["name"]: c for c in fake.command_sets["global"]}["daily"]
    assert registered["contexts"] == [0, 1, 2] and registered["integration_types"] == [0, 1]

    reply = await slash(fake, "daily", {"action": "on", "time": "09:00", "timezone": "UTC",
                                        "top": 3})
    assert "Daily trending post at 09:00 UTC: top 3" in reply.text
    async with app.sessions() as session:
        mine = await repo.find_chat(session, ChatRef("discord", str(ANN_ID), "user"))
        assert mine is not None
        post = await repo.get_channel_post(session, mine.id)
    assert (post.enabled, post.post_time, post.timezone, post.top_n) == (True, "09:00",
                                                                        "UTC", 3)


async def test_daily_in_a_server_without_manage_server_is_still_refused(app, fake, bot):
    refused = await slash(fake, "daily", {"action": "on", "time": "09:00", "timezone": "UTC",
                                          "top": 3}, guild_id=GUILD, channel_id=GENERAL,
                          permissions=MEMBER)
    assert refused.ephemeral and "Manage Server" in refused.text
    async with app.sessions() as session:
        assert await repo.find_chat(session, ChatRef("discord", str(ANN_ID), "user")) is None
        assert await repo.find_chat(session, ChatRef("discord", str(GENERAL), "channel")) \
            is None
    allowed = await slash(fake, "daily", {"action": "on", "time": "09:00"}, guild_id=GUILD,
                          channel_id=GENERAL, permissions=MEMBER | MANAGE_GUILD)
    assert "Daily trending post at 09:00" in allowed.text


# --- files -------------------------------------------------------------------------------


async def test_a_reply_attachment_is_a_file_on_the_interaction_response(files, fake):
    reply = await slash(fake, "export", {"what": "watches"})
    assert reply.files == [("watches.txt", b"diffusion\nvideo\n")]
    assert "one query a line" in reply.text and reply.ephemeral


async def test_import_hands_the_attached_file_to_the_command(files, fake):
    content = b"diffusion\n\"large language model\" AND safety\n"
    attached = fake.add_attachment("my watches.txt", content)
    reply = await slash(fake, "import", attachments={"file": attached})
    assert reply.text == "Imported."
    [incoming] = files.imports
    assert incoming.text == "/import"
    assert incoming.chat == ChatRef("discord", str(ANN_ID), "user")
    assert incoming.attachment == Attachment("my watches.txt", content, "text/plain")
    assert fake.downloads == [int(attached["id"])]


async def test_import_of_a_file_over_64_kb_is_refused_without_downloading(files, fake):
    attached = fake.add_attachment("huge.txt", b"x", size=MAX_IMPORT_BYTES + 1)
    reply = await slash(fake, "import", attachments={"file": attached})
    assert reply.ephemeral and "64 KB" in reply.text and "Nothing was imported" in reply.text
    assert files.imports == [] and fake.downloads == []


# --- pictures ----------------------------------------------------------------------------


async def test_an_alert_image_is_the_embed_image(bot, fake):
    image = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2411.00001.png"
    target = ChatRef("discord", str(ANN_ID), "user")
    await bot.send(target, OutMessage(RichText.of("A paper", "why it matched"),
                                      image_url=image))
    await bot.send(target, OutMessage(RichText.of("Another paper")))
    with_image, without = fake.messages(fake.dm_channel(ANN_ID))
    assert with_image.embeds[0]["image"] == {"url": image}
    assert "image" not in without.embeds[0]
