"""The Discord adapter's personal /daily, files and pictures, end to end: the real discord.py
against the fake REST API and gateway, the real core on a real database.

- `/daily` in the DM with the bot is the member's own trending list (their private chat),
  registered for DMs, private channels and user installs; in a server it still needs
  Manage Server;
- files through the real command layer: `/export watches` answers with an attachment holding
  the member's watches, and `/import file:` with it in another member's DM watches the same
  queries; `/export` is a BibTeX attachment (parsed with bibtexparser) of every alerted
  paper; a file over 64 KB is refused before any download;
- an alert's image is its embed's image; none without one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import bibtexparser
import discord
import discord.gateway
import discord.http
import pytest

from adapters.discord_bot import MAX_IMPORT_BYTES, DiscordAdapter
from bot.config import DiscordConfig
from bot.types import ChatRef, OutMessage, RichText
from storage import repo
from tests.fakes.discord_api import MANAGE_GUILD, MEMBER, FakeDiscord, Posted, guild, user
from tests.helpers import paper_item, write_jsonl

WAIT = 10.0  # an upper bound on any one wait, never a timing assertion
GUILD = 500000000000000001
GENERAL = 500000000000000002
ANN = user(300000000000000001, "ann")
ANN_ID = int(ANN["id"])
BOB = user(300000000000000002, "bob")
BOB_ID = int(BOB["id"])




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


async def slash(fake: FakeDiscord, name: str, options: dict | None = None,
                who: dict = ANN, **where: object) -> Posted:
    payload = fake.slash(name, options, user_obj=who, **where)  # type: ignore[arg-type]
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


async def watches_of(app, user_id: int) -> list[str]:
    async with app.sessions() as session:
        chat = await repo.get_chat(session, ChatRef("discord", str(user_id), "user"))
        return [w.query for w in await repo.active_watches(session, chat.id)] if chat else []


def queries_in(data: bytes) -> list[str]:
    return [line for line in data.decode("utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


QUERIES = ["diffusion", '"large language model" AND safety']


async def test_export_watches_is_an_attachment_and_import_elsewhere_adds_them(app, fake, bot):
    for query in QUERIES:
        assert "Watching" in (await slash(fake, "watch", {"query": query})).text
    reply = await slash(fake, "export", {"what": "watches"})
    assert reply.ephemeral and "Your 2 watches, one a line" in reply.text
    [(filename, data)] = reply.files
    assert filename.startswith("paperwatch-watches-") and filename.endswith(".txt")
    assert queries_in(data) == QUERIES == await watches_of(app, ANN_ID)

    # Bob, in his own DM with the bot, imports that file
    attached = fake.add_attachment(filename, data)
    imported = await slash(fake, "import", who=BOB, attachments={"file": attached})
    assert "✓ Imported 2 watches; 0 skipped (already watched), 0 refused." in imported.text
    assert await watches_of(app, BOB_ID) == QUERIES
    assert fake.downloads == [int(attached["id"])]


async def test_export_is_a_bibtex_attachment_of_every_alerted_paper(app, fake, bot, tmp_path):
    assert "Watching" in (await slash(fake, "watch", {"query": "diffusion"})).text
    papers = [paper_item("2611.00201", "Diffusion for proteins",
                         authors=["Ada Lovelace", "Alan Turing"]),
              paper_item("2611.00202", "Video diffusion: {fast} & 100% cheap",
                         authors=["Jürgen Müller"]),
              paper_item("2611.00203", "Graph transformers", authors=["Nobody Else"])]
    await app.ingest_file(write_jsonl(tmp_path / "p.jsonl", papers))
    assert await app.flush_deliveries() == 2  # the alert DM went out through discord.py
    reply = await slash(fake, "export")
    assert "2 papers you were alerted about in the last 30 days" in reply.text
    [(filename, data)] = reply.files
    assert filename.endswith(".bib")
    library = bibtexparser.parse_string(data.decode("utf-8"))
    assert not library.failed_blocks
    entries = {e["eprint"]: e for e in library.entries}
    assert set(entries) == {"2611.00201", "2611.00202"}
    assert entries["2611.00201"]["title"] == "{Diffusion for proteins}"
    assert entries["2611.00201"]["author"] == "Ada Lovelace and Alan Turing"
    assert entries["2611.00202"]["author"] == "Jürgen Müller"
    for pid, entry in entries.items():
        assert entry["year"] == "2026" and entry["url"] == f"https://arxiv.org/abs/{pid}"


async def test_import_of_a_file_over_64_kb_is_refused_without_downloading(app, fake, bot):
    attached = fake.add_attachment("huge.txt", b"diffusion\n", size=MAX_IMPORT_BYTES + 1)
    reply = await slash(fake, "import", attachments={"file": attached})
    assert reply.ephemeral and "64 KB" in reply.text and "Nothing was imported" in reply.text
    assert fake.downloads == [] and await watches_of(app, ANN_ID) == []


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
