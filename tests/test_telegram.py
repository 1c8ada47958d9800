"""The Telegram adapter end to end: the real python-telegram-bot against a fake Bot API on
127.0.0.1, the real core on a real database file. Private chats, groups, channels, buttons,
webhook mode, and every refusal Telegram can answer a send with."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from telegram.error import InvalidToken

from adapters.telegram_bot import (
    TelegramAdapter,
    keyboard,
    measure,
    render_html,
    split_body,
)
from bot.commands.handlers import COMMANDS
from bot.config import TelegramConfig
from bot.types import (
    Button,
    ChatMoved,
    ChatRef,
    MessageRejected,
    OutMessage,
    PermanentSendError,
    RateLimited,
    RichText,
    Span,
    TransientSendError,
)
from storage import repo
from storage.models import Delivery
from tests.fakes.telegram_api import FakeError, FakeTelegramAPI, Sent, chat, parse_html, user
from tests.helpers import paper_item, write_jsonl

WAIT = 10.0  # seconds: an upper bound on any single wait, never a timing assertion

ANN = user(42, "Ann")
PRIVATE = chat(42, "private", "Ann")
TRICKY_TITLE = "Federated Learning when x < y & z: <script>alert(1)</script> @everyone"


def tg_config(fake: FakeTelegramAPI, **changes: object) -> TelegramConfig:
    return replace(TelegramConfig(enabled=True, api_base_url=fake.base_url, token=fake.token),
                   **changes)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
async def telegram(app, fake) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(tg_config(fake), app.commands, poll_timeout=5)
    app.add_sender(adapter)
    await asyncio.wait_for(adapter.start(), WAIT)
    yield adapter
    await asyncio.wait_for(adapter.stop(), WAIT)


async def say(fake: FakeTelegramAPI, where: dict, text: str, sender: dict | None = None) -> Sent:
    """Type `text` in a chat and return the bot's answer there."""
    before = len(fake.accepted(where["id"]))
    await fake.push_command(where, text, sender)
    return await fake.next_sent(where["id"], after=before, timeout=WAIT)


async def press(fake: FakeTelegramAPI, message: Sent, label: str,
                sender: dict | None = None) -> dict:
    """Press the button labelled `label` under a message; return answerCallbackQuery's params."""
    data = dict(message.buttons())[label]
    query_id = await fake.push_callback(message, data, sender)
    return await fake.next_answer(query_id, timeout=WAIT)


async def ingest(app, tmp_path, *papers: dict, name: str = "p.jsonl") -> None:
    await app.ingest_file(write_jsonl(tmp_path / name, list(papers)))


async def rows(app) -> list[Delivery]:
    async with app.sessions() as session:
        return list(await session.scalars(select(Delivery).order_by(Delivery.id)))


async def chat_row(app, external_id: str):
    async with app.sessions() as session:
        return await repo.find_chat(session, ChatRef("telegram", external_id))


# --- private chat ---------------------------------------------------------------------


async def test_start_publishes_the_command_menu_then_polls(telegram, fake):
    assert fake.commands == [{"command": c.name, "description": c.summary} for c in COMMANDS]
    order = [name for name, _ in fake.calls]
    assert order[:3] == ["getMe", "setMyCommands", "deleteWebhook"]
    await fake.wait_for(lambda: "getUpdates" in [n for n, _ in fake.calls], WAIT)
    assert telegram.connected and telegram.username == "paperwatch_bot"
    assert fake.unknown_methods == []


async def test_stop_marks_fetched_updates_read_and_stops_sending(app, fake):
    adapter = TelegramAdapter(tg_config(fake), app.commands, poll_timeout=30)
    await asyncio.wait_for(adapter.start(), WAIT)
    await say(fake, PRIVATE, "/start")
    await asyncio.wait_for(adapter.stop(), WAIT)  # the 30 s long poll is cancelled, not awaited
    last = fake.method_calls("getUpdates")[-1]
    assert last["timeout"] == "0" and last["offset"] == "2"  # update 1 is acknowledged
    assert not adapter.connected
    with pytest.raises(TransientSendError):
        await adapter.send(ChatRef("telegram", "42"), OutMessage(RichText.of("late")))
    await adapter.stop()  # twice is harmless


async def test_a_wrong_token_fails_start_and_leaves_nothing_running(app, fake):
    adapter = TelegramAdapter(tg_config(fake, token="999:wrong"), app.commands)
    with pytest.raises(InvalidToken):
        await asyncio.wait_for(adapter.start(), WAIT)
    assert not adapter.connected and [name for name, _ in fake.calls] == []


async def test_private_chat_from_start_to_an_escaped_html_alert_with_buttons(
        app, telegram, fake, tmp_path):
    welcome = await say(fake, PRIVATE, "/start")
    assert "paperwatch sends you new research papers" in welcome.plain
    assert welcome.parse_mode == "HTML" and "reply_parameters" not in welcome.params
    reply = await say(fake, PRIVATE, "/watch federated learning")
    assert "✓ Watching “federated learning” (#1)" in reply.plain

    await ingest(app, tmp_path, paper_item(
        "2601.00001", TRICKY_TITLE,
        "Clients hold <private> data & we study federated learning across them. " * 8,
        authors=["A One", "B Two", "C Three", "D Four"], upvotes=42,
        githubRepo="https://github.com/x/y?a=1&b=2"))
    assert await app.flush_deliveries() == 1
    [alert] = fake.accepted(42)[2:]
    assert alert.parse_mode == "HTML" and len(alert.text) <= 4096
    # Telegram (the fake's strict parser) shows exactly the title, escaped text intact
    lines = alert.plain.split("\n")
    assert lines[0] == TRICKY_TITLE
    assert "<script>" not in alert.text and "&lt;script&gt;" in alert.text
    assert (TRICKY_TITLE, "https://arxiv.org/abs/2601.00001") in alert.links()
    assert lines[1] == "A One, B Two, C Three et al." and lines[1] in alert.styled("italic")
    assert "Clients hold <private> data & we study" in lines[2]
    assert "federated learning" in alert.styled("bold")  # the matched words in the excerpt
    assert "▲ 42 upvotes" in alert.plain
    assert ("github.com/x/y?a=1&b=2", "https://github.com/x/y?a=1&b=2") in alert.links()
    assert alert.params["link_preview_options"] == '{"is_disabled": true}'
    assert alert.buttons() == [("👍", "/like 2601.00001"), ("👎", "/dislike 2601.00001"),
                               ("More like this", "/more 2601.00001"),  # issue 17
                               ("Unwatch “federated learning”", "/unwatch #1"),
                               ("Mute 24 h", "/mute 24h")]

    answer = await press(fake, alert, "Mute 24 h")
    assert answer["text"].startswith("Muted until 2026-11-25 12:00 UTC")
    assert answer.get("show_alert") in (None, "false")
    answer = await press(fake, alert, "Unwatch “federated learning”")
    assert answer["text"] == "✓ Stopped watching “federated learning”."
    assert "No watches yet" in (await say(fake, PRIVATE, "/watches")).plain


async def test_private_chat_hints_on_chatter_and_unknown_commands(telegram, fake):
    assert (await say(fake, PRIVATE, "hello")).plain == "I understand commands only. Try /help."
    assert "Unknown command /frobnicate" in (await say(fake, PRIVATE, "/frobnicate")).plain
    long = await say(fake, PRIVATE, "/watch " + "x" * 300)
    assert "Can't watch that" in long.plain and "No watches yet" in (
        await say(fake, PRIVATE, "/watches")).plain


# --- groups and channels -----------------------------------------------------------------


async def test_group_only_admins_change_watches_and_the_group_gets_the_alerts(
        app, telegram, fake, tmp_path):
    group = chat(-1001234, "supergroup", "ML reading group")
    ann, bob, cy = user(501, "Ann"), user(502, "Bob"), user(503, "Cy")
    fake.set_member(group["id"], ann["id"], "administrator")
    fake.set_member(group["id"], cy["id"], "creator")

    refused = await say(fake, group, "/watch@paperwatch_bot diffusion", bob)
    assert refused.plain == "Only this chat's admins can change its watches and settings."
    assert refused.params["reply_parameters"]  # threaded under the command
    ok = await say(fake, group, "/watch@paperwatch_bot diffusion", ann)
    assert "✓ Watching “diffusion” (#1)" in ok.plain
    await fake.push_command(group, "/watch@otherbot robotics", ann)  # not for us: ignored
    listing = await say(fake, group, "/watches", bob)  # reading is for everyone
    assert listing.plain.split("\n") == ["Watches (1)", "1. diffusion — 0 hits"]
    daily = await say(fake, group, "/daily on 07:30 Europe/Paris top 5 min 3 video", cy)
    assert daily.plain == ("✓ Daily trending post at 07:30 Europe/Paris: top 5, at least 3 "
                           "upvotes, topic “video”.")
    asked = [(c["chat_id"], c["user_id"]) for c in fake.method_calls("getChatMember")]
    assert asked == [("-1001234", "502"), ("-1001234", "501"), ("-1001234", "503")]

    await ingest(app, tmp_path, paper_item("2601.00002", "Video diffusion at scale"))
    await app.flush_deliveries()
    alert = fake.accepted(group["id"])[-1]
    assert alert.plain.startswith("Video diffusion at scale")
    assert fake.accepted(ann["id"]) == [] and fake.accepted(bob["id"]) == []
    no = await press(fake, alert, "Unwatch “diffusion”", bob)
    assert no["text"].startswith("Only this chat's admins") and no["show_alert"] == "true"
    yes = await press(fake, alert, "Unwatch “diffusion”", ann)
    assert yes["text"] == "✓ Stopped watching “diffusion”."


async def test_when_the_admin_check_fails_nothing_changes(telegram, fake):
    group = chat(-1008888, "supergroup")
    fake.fail("getChatMember", group["id"], FakeError(500, "Internal Server Error"))
    reply = await say(fake, group, "/watch graphs", user(501))
    assert reply.plain.startswith("I couldn't check whether you are an admin here")
    assert "No watches yet" in (await say(fake, group, "/watches", user(501))).plain


async def test_anonymous_group_admin_may_configure_without_a_member_lookup(telegram, fake):
    group = chat(-1007777, "supergroup")
    update = fake.command_update(group, "/watch graphs", user(1087968824, "Group"))
    update["message"]["sender_chat"] = group  # posted "as the group" by an anonymous admin
    await fake.push_update(update)
    reply = await fake.next_sent(group["id"], after=0, timeout=WAIT)
    assert "✓ Watching “graphs”" in reply.plain
    assert fake.method_calls("getChatMember") == []


async def test_channel_posts_configure_the_channel(app, telegram, fake, tmp_path):
    channel = chat(-1009999, "channel", "Paper feed")
    reply = await say(fake, channel, "/watch protein folding")
    assert "✓ Watching “protein folding”" in reply.plain
    assert "reply_parameters" not in reply.params
    daily = await say(fake, channel, "/daily on 08:00 UTC top 3")
    assert daily.plain.startswith("✓ Daily trending post at 08:00 UTC: top 3")
    assert fake.method_calls("getChatMember") == []
    assert (await chat_row(app, "-1009999")).kind == "channel"
    await ingest(app, tmp_path, paper_item("2601.00003", "Protein folding with less data"))
    await app.flush_deliveries()
    alert = fake.accepted(channel["id"])[-1]
    assert alert.plain.startswith("Protein folding with less data")
    assert alert.buttons() == []  # subscribers would see buttons only admins may use


# --- webhook mode -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_webhook_mode_accepts_only_updates_with_the_secret(app, fake):
    port = free_port()
    config = tg_config(fake, mode="webhook", webhook_listen="127.0.0.1", webhook_port=port,
                       webhook_path="/tg-hook", webhook_url="https://bot.example.org/tg-hook",
                       webhook_secret="s3cret-Token_1")
    adapter = TelegramAdapter(config, app.commands)
    await asyncio.wait_for(adapter.start(), WAIT)
    try:
        assert fake.webhook is not None
        assert fake.webhook["url"] == "https://bot.example.org/tg-hook"
        assert fake.webhook["secret_token"] == "s3cret-Token_1"
        fake.set_webhook_target(f"http://127.0.0.1:{port}/tg-hook")
        update = fake.command_update(PRIVATE, "/watch federated learning")
        assert await fake.post_webhook(update, secret=None) == 403
        assert await fake.post_webhook(update, secret="wrong") == 403
        assert await fake.post_webhook(update, secret="s3cret-Token_1") == 200
        reply = await fake.next_sent(42, after=0, timeout=WAIT)
        assert "✓ Watching “federated learning” (#1)" in reply.plain
        assert len(fake.accepted(42)) == 1  # the refused posts did nothing
        assert "getUpdates" not in [name for name, _ in fake.calls]
    finally:
        await asyncio.wait_for(adapter.stop(), WAIT)


async def test_webhook_without_a_configured_secret_registers_a_random_one(app, fake):
    config = tg_config(fake, mode="webhook", webhook_listen="127.0.0.1",
                       webhook_port=free_port(), webhook_url="https://bot.example.org/telegram")
    adapter = TelegramAdapter(config, app.commands)
    await asyncio.wait_for(adapter.start(), WAIT)
    try:
        secret = fake.webhook["secret_token"]
        assert len(secret) >= 32 and secret == adapter.webhook_secret
    finally:
        await asyncio.wait_for(adapter.stop(), WAIT)


async def test_webhook_secret_with_characters_telegram_refuses_stops_start(app, fake):
    config = tg_config(fake, mode="webhook", webhook_url="https://x.example/t",
                       webhook_secret="has spaces!")
    with pytest.raises(ValueError, match="WEBHOOK_SECRET"):
        await TelegramAdapter(config, app.commands).start()
    assert fake.calls == []


# --- refusals on send, through the delivery worker ------------------------------------------


async def _watching(fake, where=PRIVATE, sender=ANN, query="federated learning") -> None:
    assert "✓ Watching" in (await say(fake, where, f"/watch {query}", sender)).plain


async def test_blocked_by_the_user_stops_sending_until_start(app, telegram, fake, tmp_path):
    await _watching(fake)
    fake.fail("sendMessage", 42, FakeError.forbidden())
    await ingest(app, tmp_path, paper_item("2601.00010", "Federated learning one"))
    await app.flush_deliveries()
    [row] = await rows(app)
    assert row.state == "failed" and "bot was blocked by the user" in row.last_error
    chat_state = await chat_row(app, "42")
    assert chat_state.state == "blocked" and "blocked by the user" in chat_state.state_reason

    attempts = len(fake.method_calls("sendMessage"))
    await ingest(app, tmp_path, paper_item("2601.00011", "Federated learning two"), name="b.jsonl")
    await app.flush_deliveries()
    assert len(fake.method_calls("sendMessage")) == attempts  # not even tried

    assert "Welcome back" in (await say(fake, PRIVATE, "/start")).plain
    await ingest(app, tmp_path, paper_item("2601.00012", "Federated learning three"),
                 name="c.jsonl")
    await app.flush_deliveries()
    assert fake.accepted(42)[-1].plain.startswith("Federated learning three")
    assert (await chat_row(app, "42")).state == "active"


async def _membership(app, fake, where: dict, status: str, sender: dict, expect: str):
    """Telegram tells the bot its own membership changed; wait until the chat row shows it."""
    bot = fake._me()
    await fake.push_update({"my_chat_member": {
        "chat": where, "from": sender, "date": 1_790_000_000,
        "old_chat_member": {"user": bot, "status": "member"},
        "new_chat_member": {"user": bot, "status": status, "until_date": 0}}})
    for _ in range(int(WAIT / 0.02)):
        row = await chat_row(app, str(where["id"]))
        if row.state == expect:
            return row
        await asyncio.sleep(0.02)
    raise AssertionError(f"chat {where['id']} never became {expect}")


async def test_a_block_is_known_before_any_send_and_an_unblock_needs_no_start(
        app, telegram, fake, tmp_path):
    await _watching(fake)
    row = await _membership(app, fake, PRIVATE, "kicked", ANN, expect="blocked")
    assert row.state_reason == "bot was blocked by the user"
    await ingest(app, tmp_path, paper_item("2601.00020", "Federated learning, while blocked"))
    assert await rows(app) == []  # a blocked chat is not even matched: nothing queued
    await _membership(app, fake, PRIVATE, "member", ANN, expect="active")
    await ingest(app, tmp_path, paper_item("2601.00021", "Federated learning, back"),
                 name="b.jsonl")
    await app.flush_deliveries()
    assert fake.accepted(42)[-1].plain.startswith("Federated learning, back")


async def test_removed_from_a_group_stops_its_alerts(app, telegram, fake, tmp_path):
    group = chat(-777, "supergroup", "Lab")
    fake.set_member(-777, 501, "creator")
    await _watching(fake, group, user(501, "Bo"), "diffusion")
    row = await _membership(app, fake, group, "left", user(501, "Bo"), expect="blocked")
    assert row.state_reason == "bot was removed from the chat (left)"


async def test_group_upgraded_to_supergroup_moves_its_watches_and_resends(
        app, telegram, fake, tmp_path):
    old = chat(-555, "group", "Reading group")
    ann = user(501, "Ann")
    fake.set_member(-555, 501, "creator")
    await _watching(fake, old, ann, "diffusion")
    fake.fail("sendMessage", -555, FakeError.migrated(-100555))
    await ingest(app, tmp_path, paper_item("2601.00020", "Diffusion everywhere"))
    await app.flush_deliveries()
    assert fake.accepted(-100555)[-1].plain.startswith("Diffusion everywhere")
    assert (await rows(app))[0].state == "sent"
    new = chat(-100555, "supergroup", "Reading group")
    listing = await say(fake, new, "/watches", ann)
    assert listing.plain.split("\n") == ["Watches (1)", "1. diffusion — 1 hit"]


async def test_rate_limit_hands_the_wait_back_to_the_worker(app, clock, telegram, fake, tmp_path):
    await _watching(fake)
    fake.fail("sendMessage", 42, FakeError.retry_after(7))
    await ingest(app, tmp_path, paper_item("2601.00030", "Federated learning three"))
    await app.flush_deliveries()
    [row] = await rows(app)
    assert row.state == "pending" and row.attempts == 0
    assert (row.next_attempt_at.replace(tzinfo=None) - clock().replace(tzinfo=None)
            ).total_seconds() == 7
    sends = len(fake.method_calls("sendMessage"))
    await app.flush_deliveries()
    assert len(fake.method_calls("sendMessage")) == sends  # not before the wait
    clock.advance(seconds=8)
    await app.flush_deliveries()
    assert fake.accepted(42)[-1].plain.startswith("Federated learning three")


async def test_unparsable_html_falls_back_once_to_plain_text(app, telegram, fake, tmp_path):
    await _watching(fake)
    fake.fail("sendMessage", 42, FakeError.bad_request("can't parse entities: Unsupported "
                                                       "start tag \"x\" at byte offset 3"))
    await ingest(app, tmp_path, paper_item("2601.00040", "Federated learning & more",
                                           githubRepo="https://github.com/a/b"))
    await app.flush_deliveries()
    refused, plain = fake.sent[-2:]
    assert refused.error and refused.parse_mode == "HTML"
    assert plain.error is None and plain.parse_mode is None
    assert plain.text.startswith("Federated learning & more (https://arxiv.org/abs/2601.00040)")
    assert "code: github.com/a/b (https://github.com/a/b)" in plain.text
    assert plain.buttons() == refused.buttons()
    assert (await rows(app))[0].state == "sent"


async def test_a_message_refused_twice_is_recorded_with_the_reason_not_the_chat(
        app, telegram, fake, tmp_path):
    await _watching(fake)
    bad = FakeError.bad_request("can't parse entities: something odd")
    fake.fail("sendMessage", 42, bad, bad)
    await ingest(app, tmp_path, paper_item("2601.00050", "Federated learning four"))
    await app.flush_deliveries()
    assert [s.error is not None for s in fake.sent[-2:]] == [True, True]
    [row] = await rows(app)
    assert row.state != "sent" and "can't parse entities" in row.last_error.lower()
    assert (await chat_row(app, "42")).state == "active"  # the chat itself is fine


@pytest.mark.parametrize(("error", "expected", "detail"), [
    (FakeError.retry_after(12), RateLimited, ("retry_after", 12.0)),
    (FakeError.forbidden("bot was kicked from the supergroup chat"), PermanentSendError,
     ("reason", "telegram: Forbidden: bot was kicked from the supergroup chat")),
    (FakeError.migrated(-100777), ChatMoved, ("new_external_id", "-100777")),
    (FakeError.bad_request("chat not found"), PermanentSendError,
     ("reason", "telegram: Chat not found")),
    (FakeError.bad_request("message is too long"), MessageRejected,
     ("reason", "telegram refused the message: Message is too long")),
    (FakeError(502, "Bad Gateway"), TransientSendError, ("reason", "telegram: NetworkError: "
                                                         "Bad Gateway")),
])
async def test_send_maps_each_refusal_to_the_cores_outcome(app, telegram, fake, error, expected,
                                                           detail):
    fake.fail("sendMessage", 42, error)
    with pytest.raises(expected) as raised:
        await telegram.send(ChatRef("telegram", "42"), OutMessage(RichText.of("hi")))
    name, value = detail
    assert getattr(raised.value, name) == value
    assert len(fake.method_calls("sendMessage")) == 1  # no blind retry


# --- rendering ---------------------------------------------------------------------------

spans = st.builds(Span, text=st.text(min_size=1, max_size=30), bold=st.booleans(),
                  italic=st.booleans(), code=st.booleans(),
                  link=st.one_of(st.none(), st.just("https://x.org/?a=1&b=\"2\""),
                                 st.just("javascript:alert(1)")))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(spans, min_size=1, max_size=5).map(tuple), min_size=1, max_size=5))
def test_any_rich_text_renders_to_html_telegram_parses_back_to_the_same_text(lines):
    text = RichText(tuple(lines))
    source = render_html(text)
    plain, entities = parse_html(source)
    assert plain == text.plain()
    assert measure(text) >= len(plain.encode("utf-16-le")) // 2
    assert all(e.url == "https://x.org/?a=1&b=\"2\"" for e in entities if e.type == "text_link")


def test_long_replies_split_on_lines_within_the_limit():
    body = RichText.of(*[Span(f"line {i} " + "<&>" * 40, bold=i % 2 == 0) for i in range(400)])
    chunks = split_body(body)
    assert len(chunks) > 1 and all(measure(c) <= 4096 for c in chunks)
    assert "\n".join(c.plain() for c in chunks) == body.plain()
    huge = split_body(RichText.of("x" * 10000))
    assert all(measure(c) <= 4096 for c in huge)


def test_buttons_over_64_bytes_of_callback_data_are_left_out():
    markup = keyboard((Button("ok", "/unwatch #12"), Button("long", "/unwatch " + "é" * 40)))
    assert markup is not None
    assert [b.callback_data for row in markup.inline_keyboard for b in row] == ["/unwatch #12"]
