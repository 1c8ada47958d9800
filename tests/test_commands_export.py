"""/export (BibTeX of the last 30 days' alerts, parsed back with bibtexparser), /export
watches and /import (issue 16), through the console chat and the real database."""

from __future__ import annotations

from dataclasses import replace

import bibtexparser
import pytest

from adapters.console import CONSOLE_CHAT
from bot.types import Attachment, ChatRef, Incoming, Reply
from storage import repo
from storage.models import Delivery
from tests.helpers import ScriptedSender, paper_item, write_jsonl

PERSON = ChatRef("telegram", "7001", "user")


@pytest.fixture
def config(config):
    """A watch limit small enough to reach in a test."""
    return replace(config, limits=replace(config.limits, max_watches_per_chat=5))


async def run(app, text: str, chat: ChatRef = CONSOLE_CHAT, file: bytes | None = None,
              is_admin: bool = True) -> Reply:
    attachment = Attachment("watches.txt", file) if file is not None else None
    return await app.commands.dispatch(Incoming(chat, text, is_admin=is_admin,
                                                attachment=attachment))


async def ingest(console, tmp_path, name: str, *items: dict) -> None:
    await console.push(f"/ingest {write_jsonl(tmp_path / name, list(items))}")


def at(clock) -> str:
    return clock().strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_export_holds_every_paper_alerted_in_the_last_30_days(app, console, clock,
                                                                   tmp_path):
    await console.push("/watch diffusion")
    await ingest(console, tmp_path, "old.jsonl", paper_item(
        "2610.00001", "Old diffusion paper", authors=["Ann Old"], published=at(clock)))
    clock.advance(days=31)  # that alert is now older than 30 days
    alerted = [
        paper_item("2612.00002", "Diffusion & friends: $\\alpha$-schedules {for} 100% of you",
                   authors=["Jürgen Müller", "Li Wei"], categories=["cs.LG", "stat.ML"],
                   published=at(clock)),
        paper_item("2612.00003", "Latent diffusion for audio", authors=["Sam O'Neil"],
                   categories=["cs.SD"], published=at(clock)),
    ]
    await ingest(console, tmp_path, "new.jsonl", *alerted,
                 paper_item("2612.00004", "Graph transformers", published=at(clock)))
    assert len(console.sent) == 2  # the old alert and one message for the two new papers

    reply = await run(app, "/export")
    [attachment] = reply.attachments
    assert (attachment.filename, attachment.mime_type) == ("paperwatch-2026-12-25.bib",
                                                           "application/x-bibtex")
    assert reply.ok and "2 papers" in reply.body.plain()
    library = bibtexparser.parse_string(attachment.data.decode("utf-8"))
    assert not library.failed_blocks
    entries = {e["eprint"]: e for e in library.entries}
    assert set(entries) == {"2612.00002", "2612.00003"}
    first, second = entries["2612.00002"], entries["2612.00003"]
    assert first["title"] == "{Diffusion \\& friends: $\\alpha$-schedules {for} 100\\% of you}"
    assert first["author"] == "Jürgen Müller and Li Wei"
    assert second["title"] == "{Latent diffusion for audio}" and second["author"] == "Sam O'Neil"
    for pid, entry in entries.items():
        assert entry["year"] == "2026" and entry["archivePrefix"] == "arXiv"
        assert entry["url"] == f"https://arxiv.org/abs/{pid}"
    assert first["primaryClass"] == "cs.LG"


async def test_export_leaves_out_follow_ups_and_unsent_alerts(app, console, clock, tmp_path):
    await console.push("/watch diffusion")
    await ingest(console, tmp_path, "p.jsonl",
                 paper_item("2612.00002", "Diffusion one", published=at(clock)),
                 paper_item("2612.00003", "Other paper", published=at(clock)),
                 paper_item("2612.00004", "Third paper", published=at(clock)))
    async with app.sessions.begin() as session:
        chat = await repo.get_chat(session, CONSOLE_CHAT)
        assert chat is not None
        now = clock()
        session.add_all([
            Delivery(chat_id=chat.id, paper_id="2612.00003", kind="code", state="sent",
                     sent_at=now, next_attempt_at=now, created_at=now),
            Delivery(chat_id=chat.id, paper_id="2612.00004", kind="alert", state="failed",
                     next_attempt_at=now, created_at=now)])
    [attachment] = (await run(app, "/export")).attachments
    library = bibtexparser.parse_string(attachment.data.decode("utf-8"))
    assert [e["eprint"] for e in library.entries] == ["2612.00002"]


async def test_export_with_nothing_alerted_says_so(app, console):
    for chat in (CONSOLE_CHAT, PERSON):  # a chat with watches, and one never seen
        await console.push("/watch diffusion")
        reply = await run(app, "/export", chat)
        assert reply.attachments == ()
        assert "No alerts in the last 30 days" in reply.body.plain()
    assert "Usage: /export" in (await run(app, "/export everything")).body.plain()


async def test_watches_move_to_another_chat_by_export_and_import(app, console, clock, tmp_path):
    await console.push("/watch federated learning")
    await console.push("/watch au:\"Yann LeCun\" AND cat:cs.LG")
    reply = await run(app, "/export watches")
    [attachment] = reply.attachments
    assert attachment.filename == "paperwatch-watches-2026-11-24.txt"
    lines = attachment.data.decode().splitlines()
    assert lines[2:] == ["federated learning", "au:\"Yann LeCun\" AND cat:cs.LG"]

    imported = await run(app, "/import", PERSON, attachment.data)
    assert imported.ok and "Imported 2 watches; 0 skipped" in imported.body.plain()
    listing = (await run(app, "/watches", PERSON)).body.plain()
    assert "1. federated learning" in listing and "2. au:\"Yann LeCun\" AND cat:cs.LG" in listing
    again = await run(app, "/import", PERSON, attachment.data)
    assert "Imported 0 watches; 2 skipped (already watched), 0 refused" in again.body.plain()
    # the imported watches are live: a matching paper is queued for the person at once
    await ingest(console, tmp_path, "p.jsonl", paper_item(
        "2611.00009", "Federated learning at the edge", published=at(clock)))
    async with app.sessions() as session:
        person = await repo.get_chat(session, PERSON)
        assert person is not None
        counts = await repo.delivery_counts(session, person.id)
    assert sum(counts.values()) == 1


async def test_import_adds_skips_and_refuses_by_line(app, console):
    await console.push("/watch federated learning")
    long_query = "word " * 50  # 250 characters: over the 200 a query may have
    data = "\n".join(["# my watches", "Federated-Learning", "\"unbalanced quote",
                      "graph neural networks", long_query, "", "diffusion -survey",
                      "Graph  Neural-Networks"]).encode()  # the last one: same as line 4
    reply = await run(app, "/import", file=data)
    text = reply.body.plain()
    assert reply.ok
    assert "Imported 2 watches; 1 skipped (already watched), 2 refused." in text
    assert "Refused lines: 3, 5." in text
    listing = (await run(app, "/watches")).body.plain()
    assert "Watches (3)" in listing and "diffusion -survey" in listing


async def test_import_keeps_to_the_watch_limit(app, console):
    for topic in ("one", "two", "three", "four"):
        await console.push(f"/watch topic {topic}")
    data = b"alpha topic\nbeta topic\ngamma topic\n"
    text = (await run(app, "/import", file=data)).body.plain()
    assert "Imported 1 watch; 0 skipped (already watched), 2 refused." in text
    assert "The limit is 5 watches a chat." in text and "Refused lines: 2, 3." in text
    assert "Watches (5)" in (await run(app, "/watches")).body.plain()


@pytest.mark.parametrize("data", [b"\"open\n(unbalanced\n", b"# only comments\n\n",
                                  b"x" * 70_000])
async def test_an_import_without_one_good_line_changes_nothing(app, console, data):
    await console.push("/watch diffusion")
    reply = await run(app, "/import", file=data)
    assert not reply.ok and "Imported" not in reply.body.plain()
    assert "Watches (1)" in (await run(app, "/watches")).body.plain()


async def test_import_refusals_name_the_lines(app):
    text = (await run(app, "/import", file=b"ok\n\"open\n(unbalanced\n")).body.plain()
    assert "Refused lines: 2, 3." in text
    text = (await run(app, "/import", file=b"\"open\n(unbalanced\n")).body.plain()
    assert text.startswith("Nothing was imported") and "Refused lines: 1, 2." in text


async def test_import_without_a_file_says_how_to_send_one(app):
    reply = await run(app, "/import")
    text = reply.body.plain()
    assert not reply.ok
    assert "caption /import" in text and "file option" in text


async def test_import_in_a_group_needs_an_admin(app):
    group = ChatRef("telegram", "-100", "group")
    refused = await run(app, "/import", group, b"robots\n", is_admin=False)
    assert not refused.ok and "admins" in refused.body.plain()
    assert "No watches yet" in (await run(app, "/watches", group)).body.plain()
    allowed = await run(app, "/import", group, b"robots\n", is_admin=True)
    assert "Imported 1 watch" in allowed.body.plain()


async def test_a_blocked_chat_still_gets_its_file_under_the_warning(app, console):
    await console.push("/watch diffusion")
    await app.commands.membership_changed(CONSOLE_CHAT, False, "the bot was blocked")
    reply = await run(app, "/export watches")
    assert reply.body.plain().startswith("Alerts can't reach you: the bot was blocked")
    assert len(reply.attachments) == 1 and reply.ephemeral


async def test_export_adds_the_papers_the_sender_liked(app, console, clock, tmp_path):
    from datetime import UTC, datetime

    from bot.types import Paper

    async def said(text: str, user: str = "7001") -> Reply:
        return await app.commands.dispatch(Incoming(PERSON, text, user_id=user))

    assert "Watching" in (await said("/watch diffusion")).body.plain()
    day = datetime(2026, 11, 20, tzinfo=UTC)
    liked = Paper(id="2611.00501", title="Old graph paper", authors=("Ann Liked",),
                  categories=("cs.LG",), published=day, source="arxiv")
    other = Paper(id="2611.00502", title="Never liked", published=day, source="arxiv")
    await app.pipeline.ingest([liked, other], source="arxiv", alert=False)
    assert "No alerts in the last 30 days and no liked papers" in (
        await said("/export")).body.plain()
    assert (await said("/like 2611.00501")).ok
    assert (await said("/like 2611.00502", user="9999")).ok  # someone else's like
    only_liked = await said("/export")
    [attachment] = only_liked.attachments
    assert "1 paper you were alerted about in the last 30 days or liked (1 liked)" in \
        only_liked.body.plain()
    entries = bibtexparser.parse_string(attachment.data.decode("utf-8")).entries
    assert [(e["eprint"], e["title"], e["author"], e["year"]) for e in entries] == [
        ("2611.00501", "{Old graph paper}", "Ann Liked", "2026")]

    app.add_sender(ScriptedSender(platform="telegram"))  # PERSON's alert goes out
    await ingest(console, tmp_path, "p.jsonl", paper_item(
        "2612.00601", "Diffusion now", published=at(clock)))
    await app.flush_deliveries()
    both = await said("/export")
    entries = bibtexparser.parse_string(both.attachments[0].data.decode("utf-8")).entries
    assert sorted(e["eprint"] for e in entries) == ["2611.00501", "2612.00601"]
    assert "2 papers" in both.body.plain()
