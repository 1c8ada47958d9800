"""A person's own trending list (issue 16): `/daily on` in a Telegram private chat or a
Discord DM makes the daily poster send that person the day's top papers at their time,
once a day; `weekdays` skips Saturday and Sunday like the Hugging Face email."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.delivery.daily import DailyPoster, post_day
from bot.types import ChannelPostSettings, ChatRef, Incoming, Paper
from storage import repo
from tests.helpers import ScriptedSender

DISCORD_DM = ChatRef("discord", "555000111", "user")
TELEGRAM_PRIVATE = ChatRef("telegram", "42", "user")


async def trending(day: date) -> list[Paper]:
    published = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    return [Paper(id=f"2611.{n:05d}", title=f"Paper {n}", upvotes=100 - n, source="hf",
                  published=published, ai_summary=f"Paper {n} in one line.",
                  thumbnail_url=f"https://cdn.example/{n}.png")
            for n in range(1, 8)]


def poster(app) -> DailyPoster:
    return DailyPoster(app.sessions, app.senders, app.clock, fetch=trending,
                       config=app.config.delivery)


async def subscribe(app, chat: ChatRef, settings: str) -> None:
    reply = await app.commands.dispatch(Incoming(chat, f"/daily {settings}"))
    assert reply.ok, reply.body.plain()


@pytest.mark.parametrize("chat", [DISCORD_DM, TELEGRAM_PRIVATE], ids=["discord", "telegram"])
async def test_a_person_gets_the_top_n_at_their_time_once(app, clock, chat):
    sender = ScriptedSender(platform=chat.platform)
    app.add_sender(sender)
    clock.now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    await subscribe(app, chat, "on 09:00 UTC top 3")
    daily = poster(app)
    assert await daily.run_once() == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert sender.sent == []
    clock.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    await daily.run_once()
    await daily.run_once()
    [(to, message)] = sender.sent
    assert to == chat
    text = message.body.plain()
    assert "1. Paper 1" in text and "3. Paper 3" in text and "Paper 4" not in text
    assert "Paper 1 in one line." in text
    assert message.image_url == "https://cdn.example/1.png"


async def test_weekdays_skips_the_weekend(app, clock):
    sender = ScriptedSender(platform="telegram")
    app.add_sender(sender)
    clock.now = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)  # a Friday
    await subscribe(app, TELEGRAM_PRIVATE, "on 09:00 UTC top 2 weekdays")
    async with app.sessions() as session:
        chat = await repo.find_chat(session, TELEGRAM_PRIVATE)
        saved = await repo.get_channel_post(session, chat.id)
    assert isinstance(saved, ChannelPostSettings) and saved.weekdays and saved.top_n == 2
    daily = poster(app)
    clock.now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert await daily.run_once() == monday  # Friday's went out; next is Monday
    assert len(sender.sent) == 1
    for saturday_or_sunday in (28, 29):
        clock.now = datetime(2026, 11, saturday_or_sunday, 9, 30, tzinfo=UTC)
        assert await daily.run_once() == monday
    assert len(sender.sent) == 1
    clock.now = monday
    await daily.run_once()
    assert len(sender.sent) == 2
    assert "Monday 30 November 2026" in sender.sent[1][1].body.plain()


async def test_every_day_is_the_default(app, clock):
    sender = ScriptedSender(platform="discord")
    app.add_sender(sender)
    clock.now = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # a Saturday
    await subscribe(app, DISCORD_DM, "on 09:00 UTC")
    async with app.sessions() as session:
        chat = await repo.find_chat(session, DISCORD_DM)
        post = await repo.get_channel_post(session, chat.id)
    assert post is not None and post.weekdays is False
    clock.now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    await poster(app).run_once()
    assert len(sender.sent) == 1


async def test_only_daily_post_settings_can_be_saved(app, clock):
    async with app.sessions.begin() as session:
        chat = await repo.get_or_create_chat(session, DISCORD_DM, clock())
        with pytest.raises(TypeError, match="not a daily post setting: colour"):
            await repo.save_channel_post(session, chat.id, clock(), colour="red")


def test_post_day_moves_a_weekend_to_monday():
    assert post_day(date(2026, 11, 28), weekdays=True) == date(2026, 11, 30)
    assert post_day(date(2026, 11, 29), weekdays=True) == date(2026, 11, 30)
    assert post_day(date(2026, 11, 27), weekdays=True) == date(2026, 11, 27)
    assert post_day(date(2026, 11, 28), weekdays=False) == date(2026, 11, 28)
