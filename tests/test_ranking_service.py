"""The ranking service on real papers (the 70 of one Hugging Face Daily Papers day), stored
through the real database: a person who likes federated-learning papers and dislikes
vision papers gets federated learning first, for them only; more like this stays on topic;
without a model nothing changes; a restart ranks the same.

Papers are chosen by content (titles), not by ids."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.ranking.service import RankingService
from bot.ranking.types import DISLIKE, LIKE, Person
from bot.types import Paper
from storage import db, repo
from storage import feedback as fb
from tests.conftest import FakeClock
from tests.ranking_sample import FL, IS_FL, IS_VISION, SAMPLE, VISION

NOW = FakeClock().now
ALICE = Person("telegram", "1001")
BOB = Person("telegram", "1002")


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator:
    assert len(FL) >= 12 and len(VISION) >= 6, "the sample changed: pick other topics"
    engine = db.create_engine(db_url)
    await db.upgrade(engine)
    factory = db.session_factory(engine)
    async with factory.begin() as session:
        await repo.insert_new_papers(session, SAMPLE, NOW - timedelta(hours=2))
    yield factory
    await engine.dispose()


async def mark(sessions, person: Person, likes: list[Paper], dislikes: list[Paper] = ()) -> None:
    async with sessions.begin() as session:
        for paper in likes:
            assert await fb.set_feedback(session, person, paper.id, LIKE, NOW)
        for paper in dislikes:
            assert await fb.set_feedback(session, person, paper.id, DISLIKE, NOW)


@pytest.fixture
async def alice(sessions) -> Person:
    """Alice liked three federated-learning papers and disliked three vision papers."""
    await mark(sessions, ALICE, FL[:3], VISION[:3])
    return ALICE


def mixed_batch() -> list[str]:
    """Unmarked papers of both kinds and others, interleaved: vision and others first."""
    fl, vis = FL[3:8], VISION[3:6]
    others = [p for p in SAMPLE if p.id not in IS_FL | IS_VISION][:6]
    batch = []
    for i in range(6):
        for group in (others, vis, fl):
            if i < len(group):
                batch.append(group[i].id)
    return batch


async def test_more_like_a_federated_paper_is_mostly_federated(sessions):
    service = RankingService(sessions)
    target = FL[5]
    found = await service.more_like(target.id)
    assert found.stored and len(found.items) == 5
    ids = [item.paper_id for item in found.items]
    assert target.id not in ids
    assert sum(pid in IS_FL for pid in ids) >= 3, [item for item in found.items]
    sims = [item.similarity for item in found.items]
    assert sims == sorted(sims, reverse=True) and all(0 < s <= 1 for s in sims)
    # over every federated paper of the day, most neighbours are federated too
    hits = total = 0
    for paper in FL:
        items = (await service.more_like(paper.id, k=5)).items
        hits += sum(item.paper_id in IS_FL for item in items)
        total += len(items)
    assert hits / total >= 0.6, hits / total


async def test_more_like_a_paper_that_is_not_stored(sessions):
    found = await RankingService(sessions).more_like("2699.99999")
    assert not found.stored and found.items == ()


async def test_rank_puts_the_liked_kind_first_and_keeps_every_paper(sessions, alice):
    service = RankingService(sessions)
    batch = mixed_batch() + ["2699.00001"]  # a keyword hit the space does not know
    ranking = await service.rank(alice, batch)
    assert ranking.has_model
    ids = ranking.ids()
    assert sorted(ids) == sorted(batch) and ids[-1] == "2699.00001"
    fl_places = [i for i, pid in enumerate(ids) if pid in IS_FL]
    vision_places = [i for i, pid in enumerate(ids) if pid in IS_VISION]
    assert ids[0] in IS_FL and sum(pid in IS_FL for pid in ids[:5]) >= 4, ids
    assert max(fl_places) < min(vision_places), ids  # every federated paper above vision
    starred = ranking.starred()
    assert starred and starred <= IS_FL
    scores = [item.score for item in ranking.items[:-1]]
    assert scores == sorted(scores, reverse=True)
    assert ranking.items[-1].score is None


async def test_for_you_proposes_federated_papers_the_watches_missed(sessions, alice):
    service = RankingService(sessions)
    matched = {p.id for p in FL[3:6]}  # what Alice's watches already sent her
    result = await service.for_you(alice, NOW - timedelta(days=1), matched, k=5)
    assert result.has_model and 1 <= len(result.picks) <= 5
    picked = [pick.paper_id for pick in result.picks]
    assert not set(picked) & matched
    assert not set(picked) & {p.id for p in FL[:3] + VISION[:3]}  # already marked
    assert sum(pid in IS_FL for pid in picked) >= len(picked) - 1, picked
    assert all(pick.score > 0 and 1 <= len(pick.words) <= 3 for pick in result.picks)
    assert any("federated" in pick.words for pick in result.picks)
    # nothing stored since the window: nothing to propose
    later = await service.for_you(alice, NOW, matched)
    assert later.has_model and later.picks == ()


async def test_explain_gives_the_top_positive_words(sessions, alice):
    service = RankingService(sessions)
    why = await service.explain(alice, FL[6].id)
    assert why.stored and why.has_model and why.words
    assert len(why.words) <= 3 and all(w in FL[6].title.lower() + FL[6].summary.lower()
                                       for w in why.words)
    missing = await service.explain(alice, "2699.99999")
    assert not missing.stored and missing.words == ()


async def test_without_a_model_nothing_changes(sessions):
    service = RankingService(sessions)
    await mark(sessions, BOB, FL[:2])  # two likes: still no model
    batch = mixed_batch()
    for person in (ALICE, BOB):
        ranking = await service.rank(person, batch)
        assert not ranking.has_model and ranking.ids() == batch
        assert ranking.starred() == set() and ranking.reason
        assert not (await service.for_you(person, NOW - timedelta(days=1))).has_model
        assert not (await service.explain(person, FL[0].id)).has_model


async def test_two_peoples_feedback_never_mixes(sessions, alice):
    await mark(sessions, BOB, VISION[:3], FL[:3])  # the opposite taste
    alice_on_discord = Person("discord", ALICE.user_id)  # same id, another platform
    service = RankingService(sessions)
    batch = mixed_batch()
    alice_order = (await service.rank(alice, batch)).ids()
    bob_order = (await service.rank(BOB, batch)).ids()
    assert alice_order[0] in IS_FL and bob_order[0] in IS_VISION
    assert not (await service.rank(alice_on_discord, batch)).has_model
    # Bob's marks changed nothing of Alice's ranking: a service that knows only her agrees
    async with sessions.begin() as session:
        for paper in VISION[:3] + FL[:3]:
            await fb.remove_feedback(session, BOB, paper.id)
    assert (await RankingService(sessions).rank(alice, batch)).ids() == alice_order


async def test_a_restart_ranks_the_same(sessions, alice):
    first = RankingService(sessions)
    batch = mixed_batch()
    before = await first.rank(alice, batch)
    picks = await first.for_you(alice, NOW - timedelta(days=1))
    similar = await first.more_like(FL[4].id)
    again = RankingService(sessions)  # a new process over the same database
    assert await again.rank(alice, batch) == before
    assert await again.for_you(alice, NOW - timedelta(days=1)) == picks
    assert await again.more_like(FL[4].id) == similar


async def test_changed_marks_and_new_papers_are_seen_at_once(sessions, alice):
    service = RankingService(sessions)
    batch = mixed_batch()
    assert (await service.rank(alice, batch)).has_model
    async with sessions.begin() as session:  # taking one like back leaves two: no model
        assert await fb.remove_feedback(session, alice, FL[0].id)
    assert not (await service.rank(alice, batch)).has_model
    twin = Paper("2611.77777", FL[5].title + " revisited", FL[5].summary)
    async with sessions.begin() as session:
        await repo.insert_new_papers(session, [twin], NOW)
    found = await service.more_like(FL[5].id, k=1)
    assert [item.paper_id for item in found.items] == [twin.id]
    assert (await service.more_like(twin.id, k=1)).items[0].paper_id == FL[5].id
    await mark(sessions, alice, [FL[0]])
    ranking = await service.rank(alice, [*batch, twin.id])
    assert ranking.has_model and ranking.ids()[0] in IS_FL | {twin.id}


async def test_bulk_ranking_agrees_with_one_at_a_time(sessions, alice):
    await mark(sessions, BOB, VISION[:3])
    service = RankingService(sessions)
    batch = mixed_batch()
    many = await service.rank_many({alice: batch, BOB: batch, Person("x", "y"): batch})
    one = RankingService(sessions)
    assert many[alice] == await one.rank(alice, batch)
    assert many[BOB] == await one.rank(BOB, batch)
    assert not many[Person("x", "y")].has_model
    since = datetime(2020, 1, 1, tzinfo=UTC)
    bulk = await service.for_you_many({alice: set(), BOB: {VISION[4].id}}, since)
    assert bulk[alice] == await one.for_you(alice, since)
    assert bulk[BOB] == await one.for_you(BOB, since, {VISION[4].id})


def variants(start: int, count: int) -> list[Paper]:
    """More papers made of the sample's sentences (for a corpus past the first refit)."""
    out = []
    for n in range(start, start + count):
        a, b = SAMPLE[n % len(SAMPLE)], SAMPLE[(n * 7 + 3) % len(SAMPLE)]
        out.append(Paper(f"2612.{n:05d}", f"{a.title} meets {b.title}",
                         f"{a.summary[: len(a.summary) // 2]} {b.summary[len(b.summary) // 2:]}"))
    return out


async def test_a_service_that_saw_the_corpus_grow_agrees_with_a_fresh_one(sessions, alice):
    watching = RankingService(sessions)
    batch = mixed_batch()
    await watching.rank(alice, batch)  # fitted on the 70 papers
    fits = []
    for n, (start, count) in enumerate([(0, 150), (150, 30), (180, 10)]):
        async with sessions.begin() as session:
            await repo.insert_new_papers(session, variants(start, count),
                                         NOW + timedelta(minutes=n + 1))
        space = await watching.space()
        fits.append((len(space), space.n_fit))
    # 220 papers: refit on the first 200; 250: refit on 250; 260: the 10 new ones appended
    assert fits == [(220, 200), (250, 250), (260, 250)]
    fresh = RankingService(sessions)
    assert await fresh.rank(alice, batch) == await watching.rank(alice, batch)
    assert await fresh.more_like("2612.00185") == await watching.more_like("2612.00185")
    assert (await fresh.space()).n_fit == 250
