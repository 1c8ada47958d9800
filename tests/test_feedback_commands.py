"""/like, /dislike, /unlike, /likes, /more and /foryou through the real command set, the
real delivery worker and a real database, on the real sample (the 70 papers of one
Hugging Face day): REF as an item number of the last message or an arXiv id, marks that
belong to the person who gave them (also in a group), and refusals that store nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.types import ChatRef, Incoming, Reply
from storage import repo
from storage.models import Feedback, ForYouSchedule
from storage.repo import feedback_refs
from tests.helpers import ScriptedSender
from tests.ranking_sample import FL, IS_FL, SAMPLE, VISION

ANN = ChatRef("test", "ann")
GROUP = ChatRef("telegram", "-100500", "group")


@pytest.fixture
def sender(app) -> ScriptedSender:
    sender = ScriptedSender(platform="test")
    app.add_sender(sender)
    return sender


async def run(app, text: str, chat: ChatRef = ANN, user: str | None = None) -> Reply:
    who = chat.external_id if user is None else user
    return await app.commands.dispatch(Incoming(chat, text, user_id=who))


async def say(app, text: str, chat: ChatRef = ANN, user: str | None = None) -> str:
    return (await run(app, text, chat, user)).body.plain()


async def feedback_rows(app) -> list[tuple[str, str, str, int]]:
    async with app.sessions() as session:
        rows = await session.execute(select(Feedback.platform, Feedback.user_id,
                                            Feedback.paper_id, Feedback.value)
                                     .order_by(Feedback.id))
        return [tuple(r) for r in rows]


async def alerted(app, sender: ScriptedSender, papers, watch: str = "federated learning"):
    """Ann watches `watch`, the papers are ingested, the alert is sent; its message."""
    if watch:
        assert "Watching" in await say(app, f"/watch {watch}")
    await app.pipeline.ingest(papers, source="hf", alert=True)
    await app.flush_deliveries()
    return sender.sent[-1][1]


async def test_like_by_item_number_and_by_arxiv_id_then_likes_and_unlike(app, sender):
    message = await alerted(app, sender, FL[:4] + VISION[:2])
    numbers = {item.number: item.paper_id for item in message.items}
    assert len(numbers) == 3 and set(numbers.values()) <= IS_FL
    reply = await say(app, "/like 2")
    assert reply.startswith("👍 Noted") and "1 like so far" in reply
    await say(app, f"/like arXiv:{numbers[3]}v2")  # prefix and version are dropped
    await say(app, f"/dislike {VISION[0].id}")  # not in the message, but stored
    assert await feedback_rows(app) == [("test", "ann", numbers[2], 1),
                                        ("test", "ann", numbers[3], 1),
                                        ("test", "ann", VISION[0].id, -1)]
    likes = await say(app, "/likes")
    assert "2 likes, 1 dislike" in likes and f"/unlike {numbers[2]}" in likes
    assert "👎" in likes and VISION[0].title[:40] in likes
    assert (await say(app, "/unlike 2")).startswith("✓ Took back")
    assert len(await feedback_rows(app)) == 2
    assert "no mark" in await say(app, "/unlike 2")
    # a new mark replaces the old one
    await say(app, f"/like {VISION[0].id}")
    assert ("test", "ann", VISION[0].id, 1) in await feedback_rows(app)
    assert len(await feedback_rows(app)) == 2


async def test_the_last_message_is_remembered_in_the_database(app, sender):
    first = await alerted(app, sender, FL[:3])
    second = await alerted(app, sender, VISION[:2], watch="ti:image OR ti:vision OR ti:visual")
    assert [i.paper_id for i in second.items] != [i.paper_id for i in first.items]
    async with app.sessions() as session:
        chat = await repo.get_chat(session, ANN)
        assert chat is not None
        remembered = await feedback_refs.sent_items(session, chat.id)
    assert remembered == {i.number: i.paper_id for i in second.items}
    over = len(second.items) + 1
    reply = await say(app, f"/like {over}")
    assert f"has no item {over}" in reply
    assert (await say(app, "/like 1")).startswith("👍")
    assert (await feedback_rows(app))[0][2] == second.items[0].paper_id


@pytest.mark.parametrize("arg, why", [
    ("", "Usage: /like REF"),
    ("0", "no item 0"),
    ("7", "has no item 7"),
    ("²", "digits 0-9"),
    ("🙂", "not an item number or an arXiv id"),
    ("1; DROP TABLE feedback", "One paper at a time"),
    ("'OR'1'='1", "not an item number"),
    ("x" * 300, "300 characters long"),
    ("2599.99999", "not stored"),
    ("sample-nope", "not stored"),
    ("1 @bob", "only for yourself"),
    ("1 for bob", "only for yourself"),
    ("<@1234>", "only for yourself"),
])
async def test_refusals_store_nothing(app, sender, arg, why):
    await alerted(app, sender, FL[:3])
    reply = await run(app, f"/like {arg}".rstrip())
    assert not reply.ok and why in reply.body.plain(), reply.body.plain()
    assert await feedback_rows(app) == []


async def test_control_characters_and_huge_lines_are_refused(app, sender):
    await alerted(app, sender, FL[:3])
    assert not (await run(app, "/like 1\x07")).ok
    assert not (await run(app, "/like " + "1" * 2000)).ok
    assert await feedback_rows(app) == []


async def test_no_numbered_message_yet(app):
    reply = await say(app, "/dislike 1")
    assert "haven't sent a numbered message here" in reply
    assert await feedback_rows(app) == []


async def test_marks_in_a_group_belong_to_each_person(app):
    async with app.sessions.begin() as session:
        await repo.insert_new_papers(session, SAMPLE, app.clock())
        chat = await repo.ensure_chat(session, GROUP, app.clock())
        await feedback_refs.record_sent_items(session, chat.id, [(1, FL[0].id), (2, VISION[0].id)],
                                              app.clock())
    assert (await say(app, "/like 1", GROUP, user="1001")).startswith("👍")
    assert (await say(app, "/dislike 1", GROUP, user="1002")).startswith("👎")
    assert await feedback_rows(app) == [("telegram", "1001", FL[0].id, 1),
                                        ("telegram", "1002", FL[0].id, -1)]
    # a channel post or an anonymous admin: nobody to give the mark to
    reply = await run(app, "/like 2", GROUP, user="")
    assert not reply.ok and "can't tell who" in reply.body.plain()
    # each person's /likes is their own
    assert "1 like, 0 dislikes" in await say(app, "/likes", GROUP, user="1001")
    assert "0 likes, 1 dislike" in await say(app, "/likes", GROUP, user="1002")
    assert len(await feedback_rows(app)) == 2


async def test_more_on_a_federated_paper_is_mostly_federated(app, sender):
    await app.pipeline.ingest(SAMPLE, source="hf", alert=True)
    for paper in FL[:3]:
        await say(app, f"/like {paper.id}")
    for paper in VISION[:3]:
        await say(app, f"/dislike {paper.id}")
    reply = await run(app, f"/more {FL[5].id}")
    text = reply.body.plain()
    assert reply.ok and text.startswith("Papers like")
    shown = [line for line in text.splitlines()[1:] if line.startswith("• ")]
    assert len(shown) == 5
    federated = sum("federated" in line.lower() or " fl" in line.lower() for line in shown)
    assert federated >= 3, text
    assert all("% similar" in line for line in shown)
    assert "not stored" in await say(app, "/more 2599.00001")
    assert "Usage" in await say(app, "/more")


async def test_foryou_on_off_and_refusals(app, sender):
    await app.pipeline.ingest(SAMPLE[:5], source="hf", alert=True)
    assert "/foryou is off" in await say(app, "/foryou")
    on = await say(app, "/foryou on 18:30")
    assert "every day at 18:30 UTC (first today)" in on and "0 likes so far" in on
    assert "/foryou is on: every day at 18:30 UTC" in await say(app, "/foryou")
    # 12:00 now: 08:00 has passed, so the first picks come tomorrow
    assert "(first tomorrow)" in await say(app, "/foryou on 8:00")
    for bad, why in (("on 25:00", "not a time"), ("maybe", "Usage"),
                     ("on 09:00 extra", "Usage"), ("off now", "Usage")):
        reply = await run(app, f"/foryou {bad}")
        assert not reply.ok and why in reply.body.plain(), bad
    assert not (await run(app, "/foryou on", GROUP, user="1001")).ok  # personal only
    async with app.sessions() as session:
        rows = (await session.execute(select(ForYouSchedule.post_time,
                                             ForYouSchedule.enabled))).all()
    assert [tuple(r) for r in rows] == [("08:00", True)]
    assert "off" in await say(app, "/foryou off")
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ForYouSchedule)
                                    .where(ForYouSchedule.enabled.is_(True))) == 0


async def test_why_names_the_words_that_weigh_for_the_person(app):
    await app.pipeline.ingest(SAMPLE, source="hf", alert=False)
    assert "Nothing ranks for you yet" in await say(app, f"/why {FL[6].id}")
    for paper in FL[:3]:
        await say(app, f"/like {paper.id}")
    for paper in VISION[:3]:
        await say(app, f"/dislike {paper.id}")
    reply = await say(app, f"/why {FL[6].id}")
    assert "for you:" in reply and "(score " in reply, reply
    words = reply.split("for you: ", 1)[1].split(" (score")[0].split(", ")
    text = (FL[6].title + " " + FL[6].summary).lower()
    assert 1 <= len(words) <= 3 and all(w in text for w in words)
    assert "not stored" in await say(app, "/why 2599.00001")
    assert "someone" not in await say(app, "/why 1 @bob") and not (
        await run(app, "/why 1 @bob")).ok
