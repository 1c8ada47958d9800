"""/foryou end to end on the real sample: Ann watches federated learning in titles only,
likes three federated-learning papers and dislikes three vision papers; at her time the
daily task queues the papers of the last day that her watch did not match, federated
learning first, each with its top words, and the delivery worker sends them once; a
restart or a second round queues nothing more; Bob, without likes, gets nothing."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from bot.delivery.foryou import ForYouPoster
from bot.ranking.types import Person
from bot.types import ChatRef, Incoming
from storage import repo
from storage.models import Delivery
from storage.repo import feedback_refs as refs
from tests.helpers import ScriptedSender
from tests.ranking_sample import FL, IS_FL, SAMPLE, VISION

ANN = ChatRef("test", "ann")
BOB = ChatRef("test", "bob")


async def say(app, text: str, chat: ChatRef = ANN) -> str:
    reply = await app.commands.dispatch(Incoming(chat, text, user_id=chat.external_id))
    return reply.body.plain()


async def rows_of_kind(app, kind: str) -> list[tuple[str, str]]:
    async with app.sessions() as session:
        rows = await session.execute(select(Delivery.paper_id, Delivery.state)
                                     .where(Delivery.kind == kind).order_by(Delivery.id))
        return [tuple(r) for r in rows]


async def test_foryou_proposes_liked_kind_papers_no_watch_matched(app, clock):
    sender = ScriptedSender(platform="test")
    app.add_sender(sender)
    assert "Watching" in await say(app, '/watch ti:"federated learning"')
    await say(app, '/watch ti:"federated learning"', BOB)
    await app.pipeline.ingest(SAMPLE, source="hf", alert=True)
    await app.flush_deliveries()
    alerted = {p for p, _ in await rows_of_kind(app, "alert")}
    assert alerted and alerted < IS_FL  # the watch misses some federated papers
    liked = [p for p in FL if p.id in alerted][:3]
    for paper in liked:
        await say(app, f"/like {paper.id}")
    for paper in VISION[:3]:
        await say(app, f"/dislike {paper.id}")
    assert "first today" in await say(app, "/foryou on 18:00")
    assert "first today" in await say(app, "/foryou on 18:00", BOB)
    poster = ForYouPoster(app.sessions, app.ranking, clock, on_enqueued=app.delivery.notify)
    assert await poster.run_once() == 0  # 12:00: not yet
    clock.advance(hours=6, minutes=1)
    queued = await poster.run_once()
    assert 1 <= queued <= 5
    picks = await rows_of_kind(app, "foryou")
    picked = [p for p, _ in picks]
    assert not set(picked) & alerted  # no paper a watch of hers matched
    assert not set(picked) & {p.id for p in liked + VISION[:3]}  # nor one she marked
    assert sum(p in IS_FL for p in picked) >= len(picked) - 1, picked
    sent_before = len(sender.sent)
    await app.flush_deliveries()
    [(chat, message)] = sender.sent[sent_before:]
    assert chat == ANN  # Bob has no likes: nothing for him
    text = message.body.plain()
    assert text.startswith(f"✨ For you: {queued} paper")
    words = re.findall(r"— for you: ([^\n]+)", text)
    assert len(words) == queued and all(1 <= len(w.split(", ")) <= 3 for w in words)
    assert any("federated" in w for w in words)
    assert [i.paper_id for i in message.items] == picked
    assert all(state == "sent" for _, state in await rows_of_kind(app, "foryou"))
    # /like 1 now means the first pick
    assert (await say(app, "/like 1")).startswith("👍")
    # once a day: the same day again, or a restarted scheduler, queue nothing
    assert await poster.run_once() == 0
    again = ForYouPoster(app.sessions, app.ranking, clock)
    assert await again.run_once() == 0
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)
                                    .where(Delivery.kind == "foryou")) == queued
    # the next day: nothing new was stored in the last day, so nothing is proposed
    clock.advance(days=1)
    assert await poster.run_once() == 0
    await app.flush_deliveries()
    assert len(sender.sent) == sent_before + 1


async def test_foryou_off_stops_it(app, clock):
    await app.pipeline.ingest(SAMPLE, source="hf", alert=False)
    for paper in FL[:3]:
        await say(app, f"/like {paper.id}")
    await say(app, "/foryou on 18:00")
    assert "off" in await say(app, "/foryou off")
    clock.advance(hours=7)
    assert await ForYouPoster(app.sessions, app.ranking, clock).run_once() == 0
    assert await rows_of_kind(app, "foryou") == []


async def test_the_repo_functions_on_this_database(app, clock):
    """storage.repo.feedback_refs directly, on SQLite and PostgreSQL."""
    await app.pipeline.ingest(SAMPLE[:6], source="hf", alert=False)
    assert "Europe/Paris" in await say(app, "/timezone Europe/Paris")
    ann = Person("test", "ann")
    async with app.sessions.begin() as session:
        chat = await repo.get_chat(session, ANN)
        assert chat is not None
        await refs.record_sent_items(session, chat.id, [(1, SAMPLE[0].id), (2, SAMPLE[1].id)],
                                     clock())
        await refs.record_sent_items(session, chat.id, [(3, SAMPLE[2].id)], clock(),
                                     replace=False)  # a continuation adds
    async with app.sessions.begin() as session:
        assert await refs.sent_items(session, chat.id) == {
            1: SAMPLE[0].id, 2: SAMPLE[1].id, 3: SAMPLE[2].id}
        await refs.record_sent_items(session, chat.id, [(1, SAMPLE[3].id)], clock())
        assert await refs.sent_items(session, chat.id) == {1: SAMPLE[3].id}
        await refs.set_foryou(session, ann, chat.id, True, "07:15", clock())
        await refs.set_foryou(session, ann, chat.id, True, None, clock())  # keeps the time
        setting = await refs.foryou_of(session, ann)
        assert setting is not None and setting.post_time == "07:15"
        assert setting.timezone == "Europe/Paris" and setting.enabled
        assert [s.person for s in await refs.foryou_enabled(session)] == [ann]
    day = clock().date()

    async def take() -> bool:
        async with app.sessions.begin() as session:
            return await refs.take_foryou_day(session, ann, day)

    assert sorted(await asyncio.gather(take(), take())) == [False, True]  # once, racing
    async with app.sessions.begin() as session:
        picks = [(SAMPLE[4].id, ("a", "b")), (SAMPLE[5].id, ("c",))]
        assert await refs.enqueue_foryou(session, chat.id, picks, clock()) == 2
        assert await refs.enqueue_foryou(session, chat.id, picks, clock()) == 0  # never twice
        assert await refs.matched_since(session, chat.id, clock()) == set()
