"""Issue 16, richer papers, as people see them: real Hugging Face items (the captured day
2026-08-20) ingested by the real reader, alerted through the real python-telegram-bot and
discord.py to the fake platforms.

Ann watches the Co-RL paper (TL;DR, a repository with 1 star, a project page, an
organization, a thumbnail); Bob watches a paper whose item has none of these (its TL;DR and
thumbnail taken out): Ann's alert shows each with its link and the thumbnail as the
Telegram link preview / the Discord embed image; Bob's shows no placeholder and no
picture, and still the arXiv, PDF and Hugging Face links.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import discord.gateway
import discord.http
import pytest

from adapters.discord_bot import DiscordAdapter
from bot.config import DiscordConfig
from bot.types import ChatRef, Incoming
from tests.fakes.discord_api import FakeDiscord, guild
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.helpers import telegram_sender

WAIT = 10.0
ITEMS = {i["paper"]["id"]: i for i in json.loads(
    (Path(__file__).parent / "data/real_hf/hf_daily_papers_2026-08-20.json").read_text())}
RICH, BARE = "2608.17253", "2608.18171"
ANN_ID, BOB_ID = 300000000000000011, 300000000000000012
LINKS = {"https://github.com/DrStranded/Co-RL", "https://drstranded.github.io/Co-RL",
         f"https://arxiv.org/abs/{RICH}", f"https://arxiv.org/pdf/{RICH}",
         f"https://huggingface.co/papers/{RICH}"}
BARE_LINKS = {f"https://arxiv.org/abs/{BARE}", f"https://arxiv.org/pdf/{BARE}",
              f"https://huggingface.co/papers/{BARE}"}
PLACEHOLDERS = ("None", "TL;DR", "code:", "project:", "★", "null", "· ·")


def bare_item() -> dict:
    item = copy.deepcopy(ITEMS[BARE])
    item.pop("thumbnail", None)
    item.pop("mediaUrls", None)
    item["paper"].pop("ai_summary", None)
    return item


async def alert_both(app, platform: str, tmp_path: Path) -> None:
    for who, query in ((ANN_ID, "ti:Co-RL"), (BOB_ID, 'ti:"looped language models"')):
        reply = await app.commands.dispatch(Incoming(ChatRef(platform, str(who)),
                                                     f"/watch {query}"))
        assert reply.ok, reply.body.plain()
    path = tmp_path / "day.json"
    path.write_text(json.dumps([ITEMS[RICH], bare_item()]))
    assert "2 new" in await app.ingest_file(path)
    assert await app.flush_deliveries() == 2


def tldr() -> str:
    return " ".join(ITEMS[RICH]["paper"]["ai_summary"].split())


# --- Telegram ----------------------------------------------------------------------------


@pytest.fixture
async def telegram(app) -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake, telegram_sender(app, fake, WAIT):
        yield fake


def preview(sent) -> dict:
    value = sent.params["link_preview_options"]
    return value if isinstance(value, dict) else json.loads(value)


async def test_telegram_alerts_show_what_the_source_sent_and_nothing_else(app, telegram,
                                                                        tmp_path):
    await alert_both(app, "telegram", tmp_path)
    [rich] = telegram.accepted(ANN_ID)
    assert "TL;DR: " + tldr() in rich.plain
    assert "code: github.com/DrStranded/Co-RL ★ 1" in rich.plain
    assert "project: drstranded.github.io/Co-RL" in rich.plain
    assert "University of California at San Diego" in rich.plain
    assert {url for _text, url in rich.links()} >= LINKS
    assert preview(rich)["url"] == ITEMS[RICH]["thumbnail"]

    [bare] = telegram.accepted(BOB_ID)
    assert "Looped Language Models Improve Compositional Tool Calling" in bare.plain
    for placeholder in PLACEHOLDERS:
        assert placeholder not in bare.plain, (placeholder, bare.plain)
    assert {url for _text, url in bare.links()} >= BARE_LINKS
    assert preview(bare) == {"is_disabled": True}


# --- Discord -----------------------------------------------------------------------------


@pytest.fixture
async def discord_fake(app, monkeypatch, tmp_path) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=[guild(500000000000000001, [500000000000000002])]) as api:
        monkeypatch.setattr(discord.http.Route, "BASE", api.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", api.gateway)
        adapter = DiscordAdapter(DiscordConfig(enabled=True, token=api.token), app.commands,
                                 sync_state_path=tmp_path / "discord-sync.json",
                                 guild_ready_timeout=0.05)
        app.add_sender(adapter)
        await asyncio.wait_for(adapter.start(), WAIT)
        yield api
        await asyncio.wait_for(adapter.stop(), WAIT)


async def test_discord_alerts_show_what_the_source_sent_and_nothing_else(app, discord_fake,
                                                                       tmp_path):
    await alert_both(app, "discord", tmp_path)
    [rich] = discord_fake.messages(discord_fake.dm_channel(ANN_ID))
    text = json.dumps(rich.embeds, ensure_ascii=False)
    assert tldr() in rich.text
    assert "github.com/DrStranded/Co-RL" in rich.text and "★ 1" in rich.text
    assert "University of California at San Diego" in rich.text
    for link in LINKS:
        assert link in text, link
    assert rich.embeds[0]["image"] == {"url": ITEMS[RICH]["thumbnail"]}

    [bare] = discord_fake.messages(discord_fake.dm_channel(BOB_ID))
    assert "Looped Language Models Improve Compositional Tool Calling" in bare.text
    for placeholder in PLACEHOLDERS:
        assert placeholder not in bare.text, (placeholder, bare.text)
    bare_json = json.dumps(bare.embeds, ensure_ascii=False)
    for link in BARE_LINKS:
        assert link in bare_json, link
    assert all("image" not in embed and "thumbnail" not in embed for embed in bare.embeds)
