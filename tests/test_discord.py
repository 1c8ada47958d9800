"""The Discord adapter end to end: the real discord.py against a fake REST API and gateway on
127.0.0.1, the real core on a real database file. Slash commands from DMs and servers,
autocomplete, alert DMs as embeds, persistent buttons, /daily permissions and posts, and
the refusals Discord answers with (50007, missing access, unknown channel, 429)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import discord
import discord.gateway
import discord.http
import pytest
from sqlalchemy import select

from adapters.discord_bot import DiscordAdapter
from adapters.discord_errors import DMS_CLOSED
from bot.commands.handlers import COMMANDS
from bot.config import DiscordConfig
from bot.delivery.render import AlertItem, alert_messages
from bot.types import (
    ChatRef,
    OutMessage,
    Paper,
    PermanentSendError,
    RateLimited,
    RichText,
    TransientSendError,
)
from storage import repo
from storage.models import Delivery
from tests.fakes.discord_api import (
    APP_ID,
    MANAGE_GUILD,
    MEMBER,
    FakeDiscord,
    FakeError,
    Posted,
    guild,
    text_channel,
    user,
)
from tests.helpers import paper_item, write_jsonl

WAIT = 10.0  # seconds: an upper bound on any single wait, never a timing assertion

GUILD = 500000000000000001
GENERAL = 500000000000000002
NEWS = 500000000000000003
ANN = user(300000000000000001, "ann")
BOB = user(300000000000000002, "bob")
ANN_ID = int(ANN["id"])
TRICKY_TITLE = "@everyone **Federated Learning** at [scale](https://evil.example) <@123456789012345678>"


@pytest.fixture
async def fake(monkeypatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=[guild(GUILD, [GENERAL, NEWS])]) as api:
        monkeypatch.setattr(discord.http.Route, "BASE", api.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", api.gateway)
        yield api


def dc_config(fake: FakeDiscord, **changes: object) -> DiscordConfig:
    return replace(DiscordConfig(enabled=True, token=fake.token), **changes)


def make_adapter(app, fake, tmp_path, **options: object) -> DiscordAdapter:
    config = options.pop("config", None) or dc_config(fake)
    return DiscordAdapter(config, app.commands, sync_state_path=tmp_path / "discord-sync.json",
                          guild_ready_timeout=0.05, **options)


@pytest.fixture
async def bot(app, fake, tmp_path) -> AsyncIterator[DiscordAdapter]:
    adapter = make_adapter(app, fake, tmp_path)
    app.add_sender(adapter)
    await asyncio.wait_for(adapter.start(), WAIT)
    yield adapter
    await asyncio.wait_for(adapter.stop(), WAIT)


async def slash(fake: FakeDiscord, name: str, options: dict | None = None, *,
                who: dict = ANN, guild_id: int | None = None, channel_id: int | None = None,
                permissions: int = MEMBER, channels: dict | None = None) -> Posted:
    """Run a slash command as `who` and return the interaction's callback."""
    payload = fake.slash(name, options, user_obj=who, guild_id=guild_id, channel_id=channel_id,
                         permissions=permissions, channels=channels)
    return await fake.next_callback(await fake.interact(payload), timeout=WAIT)


async def press(fake: FakeDiscord, message: Posted, label: str, who: dict = ANN) -> Posted:
    custom_id = dict(message.buttons())[label]
    payload = fake.button_press(message, custom_id, user_obj=who)
    return await fake.next_callback(await fake.interact(payload), timeout=WAIT)


async def ingest(app, tmp_path, *papers: dict, name: str = "p.jsonl") -> None:
    await app.ingest_file(write_jsonl(tmp_path / name, list(papers)))


async def chat_row(app, ref: ChatRef):
    async with app.sessions() as session:
        return await repo.find_chat(session, ref)


async def deliveries(app) -> list[Delivery]:
    async with app.sessions() as session:
        return list(await session.scalars(select(Delivery).order_by(Delivery.id)))


async def enqueue_for(app, ref: ChatRef, paper_id: str) -> None:
    """A due delivery of one stored paper to a chat (what the daily-post scheduler queues)."""
    now = app.clock()
    async with app.sessions.begin() as session:
        chat = await repo.get_or_create_chat(session, ref, now)
        await repo.enqueue_deliveries(session, [{
            "chat_id": chat.id, "paper_id": paper_id, "watch_ids": [], "why": [],
            "next_attempt_at": now, "created_at": now}])


def dm_posts(fake: FakeDiscord, user_obj: dict = ANN) -> str:
    return f"/channels/{fake.dm_channel(int(user_obj['id']))}/messages"


# --- start, sync, stop -----------------------------------------------------------------


async def test_start_logs_in_syncs_the_registry_and_connects_without_privileged_intents(
        bot, fake):
    assert [(c.method, c.path) for c in fake.calls] == [
        ("GET", "/users/@me"), ("GET", "/oauth2/applications/@me"),
        ("PUT", f"/applications/{APP_ID}/commands")]
    synced = {c["name"]: c for c in fake.command_sets["global"]}
    assert list(synced) == [spec.name for spec in COMMANDS]
    assert all(c["description"] == spec.summary for spec, c in zip(COMMANDS, synced.values(),
                                                                   strict=True)
               if spec.name != "daily")
    assert synced["watch"]["options"] == [{"type": 3, "name": "query", "required": True,
                                           "description": COMMANDS[2].argument_help}]
    assert synced["unwatch"]["options"][0]["autocomplete"] is True
    daily = synced["daily"]
    assert daily["default_member_permissions"] == MANAGE_GUILD
    assert daily["contexts"] == [0, 1, 2]  # servers, the DM with the bot, private channels
    assert daily["integration_types"] == [0, 1]  # server and user installs
    assert [o["name"] for o in daily["options"]] == [
        "action", "channel", "time", "timezone", "top", "min_upvotes", "topic"]
    assert synced["watches"]["contexts"] == [0, 1]  # servers and DMs with the bot
    [identify] = fake.identifies
    assert identify["intents"] == 1  # GUILDS only: nothing privileged
    assert fake.heartbeats >= 1 and bot.connected and bot.synced == ["global"]
    assert fake.unknown_routes == []


async def test_the_command_tree_is_synced_again_only_when_it_changed(app, fake, tmp_path, bot):
    await bot.stop()
    again = make_adapter(app, fake, tmp_path)
    await asyncio.wait_for(again.start(), WAIT)
    await again.stop()
    assert again.synced == [] and len(fake.requests("PUT", r"/applications/\d+/commands")) == 1
    # a development guild is a different target: synced there at once, global left alone
    dev = make_adapter(app, fake, tmp_path, config=dc_config(fake, guild_ids=(GUILD,)))
    await asyncio.wait_for(dev.start(), WAIT)
    await dev.stop()
    assert dev.synced == [str(GUILD)]
    assert [c["name"] for c in fake.command_sets[str(GUILD)]] == [s.name for s in COMMANDS]
    assert len(fake.requests("PUT", r"/applications/\d+/commands")) == 1
    state = json.loads((tmp_path / "discord-sync.json").read_text())
    assert set(state) == {f"{APP_ID}:global", f"{APP_ID}:{GUILD}"}


async def test_stop_closes_the_gateway_and_sending_then_fails_softly(app, fake, tmp_path, bot):
    await asyncio.wait_for(bot.stop(), WAIT)
    await fake.wait_for(lambda: not fake._sockets, WAIT)
    assert not bot.connected
    with pytest.raises(TransientSendError):
        await bot.send(ChatRef("discord", str(ANN_ID)), OutMessage(RichText.of("late")))
    await bot.stop()  # twice is harmless


async def test_a_dropped_gateway_session_is_resumed_and_commands_keep_working(bot, fake):
    await fake.drop_connections(code=4000)
    await fake.wait_for(lambda: fake.resumes == 1 and fake._sockets, WAIT)
    assert len(fake.identifies) == 1  # resumed, not identified again
    assert "✓ Watching “robotics” (#1)" in (await slash(fake, "watch", {"query": "robotics"})).text


async def test_a_wrong_token_fails_start_and_leaves_nothing_running(app, fake, tmp_path):
    adapter = make_adapter(app, fake, tmp_path, config=dc_config(fake, token="wrong"))
    with pytest.raises(discord.LoginFailure):
        await asyncio.wait_for(adapter.start(), WAIT)
    assert not adapter.connected and fake.identifies == []


async def test_auto_sharding_asks_for_the_gateway_and_identifies_a_shard(app, fake, tmp_path):
    adapter = make_adapter(app, fake, tmp_path, config=dc_config(fake, shard_count="auto"))
    await asyncio.wait_for(adapter.start(), WAIT)
    try:
        assert isinstance(adapter.client, discord.AutoShardedClient)
        assert fake.requests("GET", "/gateway/bot") and fake.identifies[0]["shard"] == [0, 1]
        reply = await slash(fake, "watch", {"query": "diffusion"})
        assert "✓ Watching “diffusion” (#1)" in reply.text
    finally:
        await adapter.stop()


async def test_send_only_mode_neither_syncs_nor_connects_but_sends(app, fake, tmp_path):
    adapter = make_adapter(app, fake, tmp_path)
    await asyncio.wait_for(adapter.start(receive=False), WAIT)
    try:
        assert adapter.connected and fake.identifies == [] and fake.command_sets == {}
        await adapter.send(ChatRef("discord", str(ANN_ID)), OutMessage(RichText.of("a", "b")))
        assert fake.messages(fake.dm_channel(ANN_ID))
    finally:
        await adapter.stop()


# --- personal commands ------------------------------------------------------------------


async def test_watch_from_a_dm_and_from_a_server_are_the_members_own_watches(bot, fake):
    in_dm = await slash(fake, "watch", {"query": "federated learning"})
    assert in_dm.ephemeral and in_dm.payload["type"] == 4
    assert in_dm.text.startswith("✓ Watching “federated learning” (#1)")
    assert in_dm.embeds[0].get("footer") is None
    in_server = await slash(fake, "watch", {"query": "diffusion"}, guild_id=GUILD,
                            channel_id=GENERAL)
    assert in_server.ephemeral and "✓ Watching “diffusion” (#2)" in in_server.text
    assert "by direct message" in in_server.embeds[0]["footer"]["text"]
    listing = await slash(fake, "watches", guild_id=GUILD, channel_id=GENERAL)
    assert listing.ephemeral
    assert listing.embeds[0]["description"].split("\n") == [
        "**Watches (2)**", "1. federated learning — 0 hits", "2. diffusion — 0 hits"]
    # another member in the same server has none of them
    assert "No watches yet" in (await slash(fake, "watches", who=BOB, guild_id=GUILD,
                                            channel_id=GENERAL)).text
    refused = await slash(fake, "watch", {"query": "((("})
    assert refused.ephemeral and refused.text.startswith("Can't watch that")
    assert refused.embeds[0]["color"] == 0xE74C3C


async def test_unwatch_autocomplete_lists_only_the_callers_watches(bot, fake):
    for query in ("federated learning", "diffusion models", "video diffusion"):
        await slash(fake, "watch", {"query": query})
    await slash(fake, "watch", {"query": "diffusion policy"}, who=BOB)
    payload = fake.autocomplete("unwatch", "watch", "diff", user_obj=ANN, guild_id=GUILD,
                                channel_id=GENERAL)
    answer = await fake.next_callback(await fake.interact(payload), timeout=WAIT)
    assert answer.payload == {"type": 8, "data": {"choices": [
        {"name": "2. diffusion models", "value": "2"},
        {"name": "3. video diffusion", "value": "3"}]}}
    done = await slash(fake, "unwatch", {"watch": "2"}, guild_id=GUILD, channel_id=GENERAL)
    assert done.ephemeral and done.text == "✓ Stopped watching “diffusion models”."
    bob = await slash(fake, "watches", who=BOB)
    assert "diffusion policy" in bob.text


async def test_help_mute_status_and_start_answer_ephemerally(bot, fake):
    help_reply = await slash(fake, "help")
    assert help_reply.ephemeral and "/watch QUERY" in help_reply.text
    muted = await slash(fake, "mute", {"duration": "8h"})
    assert muted.text.startswith("Muted until 2026-11-24 20:00 UTC")
    assert "Unmuted." in (await slash(fake, "unmute")).text
    status = await slash(fake, "status")
    assert status.ephemeral and "Watches: 0." in status.text
    assert "paperwatch sends you" in (await slash(fake, "start")).text
    stale = await slash(fake, "frobnicate")  # a command an older version had published
    assert stale.ephemeral and "out of date" in stale.text


async def test_a_slow_core_gets_a_deferred_answer_then_a_follow_up(app, fake, tmp_path):
    adapter = make_adapter(app, fake, tmp_path, defer_after=0)
    await asyncio.wait_for(adapter.start(), WAIT)
    try:
        iid = await fake.interact(fake.slash("watch", {"query": "graph"}, user_obj=ANN,
                                             guild_id=GUILD, channel_id=GENERAL))
        deferred = await fake.next_callback(iid, timeout=WAIT)
        assert deferred.payload == {"type": 5, "data": {"flags": 64}}
        [_, follow] = await fake.wait_for(lambda: len(fake.answers(iid)) == 2
                                          and fake.answers(iid), WAIT)
        assert follow.kind == "followup" and follow.ephemeral
        assert "✓ Watching “graph” (#1)" in follow.text
    finally:
        await adapter.stop()


# --- alerts and buttons ------------------------------------------------------------------


async def test_alert_dm_is_an_escaped_embed_with_persistent_buttons(app, fake, tmp_path, bot):
    await slash(fake, "watch", {"query": "federated learning"}, guild_id=GUILD,
                channel_id=GENERAL)
    await ingest(app, tmp_path, paper_item(
        "2601.00001", TRICKY_TITLE,
        "Clients hold *private* data and we study federated learning across them. " * 8,
        authors=["A One", "B_Two", "C Three", "D Four"], upvotes=42,
        githubRepo="https://github.com/x/y_(z)"))
    assert await app.flush_deliveries() == 1
    assert fake.requests("POST", "/users/@me/channels")[0].json == {"recipient_id": ANN_ID}
    [alert] = fake.messages(fake.dm_channel(ANN_ID))
    assert alert.payload["allowed_mentions"] == {"parse": []}
    [embed] = alert.embeds
    assert embed["title"] == ("@\u200beveryone \\*\\*Federated Learning\\*\\* at \\[scale\\]"
                              "(https://evil.example) <@\u200b123456789012345678>")
    assert embed["url"] == "https://arxiv.org/abs/2601.00001"
    lines = embed["description"].split("\n")
    assert lines[0] == "*A One, B\\_Two, C Three et al.*"
    assert lines[1].startswith("Clients hold \\*private\\* data and we study "
                               "**federated learning** across them.")
    assert lines[2] == "Why: “Federated Learning” in title and abstract"
    assert lines[3] == "code: [github.com/x/y\\_(z)](https://github.com/x/y_%28z%29)"
    assert lines[4] == ("▲ 42 upvotes · [arXiv](https://arxiv.org/abs/2601.00001) · "
                        "[PDF](https://arxiv.org/pdf/2601.00001) · "
                        "[Hugging Face](https://huggingface.co/papers/2601.00001)")
    assert alert.buttons() == [("👍", "pw:/like 2601.00001"), ("👎", "pw:/dislike 2601.00001"),
                               ("More like this", "pw:/more 2601.00001"),  # issue 17
                               ("Unwatch “federated learning”", "pw:/unwatch #1"),
                               ("Mute 24 h", "pw:/mute 24h")]

    muted = await press(fake, alert, "Mute 24 h")
    assert muted.ephemeral and muted.text.startswith("Muted until 2026-11-25 12:00 UTC")
    # the buttons are persistent: a new process (a fresh client) still understands them
    await bot.stop()
    restarted = make_adapter(app, fake, tmp_path)
    await asyncio.wait_for(restarted.start(), WAIT)
    try:
        stopped = await press(fake, alert, "Unwatch “federated learning”")
        assert stopped.ephemeral and stopped.text == "✓ Stopped watching “federated learning”."
    finally:
        await restarted.stop()


async def test_several_hits_come_as_one_embed_titled_by_the_heading(app, fake, tmp_path, bot):
    await slash(fake, "watch", {"query": "diffusion"})
    await ingest(app, tmp_path, *[paper_item(f"2601.0010{n}", f"Diffusion paper {n}",
                                             "About diffusion. " * 20) for n in range(3)])
    await app.flush_deliveries()
    [digest] = fake.messages(fake.dm_channel(ANN_ID))
    [embed] = digest.embeds
    assert embed["title"] == "3 new papers match your watches" and "url" not in embed
    assert embed["description"].startswith("1. [**Diffusion paper 0**](https://arxiv.org/abs/")
    assert digest.buttons() == [("Unwatch “diffusion”", "pw:/unwatch #1"),
                                ("Mute 24 h", "pw:/mute 24h")]


# --- /daily ------------------------------------------------------------------------------


async def test_daily_is_refused_without_manage_server_even_if_the_default_is_overridden(
        app, fake, bot):
    # Discord shows the command to this member (an admin overrode the default permission),
    # but the interaction says they lack Manage Server: refused, nothing stored.
    refused = await slash(fake, "daily", {"action": "on", "time": "08:00"}, guild_id=GUILD,
                          channel_id=GENERAL, permissions=MEMBER)
    assert refused.ephemeral and "Manage Server" in refused.text
    assert await chat_row(app, ChatRef("discord", str(GENERAL), "channel")) is None
    from_dm = await slash(fake, "daily", {"action": "off"})  # the member's own list: theirs
    assert not from_dm.ephemeral and "Manage Server" not in from_dm.text


async def test_daily_by_a_manager_configures_the_chosen_channel(app, fake, bot):
    news = text_channel(NEWS, GUILD, "paper-news")
    reply = await slash(fake, "daily", {"action": "on", "channel": "x", "time": "07:30",
                                        "timezone": "Europe/Berlin", "top": 5, "min_upvotes": 10,
                                        "topic": "diffusion"},
                        guild_id=GUILD, channel_id=GENERAL, permissions=MEMBER | MANAGE_GUILD,
                        channels={"channel": news})
    assert not reply.ephemeral  # the channel sees its new setting
    assert reply.embeds[0]["description"] == (
        "✓ Daily trending post at 07:30 Europe/Berlin: top 5, at least 10 upvotes, "
        "topic “diffusion”.")
    assert reply.embeds[0]["fields"] == [{"name": "Channel", "value": f"<#{NEWS}>",
                                          "inline": True}]
    async with app.sessions() as session:
        chat = await repo.find_chat(session, ChatRef("discord", str(NEWS), "channel"))
        post = await repo.get_channel_post(session, chat.id)
    assert (post.enabled, post.post_time, post.timezone, post.top_n, post.min_upvotes,
            post.topic_query) == (True, "07:30", "Europe/Berlin", 5, 10, "diffusion")

    bad = await slash(fake, "daily", {"time": "25:00"}, guild_id=GUILD, channel_id=NEWS,
                      permissions=MANAGE_GUILD)
    assert bad.ephemeral and "25:00" in bad.text and "Nothing was changed" in bad.text
    zone = await slash(fake, "daily", {"timezone": "CET"}, guild_id=GUILD, channel_id=NEWS,
                       permissions=MANAGE_GUILD)
    assert "Europe/Berlin" in zone.text  # a hint, not a silently misread topic
    shown = await slash(fake, "daily", guild_id=GUILD, channel_id=NEWS,
                        permissions=MANAGE_GUILD)
    assert shown.text.startswith("Daily post at 07:30 Europe/Berlin: top 5")
    off = await slash(fake, "daily", {"action": "off"}, guild_id=GUILD, channel_id=NEWS,
                      permissions=MANAGE_GUILD)
    assert off.text == "Daily post turned off."

    payload = fake.autocomplete("daily", "timezone", "berl", user_obj=ANN, guild_id=GUILD,
                                channel_id=NEWS)
    payload["member"]["permissions"] = str(MANAGE_GUILD)
    zones = await fake.next_callback(await fake.interact(payload), timeout=WAIT)
    assert zones.payload["data"]["choices"] == [{"name": "Europe/Berlin",
                                                 "value": "Europe/Berlin"}]


async def test_a_daily_post_goes_to_the_channel_without_buttons_or_pings(app, fake, tmp_path,
                                                                         bot):
    await ingest(app, tmp_path, paper_item("2601.00020", "@everyone look: **bold** claims",
                                           "x", upvotes=99))
    await enqueue_for(app, ChatRef("discord", str(NEWS), "channel"), "2601.00020")
    assert await app.flush_deliveries() == 1
    [post] = fake.messages(NEWS)
    assert post.payload["allowed_mentions"] == {"parse": []}
    assert post.embeds[0]["title"] == "@\u200beveryone look: \\*\\*bold\\*\\* claims"
    assert post.buttons() == []  # members can't unwatch or mute a channel's post
    # the worker's digest rendering fits the embed limits too
    papers = [AlertItem(Paper(f"2601.{n:05d}", f"Trending {n} " + "x" * 200, "y " * 500,
                              upvotes=n), ()) for n in range(40)]
    messages = alert_messages(papers, bot.max_chars, bot.measure, heading="Today's top papers")
    for batch in messages:
        await bot.send(ChatRef("discord", str(NEWS), "channel"), batch.message)
    assert len(messages) > 1 and len(fake.messages(NEWS)) == 1 + len(messages)
    assert fake.refused == []


# --- refusals ----------------------------------------------------------------------------


async def test_dms_closed_marks_the_member_unreachable_and_is_never_retried(app, fake,
                                                                            tmp_path, bot):
    await slash(fake, "watch", {"query": "federated learning"})
    fake.fail("POST", dm_posts(fake), FakeError.dms_closed())
    await ingest(app, tmp_path, paper_item("2601.00001", "Federated learning at scale"))
    assert await app.flush_deliveries() == 1
    chat = await chat_row(app, ChatRef("discord", str(ANN_ID)))
    assert (chat.state, chat.state_reason) == ("blocked", DMS_CLOSED)
    assert "Privacy Settings" in DMS_CLOSED and "/start" in DMS_CLOSED
    [row] = await deliveries(app)
    assert (row.state, row.last_error) == ("failed", DMS_CLOSED)
    app.clock.advance(days=1)
    await ingest(app, tmp_path, paper_item("2601.00002", "More federated learning"),
                 name="q.jsonl")
    await app.flush_deliveries()
    assert len(fake.requests("POST", dm_posts(fake))) == 1  # one 403, never again


async def test_the_next_command_after_closed_dms_says_how_to_open_them(app, fake, tmp_path,
                                                                       bot):
    await slash(fake, "watch", {"query": "federated learning"})
    fake.fail("POST", dm_posts(fake), FakeError.dms_closed())
    await ingest(app, tmp_path, paper_item("2601.00001", "Federated learning at scale"))
    await app.flush_deliveries()
    told = await slash(fake, "watches", guild_id=GUILD, channel_id=GENERAL)
    assert told.ephemeral
    assert told.embeds[0]["description"].split("\n")[0] == f"Alerts can't reach you: {DMS_CLOSED}"
    assert "alerts are on again" in (await slash(fake, "start")).text
    assert DMS_CLOSED not in (await slash(fake, "watches")).text


async def test_missing_access_or_unknown_channel_blocks_the_channel_with_the_reason(
        app, fake, tmp_path, bot):
    await ingest(app, tmp_path, paper_item("2601.00030", "Trending"))
    channel = ChatRef("discord", str(NEWS), "channel")
    fake.fail("POST", f"/channels/{NEWS}/messages", FakeError.missing_access())
    await enqueue_for(app, channel, "2601.00030")
    await app.flush_deliveries()
    chat = await chat_row(app, channel)
    assert chat.state == "blocked" and "Missing Access" in chat.state_reason
    assert "View Channel" in chat.state_reason and "/daily on" in chat.state_reason
    assert len(fake.requests("POST", f"/channels/{NEWS}/messages")) == 1

    fake.fail("POST", f"/channels/{GENERAL}/messages", FakeError.unknown_channel())
    with pytest.raises(PermanentSendError, match="no longer exists"):
        await bot.send(ChatRef("discord", str(GENERAL), "channel"), OutMessage(RichText.of("x")))
    fake.fail("POST", f"/channels/{GENERAL}/messages", FakeError.server_error())
    with pytest.raises(TransientSendError, match="503"):
        await bot.send(ChatRef("discord", str(GENERAL), "channel"), OutMessage(RichText.of("x")))
    with pytest.raises(PermanentSendError, match="not a Discord id"):
        await bot.send(ChatRef("discord", "general", "channel"), OutMessage(RichText.of("x")))


async def test_a_short_429_is_waited_out_by_discord_py(app, fake, tmp_path, bot):
    fake.fail("POST", f"/channels/{NEWS}/messages", FakeError.rate_limited(0.05))
    await bot.send(ChatRef("discord", str(NEWS), "channel"), OutMessage(RichText.of("hi")))
    assert [c.status for c in fake.requests("POST", f"/channels/{NEWS}/messages")] == [429, 200]
    assert bot.rate_limits.hits == 1


async def test_a_long_429_surfaces_to_the_delivery_worker(app, fake, tmp_path, bot):
    await slash(fake, "watch", {"query": "federated learning"})
    fake.fail("POST", dm_posts(fake), FakeError.rate_limited(120.0))
    await ingest(app, tmp_path, paper_item("2601.00001", "Federated learning at scale"))
    await app.flush_deliveries()
    [row] = await deliveries(app)
    assert row.state == "pending" and row.attempts == 0  # not counted as a failure
    assert row.next_attempt_at.replace(tzinfo=None) >= \
        (app.clock() + timedelta(seconds=119)).replace(tzinfo=None)
    fake.fail("POST", f"/channels/{NEWS}/messages",
              FakeError.rate_limited(90.0, scope="global", is_global=True))
    with pytest.raises(RateLimited) as caught:
        await bot.send(ChatRef("discord", str(NEWS), "channel"), OutMessage(RichText.of("x")))
    assert caught.value.retry_after == 90.0 and caught.value.scope == "global"
    assert (await chat_row(app, ChatRef("discord", str(ANN_ID)))).state == "active"


async def _chat_state(app, ref: ChatRef, expect: str):
    for _ in range(int(WAIT / 0.02)):
        row = await chat_row(app, ref)
        if row is not None and row.state == expect:
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"{ref} never became {expect}")


async def test_kicked_from_a_server_its_channels_stop_and_resume_when_invited_back(
        app, fake, bot):
    news = ChatRef("discord", str(NEWS), "channel")
    await slash(fake, "daily", {"action": "on", "time": "07:30"}, guild_id=GUILD,
                channel_id=NEWS, permissions=MEMBER | MANAGE_GUILD)
    assert (await chat_row(app, news)).state == "active"
    await fake.dispatch("GUILD_DELETE", {"id": str(GUILD)})  # kicked: no "unavailable"
    row = await _chat_state(app, news, "blocked")
    assert row.state_reason == "bot was removed from the server 'ML lab'"
    assert await chat_row(app, ChatRef("discord", str(GENERAL), "channel")) is None
    invited = guild(GUILD, [GENERAL, NEWS])
    del invited["unavailable"]  # a join, not an outage ending
    await fake.dispatch("GUILD_CREATE", invited)
    await _chat_state(app, news, "active")
