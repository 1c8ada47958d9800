"""Issue 16, proof 1, end to end: a person's own trending list on both platforms.

Everything real except the far ends: the app's own daily poster (`app.daily`) reads the day's
list live from the fake Hugging Face API on 127.0.0.1 (a real captured day, 2026-08-20),
and the command arrives through the real discord.py / python-telegram-bot from the fake
Discord server / Bot API.

- Discord: a DM interaction `/daily on 09:00 UTC top 3` (no guild) is accepted; the command
  is registered for DMs and user installs; at 09:00 the DM channel receives the top 3 of the
  fake HF list once (the first paper's thumbnail as the embed image); the same command in a
  server by a member without Manage Server is refused and stores nothing.
- Telegram: the same in a private chat (the thumbnail as the link preview); in a group by a
  member who is not an admin it is refused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import discord
import discord.gateway
import discord.http
import pytest

from adapters.discord_bot import DiscordAdapter
from adapters.telegram_bot import TelegramAdapter
from bot.config import DiscordConfig, HttpConfig, TelegramConfig
from bot.types import ChatRef
from storage import repo
from tests.fakes.discord_api import MEMBER, FakeDiscord, guild, user
from tests.fakes.hf_api import FakeHFAPI
from tests.fakes.telegram_api import FakeTelegramAPI, chat
from tests.fakes.telegram_api import user as tg_user

WAIT = 10.0  # an upper bound on any one wait, never a timing assertion
DAY = "2026-08-20"
ITEMS = json.loads((Path(__file__).parent / "data/real_hf" / f"hf_daily_papers_{DAY}.json")
                   .read_text())
BEFORE, AT, LATER = (datetime(2026, 8, 20, h, 0, tzinfo=UTC) for h in (8, 9, 15))
GUILD, GENERAL = 500000000000000001, 500000000000000002
ANN = user(300000000000000001, "ann")
ANN_ID = int(ANN["id"])


def top(n: int) -> list[dict]:
    """The day's first n papers by upvotes, as Hugging Face lists them."""
    return sorted((i["paper"] for i in ITEMS), key=lambda p: -p["upvotes"])[:n]


@pytest.fixture
def config(config, hf: FakeHFAPI):
    """The app reads the trending list live from the fake Hugging Face API."""
    hf.set_day(DAY, ITEMS)
    sources = replace(config.sources, http=HttpConfig(timeout_seconds=5, max_retries=0),
                      hf=replace(config.sources.hf, enabled=True, base_url=hf.base_url))
    return replace(config, sources=sources)


def assert_top_3(text: str) -> None:
    three, fourth = top(3), top(4)[3]
    for paper in three:
        assert paper["title"] in text, paper["title"]
    assert fourth["title"] not in text
    positions = [text.index(p["title"]) for p in three]
    assert positions == sorted(positions), "not most upvoted first"


async def posted_at_nine(app, clock, hf: FakeHFAPI) -> None:
    """The poster's rounds before, at (twice) and after 09:00, reading HF live."""
    clock.now = BEFORE
    await app.daily.run_once()
    assert hf.page_requests(DAY) == []  # nothing due yet: HF not even asked
    clock.now = AT
    await app.daily.run_once()
    await app.daily.run_once()
    clock.now = LATER
    await app.daily.run_once()
    assert hf.page_requests(DAY), "the list was not read from Hugging Face"
    assert all(q.get("sort") == "trending" for q in hf.page_requests(DAY))


# --- Discord -----------------------------------------------------------------------------


@pytest.fixture
async def discord_fake(monkeypatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=[guild(GUILD, [GENERAL])]) as api:
        monkeypatch.setattr(discord.http.Route, "BASE", api.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", api.gateway)
        yield api


@pytest.fixture
async def discord_bot(app, discord_fake, tmp_path) -> AsyncIterator[DiscordAdapter]:
    adapter = DiscordAdapter(DiscordConfig(enabled=True, token=discord_fake.token),
                             app.commands, sync_state_path=tmp_path / "discord-sync.json",
                             guild_ready_timeout=0.05)
    app.add_sender(adapter)
    await asyncio.wait_for(adapter.start(), WAIT)
    yield adapter
    await asyncio.wait_for(adapter.stop(), WAIT)


async def discord_slash(fake: FakeDiscord, options: dict, **where: object):
    payload = fake.slash("daily", options, user_obj=ANN, **where)  # type: ignore[arg-type]
    return await fake.next_callback(await fake.interact(payload), timeout=WAIT)


DAILY_ON = {"action": "on", "time": "09:00", "timezone": "UTC", "top": 3}


async def test_discord_daily_is_registered_for_dms_and_user_installs(discord_fake,
                                                                   discord_bot):
    daily = {c["name"]: c for c in discord_fake.command_sets["global"]}["daily"]
    # contexts: guild, bot DM, private channel; integration types: guild and user install
    assert daily["contexts"] == [0, 1, 2] and daily["integration_types"] == [0, 1]


async def test_a_discord_dm_daily_gets_the_live_hf_top_3_once(app, clock, hf, discord_fake,
                                                            discord_bot):
    clock.now = BEFORE
    reply = await discord_slash(discord_fake, DAILY_ON)  # no guild: the DM with the bot
    assert "Daily trending post at 09:00 UTC: top 3" in reply.text, reply.text
    await posted_at_nine(app, clock, hf)
    [post] = discord_fake.messages(discord_fake.dm_channel(ANN_ID))
    assert_top_3(json.dumps(post.embeds, ensure_ascii=False))
    first = top(1)[0]
    assert post.embeds[0]["image"]["url"] == ITEMS[[i["paper"]["id"] for i in ITEMS]
                                                   .index(first["id"])]["thumbnail"]


async def test_the_same_command_in_a_server_without_manage_server_is_refused(
        app, clock, hf, discord_fake, discord_bot):
    clock.now = BEFORE
    refused = await discord_slash(discord_fake, DAILY_ON, guild_id=GUILD, channel_id=GENERAL,
                                  permissions=MEMBER)
    assert refused.ephemeral and "Manage Server" in refused.text, refused.text
    async with app.sessions() as session:
        assert await repo.find_chat(session, ChatRef("discord", str(GENERAL), "channel")) \
            is None
    clock.now = AT
    await app.daily.run_once()
    assert discord_fake.messages(GENERAL) == []
    assert discord_fake.messages(discord_fake.dm_channel(ANN_ID)) == []


# --- Telegram ----------------------------------------------------------------------------


@pytest.fixture
async def telegram_fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
async def telegram_bot(app, telegram_fake) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(TelegramConfig(enabled=True, token=telegram_fake.token,
                                             api_base_url=telegram_fake.base_url),
                              app.commands, poll_timeout=5)
    app.add_sender(adapter)
    await asyncio.wait_for(adapter.start(), WAIT)
    yield adapter
    await asyncio.wait_for(adapter.stop(), WAIT)


async def test_a_telegram_private_daily_gets_the_live_hf_top_3_once(app, clock, hf,
                                                                  telegram_fake,
                                                                  telegram_bot):
    person = tg_user(4201, "Ann")
    clock.now = BEFORE
    await telegram_fake.push_command(chat(person["id"]), "/daily on 09:00 UTC top 3", person)
    reply = await telegram_fake.next_sent(person["id"], after=0, timeout=WAIT)
    assert "Daily trending post at 09:00 UTC: top 3" in reply.plain, reply.plain
    await posted_at_nine(app, clock, hf)
    await telegram_fake.wait_for(lambda: len(telegram_fake.accepted(person["id"])) >= 2, WAIT)
    assert len(telegram_fake.accepted(person["id"])) == 2  # the answer, then one post
    post = telegram_fake.accepted(person["id"])[1]
    assert_top_3(post.plain)
    preview = post.params["link_preview_options"]
    preview = preview if isinstance(preview, dict) else json.loads(preview)
    first = next(i for i in ITEMS if i["paper"]["id"] == top(1)[0]["id"])
    assert preview["url"] == first["thumbnail"]


async def test_the_same_command_in_a_group_by_a_non_admin_is_refused(app, clock, hf,
                                                                    telegram_fake,
                                                                    telegram_bot):
    group = chat(-1004242, "supergroup", "reading group")
    bob = tg_user(4202, "Bob")
    telegram_fake.set_member(group["id"], bob["id"], "member")
    clock.now = BEFORE
    await telegram_fake.push_command(group, "/daily on 09:00 UTC top 3", bob)
    refused = await telegram_fake.next_sent(group["id"], after=0, timeout=WAIT)
    assert "admin" in refused.plain.lower() and "Daily trending post at" not in refused.plain
    async with app.sessions() as session:
        stored = await repo.find_chat(session, ChatRef("telegram", str(group["id"]), "group"))
        assert stored is None or await repo.get_channel_post(session, stored.id) is None
    clock.now = AT
    await app.daily.run_once()
    assert len(telegram_fake.accepted(group["id"])) == 1  # only the refusal
