"""End to end through the fake Discord server (issue 16): a member types `/daily on` in
their DM with the bot (no guild), and at that time the daily poster sends the DM channel
the top 3 of the day's Hugging Face list, once, as an embed with the first paper's
thumbnail."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from bot.delivery.daily import DailyPoster
from bot.sources.hf_item import paper_from_hf_item
from bot.types import Paper
from tests import test_discord
from tests.test_discord import ANN_ID, slash

# the fake Discord server and the adapter on it, as the adapter's own tests run them
fake = test_discord.fake
bot = test_discord.bot

DAY_FILE = Path(__file__).resolve().parents[2] / "shared/data/real/hf_daily_papers_2026-08-20.json"


async def hf_day(_day: date) -> list[Paper]:
    """The day's list as the Hugging Face source returns it, most upvoted first."""
    papers = [paper_from_hf_item(item) for item in json.loads(DAY_FILE.read_text())]
    return sorted(papers, key=lambda p: -(p.upvotes or 0))


async def test_a_dm_subscription_gets_the_top_3_once_at_its_time(app, fake, bot, clock):
    clock.now = datetime(2026, 8, 20, 8, 0, tzinfo=UTC)
    reply = await slash(fake, "daily", {"action": "on", "time": "09:00", "timezone": "UTC",
                                        "top": 3})
    assert "Manage Server" not in reply.text and "09:00 UTC: top 3" in reply.text
    poster = DailyPoster(app.sessions, app.senders, clock, fetch=hf_day,
                         config=app.config.delivery)
    await poster.run_once()
    dm = fake.dm_channel(ANN_ID)
    assert fake.messages(dm) == []
    clock.now = datetime(2026, 8, 20, 9, 0, tzinfo=UTC)
    await poster.run_once()
    await poster.run_once()
    [post] = fake.messages(dm)
    top = await hf_day(date(2026, 8, 20))
    text = json.dumps(post.embeds, ensure_ascii=False)
    for paper in top[:3]:
        assert paper.title.split(":")[0] in text
    assert top[3].title.split(":")[0] not in text
    assert post.embeds[0]["image"]["url"] == top[0].thumbnail_url
