"""Feedback in one tap, end to end: the real python-telegram-bot against the fake Bot API
and the real discord.py against the fake Discord server (127.0.0.1), the real core and a
real database, the real sample's papers. A press (callback query / component interaction)
-> a feedback row for whoever pressed -> the acknowledgement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime

import discord
import discord.gateway
import discord.http
import pytest
from sqlalchemy import select

from adapters.discord_bot import DiscordAdapter
from adapters.telegram_bot import TelegramAdapter
from bot.config import DiscordConfig, TelegramConfig
from bot.delivery.daily import DailyPoster
from bot.types import ChatRef, Paper
from storage import repo
from storage.models import Feedback
from tests.fakes import discord_api as dfake
from tests.fakes import telegram_api as tfake
from tests.fakes.discord_api import FakeDiscord, Posted
from tests.fakes.telegram_api import FakeTelegramAPI, Sent
from tests.ranking_sample import FL, IS_FL, VISION

WAIT = 10.0  # seconds: an upper bound on any single wait, never a timing assertion
ANN = tfake.user(42, "Ann")
BOB = tfake.user(43, "Bob")
PRIVATE = tfake.chat(42, "private", "Ann")
GROUP = tfake.chat(-1004242, "supergroup", "Reading group")
D_ANN = dfake.user(300000000000000001, "ann")
D_BOB = dfake.user(300000000000000002, "bob")
D_ANN_ID = int(D_ANN["id"])


async def marks(app) -> list[tuple[str, str, str, int]]:
    async with app.sessions() as session:
        rows = await session.execute(select(Feedback.platform, Feedback.user_id,
                                            Feedback.paper_id, Feedback.value)
                                     .order_by(Feedback.id))
        return [tuple(r) for r in rows]


# --- Telegram ------------------------------------------------------------------------------


@pytest.fixture
async def tg(app) -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as fake:
        config = TelegramConfig(enabled=True, api_base_url=fake.base_url, token=fake.token)
        adapter = TelegramAdapter(config, app.commands, poll_timeout=5)
        app.add_sender(adapter)
        await asyncio.wait_for(adapter.start(), WAIT)
        yield fake
        await asyncio.wait_for(adapter.stop(), WAIT)


async def tg_say(fake: FakeTelegramAPI, where: dict, text: str, sender: dict) -> Sent:
    before = len(fake.accepted(where["id"]))
    await fake.push_command(where, text, sender)
    return await fake.next_sent(where["id"], after=before, timeout=WAIT)


async def tg_press(fake: FakeTelegramAPI, message: Sent, label: str, sender: dict) -> dict:
    data = dict(message.buttons())[label]
    assert len(data.encode()) <= 64
    query_id = await fake.push_callback(message, data, sender)
    return await fake.next_answer(query_id, timeout=WAIT)


async def test_telegram_single_alert_buttons(app, tg):
    assert "Watching" in (await tg_say(tg, PRIVATE, "/watch federated learning", ANN)).plain
    await app.pipeline.ingest([FL[0]], source="hf", alert=True)
    await app.flush_deliveries()
    alert = tg.accepted(42)[-1]
    labels = [label for label, _ in alert.buttons()]
    assert labels[:3] == ["👍", "👎", "More like this"]
    assert "Mute 24 h" in labels  # the alert's own buttons stay
    answer = await tg_press(tg, alert, "👍", ANN)
    assert answer["text"].startswith("👍 Noted: more like")
    assert await marks(app) == [("telegram", "42", FL[0].id, 1)]
    answer = await tg_press(tg, alert, "👎", ANN)  # changing one's mind replaces the mark
    assert answer["text"].startswith("👎 Noted")
    assert await marks(app) == [("telegram", "42", FL[0].id, -1)]


async def test_telegram_list_buttons_in_a_group_mark_for_whoever_pressed(app, tg):
    tg.set_member(GROUP["id"], ANN["id"], "administrator")
    assert "Watching" in (await tg_say(tg, GROUP, "/watch federated learning", ANN)).plain
    await app.pipeline.ingest(FL[:4] + VISION[:2], source="hf", alert=True)
    await app.flush_deliveries()
    listing = tg.accepted(GROUP["id"])[-1]
    labels = [label for label, _ in listing.buttons()]
    assert {"👍1", "👍2", "👍3", "👎1", "👎2", "👎3"} <= set(labels)
    data = dict(listing.buttons())
    assert data["👍1"].startswith("/like ") and data["👎2"].startswith("/dislike ")
    first, second = data["👍1"].split()[1], data["👎2"].split()[1]
    assert {first, second} <= IS_FL
    ack = await tg_press(tg, listing, "👍1", BOB)  # Bob is no admin: marks are anyone's own
    assert ack["text"].startswith("👍 Noted") and ack.get("show_alert") in (None, "false")
    await tg_press(tg, listing, "👎2", ANN)
    assert await marks(app) == [("telegram", "43", first, 1), ("telegram", "42", second, -1)]
    # typed, item numbers mean the same
    reply = await tg_say(tg, GROUP, "/like 3", BOB)
    assert reply.plain.startswith("👍 Noted")
    # "More like this" from a typed /more: a list answered in the chat
    more = await tg_say(tg, GROUP, f"/more {first}", BOB)
    assert more.plain.startswith("Papers like") and "% similar" in more.plain


async def test_telegram_anonymous_admin_marks_nothing(app, tg):
    tg.set_member(GROUP["id"], ANN["id"], "administrator")
    await tg_say(tg, GROUP, "/watch federated learning", ANN)
    await app.pipeline.ingest(FL[:3], source="hf", alert=True)
    await app.flush_deliveries()
    update = tg.command_update(GROUP, "/like 1", tfake.user(1087968824, "Group"))
    update["message"]["sender_chat"] = GROUP
    before = len(tg.accepted(GROUP["id"]))
    await tg.push_update(update)
    reply = await tg.next_sent(GROUP["id"], after=before, timeout=WAIT)
    assert "can't tell who sent that" in reply.plain
    assert await marks(app) == []


async def test_telegram_more_like_this_button_posts_the_list(app, tg):
    await tg_say(tg, PRIVATE, "/watch federated learning", ANN)
    await app.pipeline.ingest(FL, source="hf", alert=False)
    await app.pipeline.ingest([VISION[0]], source="hf", alert=False)
    # a single alert of a federated paper
    async with app.sessions.begin() as session:
        chat = await repo.get_chat(session, ChatRef("telegram", "42", "user"))
        assert chat is not None
        await repo.enqueue_deliveries(session, [{
            "chat_id": chat.id, "paper_id": FL[6].id, "watch_ids": [], "why": [],
            "next_attempt_at": app.clock(), "created_at": app.clock()}])
    await app.flush_deliveries()
    alert = tg.accepted(42)[-1]
    before = len(tg.accepted(42))
    answer = await tg_press(tg, alert, "More like this", ANN)
    assert answer["text"].startswith("Papers like")
    listing = await tg.next_sent(42, after=before, timeout=WAIT)
    shown = [line for line in listing.plain.splitlines() if line.startswith("• ")]
    assert len(shown) == 5 and sum("federated" in line.lower() for line in shown) >= 3
    assert await marks(app) == []  # looking is not marking


# --- Discord -------------------------------------------------------------------------------


@pytest.fixture
async def dc(app, monkeypatch, tmp_path) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=[dfake.guild(500000000000000001,
                                               [500000000000000002])]) as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", fake.gateway)
        adapter = new_discord(app, fake, tmp_path)
        app.add_sender(adapter)
        await asyncio.wait_for(adapter.start(), WAIT)
        fake.adapter = adapter  # type: ignore[attr-defined]
        yield fake
        await asyncio.wait_for(adapter.stop(), WAIT)


def new_discord(app, fake: FakeDiscord, tmp_path) -> DiscordAdapter:
    config = replace(DiscordConfig(enabled=True, token=fake.token))
    return DiscordAdapter(config, app.commands, sync_state_path=tmp_path / "sync.json",
                          guild_ready_timeout=0.05)


async def dc_slash(fake: FakeDiscord, name: str, value: str, who: dict = D_ANN) -> Posted:
    spec_option = {"watch": "query", "like": "paper", "more": "paper"}[name]
    payload = fake.slash(name, {spec_option: value}, user_obj=who)
    return await fake.next_callback(await fake.interact(payload), timeout=WAIT)


async def test_discord_single_alert_buttons_survive_a_restart(app, dc, tmp_path):
    await dc_slash(dc, "watch", "federated learning")
    await app.pipeline.ingest([FL[0]], source="hf", alert=True)
    assert await app.flush_deliveries() == 1
    [alert] = dc.messages(dc.dm_channel(D_ANN_ID))
    buttons = dict(alert.buttons())
    assert buttons["👍"] == f"pw:/like {FL[0].id}" and "More like this" in buttons
    await app.pipeline.ingest(FL[1:] + VISION, source="hf", alert=False)  # for /more
    await dc.adapter.stop()  # type: ignore[attr-defined]
    restarted = new_discord(app, dc, tmp_path)  # a new process: persistent custom ids
    await asyncio.wait_for(restarted.start(), WAIT)
    try:
        payload = dc.button_press(alert, buttons["👍"], user_obj=D_ANN)
        ack = await dc.next_callback(await dc.interact(payload), timeout=WAIT)
        assert ack.ephemeral and ack.text.startswith("👍 Noted")
        assert await marks(app) == [("discord", str(D_ANN_ID), FL[0].id, 1)]
        payload = dc.button_press(alert, buttons["More like this"], user_obj=D_ANN)
        more = await dc.next_callback(await dc.interact(payload), timeout=WAIT)
        assert more.ephemeral and "Papers like" in more.text and "% similar" in more.text
    finally:
        await restarted.stop()


async def test_discord_list_select_menus_mark_the_chosen_papers(app, dc):
    await dc_slash(dc, "watch", "federated learning")
    await app.pipeline.ingest(FL[:4] + VISION[:2], source="hf", alert=True)
    await app.flush_deliveries()
    listing = dc.messages(dc.dm_channel(D_ANN_ID))[-1]
    selects = dict(listing.selects())
    assert set(selects) == {"pw:pick:like", "pw:pick:dislike", "pw:pick:more"}
    options = selects["pw:pick:like"]
    assert len(options) >= 3 and options[0][0].startswith("1. ")
    chosen = [options[0][1], options[2][1]]
    assert set(chosen) <= IS_FL
    payload = dc.select_press(listing, "pw:pick:like", chosen, user_obj=D_ANN)
    ack = await dc.next_callback(await dc.interact(payload), timeout=WAIT)
    assert ack.ephemeral and ack.text.count("👍 Noted") == 2
    payload = dc.select_press(listing, "pw:pick:dislike", [options[1][1]], user_obj=D_ANN)
    ack = await dc.next_callback(await dc.interact(payload), timeout=WAIT)
    assert ack.text.startswith("👎 Noted")
    assert sorted(await marks(app)) == sorted([("discord", str(D_ANN_ID), chosen[0], 1),
                                               ("discord", str(D_ANN_ID), chosen[1], 1),
                                               ("discord", str(D_ANN_ID), options[1][1], -1)])
    payload = dc.select_press(listing, "pw:pick:more", [options[0][1]], user_obj=D_ANN)
    more = await dc.next_callback(await dc.interact(payload), timeout=WAIT)
    assert more.ephemeral and "Papers like" in more.text and "% similar" in more.text
    # a value that names no stored paper (a forged interaction): refused, nothing stored
    payload = dc.select_press(listing, "pw:pick:like", ["2599.99999"], user_obj=D_BOB)
    ack = await dc.next_callback(await dc.interact(payload), timeout=WAIT)
    assert "not stored" in ack.text
    assert len(await marks(app)) == 3


async def test_telegram_daily_post_papers_can_be_marked(app, tg, clock):
    """A person's daily trending list carries the same numbered 👍 / 👎 buttons."""
    day_papers = [replace(p, upvotes=90 - n) for n, p in enumerate(FL[:3] + VISION[:2])]
    await app.pipeline.ingest(day_papers, source="hf", alert=False)

    async def trending(_day: date) -> list[Paper]:
        return day_papers

    clock.now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    reply = await tg_say(tg, PRIVATE, "/daily on 09:00 UTC top 3", ANN)
    assert reply.plain.startswith("✓"), reply.plain
    poster = DailyPoster(app.sessions, app.senders, app.clock, fetch=trending,
                         config=app.config.delivery)
    clock.now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    await poster.run_once()
    post = tg.accepted(42)[-1]
    assert post.plain.startswith("Trending papers")
    data = dict(post.buttons())
    assert data["👍2"] == f"/like {day_papers[1].id}" and "👍4" not in data
    ack = await tg_press(tg, post, "👎3", ANN)
    assert ack["text"].startswith("👎 Noted")
    assert await marks(app) == [("telegram", "42", day_papers[2].id, -1)]
    # the daily list is now the last message here: /like 1 is its first paper
    assert (await tg_say(tg, PRIVATE, "/like 1", ANN)).plain.startswith("👍 Noted")
    assert (await marks(app))[-1] == ("telegram", "42", day_papers[0].id, 1)
