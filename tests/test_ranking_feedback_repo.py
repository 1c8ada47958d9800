"""storage.feedback on the real database: a mark per person and paper that a new mark
replaces, taken back by deleting it, owned by the person (never mixed), and the bulk reads
the ranking engine retrains from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from bot.ranking.types import DISLIKE, LIKE, Person
from bot.types import Paper
from storage import db, repo
from storage import feedback as fb

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ALICE = Person("telegram", "111")
BOB = Person("telegram", "222")
ALICE_ON_DISCORD = Person("discord", "111")


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator:
    engine = db.create_engine(db_url)
    await db.upgrade(engine)
    factory = db.session_factory(engine)
    async with factory.begin() as session:
        await repo.insert_new_papers(
            session, [Paper(f"2611.{n:05d}", f"Paper {n}", f"About topic {n}") for n in range(5)],
            NOW)
        await repo.insert_new_papers(session, [Paper("2611.10000", "Later", "x")],
                                     NOW + timedelta(hours=1))
    yield factory
    await engine.dispose()


async def test_a_new_mark_replaces_the_old_and_can_be_taken_back(sessions):
    async with sessions.begin() as s:
        assert await fb.set_feedback(s, ALICE, "2611.00001", LIKE, NOW)
        assert await fb.set_feedback(s, ALICE, "2611.00002", LIKE, NOW + timedelta(minutes=1))
    async with sessions.begin() as s:
        assert await fb.set_feedback(s, ALICE, "2611.00001", DISLIKE, NOW + timedelta(minutes=2))
    async with sessions() as s:
        marks = await fb.feedback_of(s, ALICE)
    assert [(m.paper_id, m.value) for m in marks] == [("2611.00001", DISLIKE),
                                                       ("2611.00002", LIKE)]
    assert marks[0].created_at == NOW + timedelta(minutes=2)
    async with sessions.begin() as s:
        assert await fb.remove_feedback(s, ALICE, "2611.00001")
        assert not await fb.remove_feedback(s, ALICE, "2611.00001")
    async with sessions() as s:
        assert [m.paper_id for m in await fb.feedback_of(s, ALICE)] == ["2611.00002"]


async def test_marks_belong_to_one_person_and_never_mix(sessions):
    async with sessions.begin() as s:
        await fb.set_feedback(s, ALICE, "2611.00001", LIKE, NOW)
        await fb.set_feedback(s, BOB, "2611.00001", DISLIKE, NOW)
        await fb.set_feedback(s, ALICE_ON_DISCORD, "2611.00003", LIKE, NOW)
    async with sessions.begin() as s:
        assert await fb.remove_feedback(s, BOB, "2611.00001")
    async with sessions() as s:
        assert [(m.paper_id, m.value) for m in await fb.feedback_of(s, ALICE)] == [
            ("2611.00001", LIKE)]
        assert await fb.feedback_of(s, BOB) == []
        assert [m.paper_id for m in await fb.feedback_of(s, ALICE_ON_DISCORD)] == ["2611.00003"]
        many = await fb.feedback_of_many(s, [ALICE, BOB, ALICE_ON_DISCORD])
        everyone = await fb.feedback_of_many(s)
    assert set(many) == {ALICE, ALICE_ON_DISCORD}
    assert many[ALICE] == (("2611.00001", LIKE),)
    assert everyone == many


async def test_a_paper_that_is_not_stored_gets_no_mark(sessions):
    async with sessions.begin() as s:
        assert not await fb.set_feedback(s, ALICE, "2611.99999", LIKE, NOW)
    async with sessions() as s:
        assert await fb.feedback_of(s, ALICE) == []
    with pytest.raises(ValueError):
        async with sessions.begin() as s:
            await fb.set_feedback(s, ALICE, "2611.00001", 2, NOW)


async def test_the_database_refuses_a_second_row_and_odd_values(sessions):
    from storage.models import Feedback

    with pytest.raises(IntegrityError):
        async with sessions.begin() as s:
            s.add_all([Feedback(platform="x", user_id="1", paper_id="2611.00001", value=1,
                                created_at=NOW),
                       Feedback(platform="x", user_id="1", paper_id="2611.00001", value=-1,
                                created_at=NOW)])
    with pytest.raises(IntegrityError):
        async with sessions.begin() as s:
            s.add(Feedback(platform="x", user_id="1", paper_id="2611.00001", value=5,
                           created_at=NOW))


async def test_bulk_reads_for_retraining(sessions):
    async with sessions.begin() as s:
        await fb.set_feedback(s, ALICE, "2611.00001", LIKE, NOW)
        await fb.set_feedback(s, BOB, "2611.00002", LIKE, NOW + timedelta(hours=2))
        await fb.set_feedback(s, BOB, "2611.00003", DISLIKE, NOW + timedelta(hours=2))
    async with sessions() as s:
        assert await fb.people_with_feedback(s) == [ALICE, BOB]
        assert await fb.people_with_feedback(s, since=NOW + timedelta(hours=1)) == [BOB]
        first, after = await fb.feedback_chunk(s, 0, limit=2)
        rest, end = await fb.feedback_chunk(s, after, limit=2)
        assert (await fb.feedback_chunk(s, end))[0] == []
        assert await fb.feedback_counts(s) == (3, 2)
    assert len(first) == 2 and len(rest) == 1
    assert {(m.person, m.paper_id, m.value) for m in first + rest} == {
        (ALICE, "2611.00001", LIKE), (BOB, "2611.00002", LIKE), (BOB, "2611.00003", DISLIKE)}


async def test_paper_texts_come_in_chunks_in_first_seen_order(sessions):
    async with sessions() as s:
        assert await fb.corpus_mark(s) == (6, NOW + timedelta(hours=1))
        first = await fb.paper_texts(s, None, limit=4)
        rest = await fb.paper_texts(s, (first[-1].first_seen, first[-1].id), limit=4)
        assert await fb.paper_ids_since(s, NOW + timedelta(minutes=30)) == ["2611.10000"]
        assert await fb.stored_ids(s, ["2611.00001", "nope"]) == {"2611.00001"}
    ids = [t.id for t in first + rest]
    assert ids == [f"2611.{n:05d}" for n in range(5)] + ["2611.10000"]
    assert rest[-1].title == "Later" and rest[-1].summary == "x"
    assert first[0].text() == "Paper 0\nAbout topic 0"


async def test_many_marks_at_once_the_last_one_wins(sessions):
    from bot.ranking.types import PersonMark

    async with sessions.begin() as s:
        await fb.set_feedback(s, BOB, "2611.00004", LIKE, NOW)
        await fb.set_feedback_many(s, [
            PersonMark(ALICE, "2611.00001", LIKE), PersonMark(ALICE, "2611.00001", DISLIKE),
            PersonMark(BOB, "2611.00004", DISLIKE), PersonMark(BOB, "2611.00002", LIKE)], NOW)
    async with sessions() as s:
        assert [(m.paper_id, m.value) for m in await fb.feedback_of(s, ALICE)] == [
            ("2611.00001", DISLIKE)]
        assert sorted((m.paper_id, m.value) for m in await fb.feedback_of(s, BOB)) == [
            ("2611.00002", LIKE), ("2611.00004", DISLIKE)]
