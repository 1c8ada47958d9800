"""The Telegram adapter's concurrency, files and pictures, end to end: the real
python-telegram-bot against the fake Bot API, the real core on a real database.

- updates of different chats run at once: a slow command in one chat (its admin check
  waits on Telegram) does not hold up another chat, and one chat's commands are answered in
  the order they were typed;
- files through the real command layer: `/export watches` answers with a document holding
  the chat's watches, and that document captioned /import in another chat watches the same
  queries (downloaded through getFile); `/export` is a BibTeX document (parsed with
  bibtexparser) of every alerted paper; a document over 64 KB is refused before any
  download, and a document with another caption is no command;
- an alert's image is its link preview, shown above the text; none without an image.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import bibtexparser
import pytest

from adapters.telegram_bot import MAX_IMPORT_BYTES, TelegramAdapter
from bot.config import TelegramConfig
from bot.types import ChatRef, OutMessage, RichText
from storage import repo
from tests.fakes.telegram_api import FakeTelegramAPI, chat, user
from tests.helpers import paper_item, write_jsonl

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


async def watches_of(app, ref: ChatRef) -> list[str]:
    async with app.sessions() as session:
        chat = await repo.get_chat(session, ref)
        return [w.query for w in await repo.active_watches(session, chat.id)] if chat else []


def queries_in(data: bytes) -> list[str]:
    """The queries of a watch file (comment lines left out)."""
    return [line for line in data.decode("utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


async def typed(fake: FakeTelegramAPI, who: dict, text: str, where: dict | None = None) -> str:
    """Type a command in a chat (default: the person's private chat); the bot's answer."""
    place = where or chat(who["id"])
    seen = len(fake.accepted(place["id"]))
    await fake.push_command(place, text, who)
    return (await fake.next_sent(place["id"], after=seen, timeout=WAIT)).plain


QUERIES = ["diffusion", '"large language model" AND safety']


async def test_export_watches_is_a_document_and_import_in_another_chat_adds_them(
        app, telegram, fake):
    ann, bob = user(31, "Ann"), user(35, "Bob")
    for query in QUERIES:
        assert "Watching" in await typed(fake, ann, f"/watch {query}")
    answer = await typed(fake, ann, "/export watches")
    assert "Your 2 watches, one a line" in answer
    document = await fake.next_document(ann["id"], timeout=WAIT)
    assert document.filename.startswith("paperwatch-watches-")
    assert document.filename.endswith(".txt")
    assert queries_in(document.data) == QUERIES == await watches_of(
        app, ChatRef("telegram", str(ann["id"]), "user"))

    # Bob sends that file, captioned /import, in his own chat
    await fake.push_document(chat(bob["id"]), document.filename, document.data,
                             caption="/import@paperwatch_bot", mime_type="text/plain",
                             sender=bob)
    reply = await fake.next_sent(bob["id"], after=0, timeout=WAIT)
    assert "✓ Imported 2 watches; 0 skipped (already watched), 0 refused." in reply.plain
    assert await watches_of(app, ChatRef("telegram", str(bob["id"]), "user")) == QUERIES
    assert len(fake.downloads) == 1 and fake.method_calls("getFile")  # getFile, then the URL


async def test_export_is_a_bibtex_document_of_every_alerted_paper(app, telegram, fake,
                                                                  tmp_path):
    ann = user(36, "Ann")
    assert "Watching" in await typed(fake, ann, "/watch diffusion")
    papers = [paper_item("2611.00101", "Diffusion for proteins", authors=["Ada Lovelace",
                                                                        "Alan Turing"]),
              paper_item("2611.00102", "Video diffusion: {fast} & 100% cheap",
                         authors=["Jürgen Müller"]),
              paper_item("2611.00103", "Graph transformers", authors=["Nobody Else"])]
    await app.ingest_file(write_jsonl(tmp_path / "p.jsonl", papers))
    assert await app.flush_deliveries() == 2  # the alert went out through Telegram
    answer = await typed(fake, ann, "/export")
    assert "2 papers you were alerted about in the last 30 days" in answer
    document = await fake.next_document(ann["id"], timeout=WAIT)
    assert document.filename.endswith(".bib")
    library = bibtexparser.parse_string(document.data.decode("utf-8"))
    assert not library.failed_blocks
    entries = {e["eprint"]: e for e in library.entries}
    assert set(entries) == {"2611.00101", "2611.00102"}
    assert entries["2611.00101"]["title"] == "{Diffusion for proteins}"
    assert entries["2611.00101"]["author"] == "Ada Lovelace and Alan Turing"
    assert entries["2611.00102"]["author"] == "Jürgen Müller"
    assert "Video diffusion" in entries["2611.00102"]["title"]
    for pid, entry in entries.items():
        assert entry["year"] == "2026"
        assert entry["url"] == f"https://arxiv.org/abs/{pid}"


async def test_a_document_over_64_kb_is_refused_without_downloading(app, telegram, fake):
    ann = user(33, "Ann")
    await fake.push_document(chat(ann["id"]), "huge.txt", b"diffusion\n",
                             caption="/import", sender=ann, file_size=MAX_IMPORT_BYTES + 1)
    reply = await fake.next_sent(ann["id"], after=0, timeout=WAIT)
    assert "64 KB" in reply.plain and "Nothing was imported" in reply.plain
    assert fake.downloads == [] and fake.method_calls("getFile") == []
    assert await watches_of(app, ChatRef("telegram", str(ann["id"]), "user")) == []


async def test_a_document_with_another_caption_is_not_a_command(app, telegram, fake):
    ann = user(34, "Ann")
    await fake.push_document(chat(ann["id"]), "notes.txt", b"diffusion\n",
                             caption="look at this", sender=ann)
    await fake.push_command(chat(ann["id"]), "/help", ann)  # a marker: handled after it
    first = await fake.next_sent(ann["id"], after=0, timeout=WAIT)
    assert "/watch" in first.plain  # the /help answer: the document got none before it
    assert fake.downloads == []
    assert await watches_of(app, ChatRef("telegram", str(ann["id"]), "user")) == []


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
