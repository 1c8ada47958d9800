"""Follow-up deliveries (issue 16): rows of kind "code", "trending" or "revised" about a
paper the chat was alerted about go out as update lines, coalesced with new alerts in
one message, in digests too, and never twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from adapters.console import CONSOLE_CHAT
from bot.types import Incoming
from storage import repo
from storage.models import Delivery
from tests.helpers import ScriptedSender, paper_item, write_jsonl


async def say(app, text: str) -> str:
    reply = await app.commands.dispatch(Incoming(CONSOLE_CHAT, text))
    assert reply.ok, reply.body.plain()
    return reply.body.plain()


async def ingest(app, tmp_path, name: str, items: list[dict]) -> None:
    await app.ingest_file(write_jsonl(tmp_path / name, items))


async def follow_up(app, clock, paper_id: str, kind: str, why=()) -> int:
    """What the ingest pipeline writes when a refresh crossed a follow-up threshold."""
    async with app.sessions.begin() as session:
        chat = await repo.find_chat(session, CONSOLE_CHAT)
        return await repo.enqueue_deliveries(session, [{
            "chat_id": chat.id, "paper_id": paper_id, "kind": kind, "watch_ids": [],
            "why": [list(pair) for pair in why], "next_attempt_at": clock(),
            "created_at": clock()}])


def alerted_paper(pid: str, title: str, **extra: object) -> dict:
    return paper_item(pid, title, "We fold proteins. " * 3, authors=["Ada Lovelace"], **extra)


async def _alerted_once(app, clock, tmp_path, sender) -> None:
    await say(app, "/watch protein folding")
    await ingest(app, tmp_path, "a.jsonl", [
        alerted_paper("2601.00001v2", "Protein folding with code", githubRepo=
                      "https://github.com/fold/fast", githubStars=1234, upvotes=73),
    ])
    await app.flush_deliveries()
    assert len(sender.sent) == 1
    clock.advance(minutes=10)


async def test_updates_ride_along_with_new_alerts_in_one_message(app, clock, tmp_path):
    sender = ScriptedSender()
    app.add_sender(sender)
    await _alerted_once(app, clock, tmp_path, sender)
    await ingest(app, tmp_path, "b.jsonl", [alerted_paper("2601.00002", "Protein folding B"),
                                            alerted_paper("2601.00003", "Protein folding C")])
    assert await follow_up(app, clock, "2601.00001", "code") == 1
    assert await follow_up(app, clock, "2601.00001", "trending") == 1
    assert await follow_up(app, clock, "2601.00001", "revised", [("changed", "title")]) == 1
    assert await app.flush_deliveries() == 5
    assert len(sender.sent) == 2
    text = sender.sent[1][1].body.plain()
    lines = text.split("\n")
    assert lines[0] == "🔔 2 new papers, 3 updates"
    assert "1. Protein folding B" in text and "2. Protein folding C" in text
    assert ("3. ↻ Protein folding with code — now has code: github.com/fold/fast ★ 1.2k"
            in lines)
    assert "4. ↑ Protein folding with code — trending: 73 upvotes" in lines
    assert "5. ✎ Protein folding with code — new version v2: title changed" in lines
    links = [s.link for line in sender.sent[1][1].body.lines for s in line if s.link]
    assert "https://github.com/fold/fast" in links
    async with app.sessions() as session:
        states = {(r.kind, r.state) for r in await session.scalars(select(Delivery))}
    assert states == {("alert", "sent"), ("code", "sent"), ("trending", "sent"),
                      ("revised", "sent")}


async def test_a_follow_up_is_delivered_once_even_when_enqueued_again(app, clock, tmp_path):
    sender = ScriptedSender()
    app.add_sender(sender)
    await _alerted_once(app, clock, tmp_path, sender)
    assert await follow_up(app, clock, "2601.00001", "code") == 1
    await app.flush_deliveries()
    assert await follow_up(app, clock, "2601.00001", "code") == 0  # (chat, paper, kind) once
    clock.advance(hours=1)
    await app.flush_deliveries()
    assert len(sender.sent) == 2
    only = sender.sent[1][1]
    assert only.title == "🔔 1 update"
    assert only.body.plain().split("\n") == [
        "🔔 1 update",
        "1. ↻ Protein folding with code — now has code: github.com/fold/fast ★ 1.2k"]


async def test_digests_include_the_updates(app, clock, tmp_path):
    sender = ScriptedSender()
    app.add_sender(sender)
    await _alerted_once(app, clock, tmp_path, sender)
    await say(app, "/mode daily 08:00")
    await ingest(app, tmp_path, "b.jsonl", [alerted_paper("2601.00002", "Protein folding B")])
    await follow_up(app, clock, "2601.00001", "revised")
    await app.flush_deliveries()
    assert len(sender.sent) == 1  # held for the digest
    clock.now = clock.now.replace(hour=8, minute=0) + timedelta(days=1)
    await app.flush_deliveries()
    text = sender.sent[1][1].body.plain()
    assert text.startswith("Your daily digest: 1 new paper, 1 update")
    assert "1. Protein folding B" in text
    assert "2. ✎ Protein folding with code — new version v2" in text
