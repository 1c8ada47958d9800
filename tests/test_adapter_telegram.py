"""The Telegram adapter's concurrency, files and pictures, end to end: the real
python-telegram-bot against the fake Bot API, the real core on a real database.

- updates of different chats run at once: a slow command in one chat (its admin check
  waits on Telegram) does not hold up another chat, and one chat's commands are answered in
  the order they were typed;
- a reply's attachments arrive as documents; a document captioned /import reaches the
  command layer with its bytes (downloaded through getFile), and one over 64 KB is refused
  before any download;
- an alert's image is its link preview, shown above the text; none without an image.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from adapters.telegram_bot import MAX_IMPORT_BYTES, TelegramAdapter
from bot.config import TelegramConfig
from bot.types import Attachment, ChatRef, OutMessage, RichText
from tests.fakes.telegram_api import FakeTelegramAPI, chat, user
from tests.helpers import FileCommands

WAIT = 10.0  # an upper bound on any one wait, never a timing assertion
SLOW = 1.5  # seconds Telegram takes to answer the slow chat's admin check




@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegramAPI]:
    async with FakeTelegramAPI() as api:
        yield api


def tg_config(fake: FakeTelegramAPI, **changes: object) -> TelegramConfig:
    return replace(TelegramConfig(enabled=True, api_base_url=fake.base_url, token=fake.token),
                   **changes)


def json_param(value: object) -> dict:
    """A Bot API parameter as sent: an object in a JSON body, a string in a form."""
    return value if isinstance(value, dict) else json.loads(str(value))


async def started(adapter: TelegramAdapter) -> TelegramAdapter:
    await asyncio.wait_for(adapter.start(), WAIT)
    return adapter


@pytest.fixture
async def telegram(app, fake) -> AsyncIterator[TelegramAdapter]:
    adapter = await started(TelegramAdapter(tg_config(fake), app.commands, poll_timeout=5))
    app.add_sender(adapter)
    yield adapter
    await asyncio.wait_for(adapter.stop(), WAIT)


@pytest.fixture
async def files(app, fake) -> AsyncIterator[tuple[TelegramAdapter, FileCommands]]:
    commands = FileCommands(app.commands, ephemeral=False)
    adapter = await started(TelegramAdapter(tg_config(fake), commands,  # type: ignore[arg-type]
                                            poll_timeout=5))
    yield adapter, commands
    await asyncio.wait_for(adapter.stop(), WAIT)


# --- concurrency ---------------------------------------------------------------------


async def test_a_slow_chat_does_not_delay_another_and_each_chat_keeps_its_order(
        telegram, fake):
    group = chat(-1005555, "supergroup", "slow group")
    ann, bob = user(11, "Ann"), user(22, "Bob")
    fake.set_member(group["id"], ann["id"], "administrator")
    fake.delay("getChatMember", group["id"], SLOW)  # /watch there waits on the admin check

    began = time.monotonic()
    await fake.push_command(group, "/watch diffusion", ann)
    await fake.push_command(group, "/watches", ann)  # not admin-only: no wait of its own
    await fake.push_command(chat(bob["id"]), "/help", bob)

    other = await fake.next_sent(bob["id"], after=0, timeout=WAIT)
    answered_other = time.monotonic() - began
    assert fake.accepted(group["id"]) == [], "chat B was answered only after chat A"
    assert "/watch" in other.plain

    await fake.wait_for(lambda: len(fake.accepted(group["id"])) >= 2, WAIT)
    first, second = fake.accepted(group["id"])[:2]
    assert "diffusion" in first.plain and "/watches" not in first.plain
    assert "diffusion" in second.plain, "/watches was answered before the /watch before it"
    assert answered_other < SLOW


async def test_the_concurrency_bound_comes_from_the_config(app, fake):
    adapter = TelegramAdapter(tg_config(fake, concurrent_updates=3), app.commands,
                              poll_timeout=5)
    await started(adapter)
    try:
        assert adapter.application is not None
        assert adapter.application.update_processor.max_concurrent_updates == 3
    finally:
        await adapter.stop()


# --- files ---------------------------------------------------------------------------


async def test_a_reply_attachment_arrives_as_a_document_after_the_text(files, fake):
    ann = user(31, "Ann")
    await fake.push_command(chat(ann["id"]), "/export watches", ann)
    document = await fake.next_document(ann["id"], timeout=WAIT)
    assert document.filename == "watches.txt"
    assert document.data == b"diffusion\nvideo\n"
    text = fake.accepted(ann["id"])
    assert text and "one query a line" in text[0].plain


async def test_a_document_captioned_import_reaches_the_command_with_its_bytes(files, fake):
    _adapter, commands = files
    ann = user(32, "Ann")
    content = b"diffusion\n\"large language model\" AND safety\n"
    await fake.push_document(chat(ann["id"]), "my watches.txt", content,
                             caption="/import@paperwatch_bot", mime_type="text/plain",
                             sender=ann)
    reply = await fake.next_sent(ann["id"], after=0, timeout=WAIT)
    assert reply.plain == "Imported."
    [incoming] = commands.imports
    assert incoming.text == "/import@paperwatch_bot"
    assert incoming.chat == ChatRef("telegram", str(ann["id"]), "user")
    assert incoming.attachment == Attachment("my watches.txt", content, "text/plain")
    assert fake.downloads == ["documents/file1.txt"]  # through getFile, then the file URL


async def test_a_document_over_64_kb_is_refused_without_downloading(files, fake):
    _adapter, commands = files
    ann = user(33, "Ann")
    await fake.push_document(chat(ann["id"]), "huge.txt", b"x" * 10,
                             caption="/import", sender=ann, file_size=MAX_IMPORT_BYTES + 1)
    reply = await fake.next_sent(ann["id"], after=0, timeout=WAIT)
    assert "64 KB" in reply.plain and "Nothing was imported" in reply.plain
    assert commands.imports == [] and fake.downloads == []
    assert fake.method_calls("getFile") == []


async def test_a_document_with_another_caption_is_not_a_command(files, fake):
    _adapter, commands = files
    ann = user(34, "Ann")
    await fake.push_document(chat(ann["id"]), "notes.txt", b"hello", caption="look at this",
                             sender=ann)
    await fake.push_command(chat(ann["id"]), "/help", ann)  # a marker: handled after it
    await fake.next_sent(ann["id"], after=0, timeout=WAIT)
    assert commands.imports == [] and fake.downloads == []


# --- pictures ------------------------------------------------------------------------


async def test_an_alert_image_is_its_link_preview_above_the_text(telegram, fake):
    target = ChatRef("telegram", "41", "user")
    image = "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2411.00001.png"
    await telegram.send(target, OutMessage(RichText.of("A paper"), image_url=image))
    await telegram.send(target, OutMessage(RichText.of("Another paper")))
    with_image, without = fake.accepted(41)
    preview = json_param(with_image.params["link_preview_options"])
    assert preview["url"] == image and preview["show_above_text"] is True
    assert not preview.get("is_disabled")
    assert json_param(without.params["link_preview_options"]) == {"is_disabled": True}
