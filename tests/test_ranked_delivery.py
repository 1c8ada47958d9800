"""Coalesced alerts ranked for their person, on the real sample: after Ann likes three
federated-learning papers and dislikes three vision papers, her next coalesced alert of
mixed papers lists federated learning first, the best starred, every keyword hit still
there; a person without feedback (or with fewer than 3 likes) gets exactly today's message,
the one a worker without ranking sends."""

from __future__ import annotations

import re
from dataclasses import replace

from sqlalchemy import select

from bot.app import App
from bot.ranking.types import LIKE, Person
from bot.types import ChatRef, Incoming, OutMessage
from storage import feedback as fb
from storage.models import Chat, Delivery
from tests.helpers import ScriptedSender
from tests.ranking_sample import FL, IS_FL, IS_VISION, OTHERS, VISION

ANN = ChatRef("test", "ann")
BOB = ChatRef("test", "bob")
WATCH = "federated OR image OR vision OR visual OR segmentation OR learning"
POOL = FL[:3] + VISION[:3]  # what Ann marks
MIXED = [p for trio in zip(OTHERS[:5], VISION[3:8], FL[3:8], strict=True) for p in trio]


async def say(app: App, text: str, chat: ChatRef) -> str:
    reply = await app.commands.dispatch(Incoming(chat, text, user_id=chat.external_id))
    return reply.body.plain()


def sent_to(sender: ScriptedSender, chat: ChatRef) -> list[OutMessage]:
    return [m for c, m in sender.sent if c == chat]


async def ranked_scenario(app: App, people: list[ChatRef], marking: dict[ChatRef, int]
                          ) -> ScriptedSender:
    """Everyone watches WATCH; the pool is published and alerted; each person in `marking`
    likes that many pool FL papers and dislikes the pool's vision papers; then the mixed
    papers are published and alerted."""
    sender = ScriptedSender(platform="test")
    app.add_sender(sender)
    for chat in people:
        assert "Watching" in await say(app, f"/watch {WATCH}", chat)
    await app.pipeline.ingest(POOL, source="hf", alert=True)
    await app.flush_deliveries()
    for chat, likes in marking.items():
        for paper in FL[:likes]:
            assert (await say(app, f"/like {paper.id}", chat)).startswith("👍")
        for paper in VISION[:3]:
            assert (await say(app, f"/dislike {paper.id}", chat)).startswith("👎")
    await app.pipeline.ingest(MIXED, source="hf", alert=True)
    await app.flush_deliveries()
    return sender


async def test_the_liked_kind_comes_first_and_no_keyword_hit_is_dropped(app):
    sender = await ranked_scenario(app, [ANN], {ANN: 3})
    message = sent_to(sender, ANN)[-1]
    ids = [item.paper_id for item in message.items]
    async with app.sessions() as session:
        rows = await session.scalars(select(Delivery.paper_id).join(Chat, Chat.id == Delivery.chat_id).where(
            Chat.external_id == "ann", Delivery.paper_id.in_([p.id for p in MIXED])))
        matched = set(rows)
    assert len(matched) >= 10
    assert sorted(ids) == sorted(matched)  # the model drops nothing the watch matched
    assert ids[0] in IS_FL and sum(pid in IS_FL for pid in ids[:5]) >= 4, ids
    fl_places = [i for i, pid in enumerate(ids) if pid in IS_FL]
    vision_places = [i for i, pid in enumerate(ids) if pid in IS_VISION]
    assert sum(fl_places) / len(fl_places) < sum(vision_places) / len(vision_places)
    lines = message.body.plain().splitlines()
    starred = [line for line in lines if re.match(r"\d+\. ★ ", line)]
    assert starred and all(any(p.title[:30] in line for p in FL) for line in starred)
    assert lines[1].startswith("1. ★ ")  # the best one is item 1 and starred
    # each starred paper says why: its top words for Ann
    assert all(re.search(r" · for you: \w+", line) for line in starred), starred
    assert not any("for you:" in line for line in lines if "★" not in line)
    # /like 1 now means the best-ranked paper
    assert (await say(app, "/like 1", ANN)).startswith("👍")
    async with app.sessions() as session:
        marks = await fb.feedback_of(session, Person("test", "ann"))
    assert ids[0] in {m.paper_id for m in marks if m.value == LIKE}


async def test_without_feedback_the_message_is_exactly_todays(app, config, clock, tmp_path):
    ranked = await ranked_scenario(app, [ANN, BOB], {ANN: 3, BOB: 2})
    # today's bot: the same scenario on another database, with no ranking in the worker
    plain_config = replace(config, database=replace(
        config.database, url=f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}"))
    async with App(plain_config, clock=clock) as plain:
        plain.delivery.ranking = None
        unranked = await ranked_scenario(plain, [ANN, BOB], {})
    for chat in (BOB,):  # two likes: no model yet
        assert sent_to(ranked, chat) == sent_to(unranked, chat)
    assert sent_to(ranked, ANN)[0] == sent_to(unranked, ANN)[0]  # before the marks
    assert sent_to(ranked, ANN)[-1] != sent_to(unranked, ANN)[-1]  # after them
    assert "★" not in "".join(m.body.plain() for m in sent_to(ranked, BOB))
