"""/followups (issue 16): all kinds on by default, on/off for all or one kind, stored in
chats.followups; and the repo functions the commands change chats and watches through."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from adapters.console import CONSOLE_CHAT
from bot.types import ChatRef, ChatSettings, Incoming, WatchInfo
from storage import repo
from storage.models import Chat


async def stored_followups(app) -> str:
    async with app.sessions() as session:
        return await session.scalar(select(Chat.followups).where(
            Chat.platform == CONSOLE_CHAT.platform, Chat.external_id == CONSOLE_CHAT.external_id))


async def test_followups_are_on_until_turned_off_per_kind_or_all(app, console):
    assert "Follow-ups: on" in await console.push("/followups")
    assert "Follow-ups: code off, trending on, revised on" in await console.push(
        "/followups code off")
    assert await stored_followups(app) == "trending,revised"
    assert "code off, trending on, revised off" in await console.push("/followups REVISED off")
    assert "code off, trending on, revised off" in await console.push("/followups")
    assert "Follow-ups: off" in await console.push("/followups off")
    assert await stored_followups(app) == ""
    assert "code on, trending off, revised off" in await console.push("/followups code on")
    assert "Follow-ups: on" in await console.push("/followups on")
    assert await stored_followups(app) == "code,trending,revised"


@pytest.mark.parametrize("arg, expected", [
    ("maybe", "“maybe” is not a follow-up kind"), ("stars on", "“stars” is not a follow-up"),
    ("code", "say on or off"), ("code on please", "say on or off"), ("on off", "say on or off"),
])
async def test_unreadable_followups_settings_change_nothing(app, console, arg, expected):
    await console.push("/followups trending off")
    reply = await console.push(f"/followups {arg}")
    assert expected in reply and "Usage: /followups" in reply
    assert await stored_followups(app) == "code,revised"


async def test_followups_of_a_group_are_for_its_admins(app):
    group = ChatRef("telegram", "-100", "group")
    refused = await app.commands.dispatch(Incoming(group, "/followups off", is_admin=False))
    assert not refused.ok and "admins" in refused.body.plain()
    allowed = await app.commands.dispatch(Incoming(group, "/followups off", is_admin=True))
    assert allowed.ok and "Follow-ups: off" in allowed.body.plain()


async def test_help_lists_the_new_commands(console):
    text = await console.push("/help")
    for usage in ("/followups [code|trending|revised] on|off", "/export [watches]", "/import"):
        assert usage in text


async def test_chats_and_watches_come_out_of_the_repo_as_frozen_domain_types(app, clock):
    other = ChatRef("discord", "99", "user")
    async with app.sessions.begin() as session:
        chat = await repo.ensure_chat(session, CONSOLE_CHAT, clock())
        stranger = await repo.ensure_chat(session, other, clock())
        watch = await repo.add_watch(session, chat.id, "diffusion", clock())
        await repo.save_chat_settings(session, chat.id, mode="daily", followups=("code",))
        with pytest.raises(ValueError, match="not a chat setting: hold"):
            await repo.save_chat_settings(session, chat.id, hold="x")
        # one chat cannot stop another chat's watch
        assert not await repo.delete_watch(session, stranger.id, watch.id, clock())
    assert isinstance(chat, ChatSettings) and isinstance(watch, WatchInfo)
    with pytest.raises(dataclasses.FrozenInstanceError):
        chat.mode = "weekly"  # type: ignore[misc]
    async with app.sessions.begin() as session:
        again = await repo.get_chat(session, CONSOLE_CHAT)
        assert again is not None and (again.mode, again.followups) == ("daily", ("code",))
        assert [w.query for w in await repo.active_watches(session, chat.id)] == ["diffusion"]
        assert await repo.delete_watch(session, chat.id, watch.id, clock())
        assert not await repo.delete_watch(session, chat.id, watch.id, clock())
        assert await repo.active_watches(session, chat.id) == []
