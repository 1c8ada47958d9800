"""Retention (issue 14): sent and failed deliveries older than `delivery.keep_days` are
pruned, in small batches; pending and leased ones, and recent ones, stay. Pruning cannot
make an alert repeat: a paper alerts only when it is stored for the first time, so the same
papers ingested again after their deliveries were pruned alert nobody. SQLite and
PostgreSQL (the `app` fixture runs on both when PAPERWATCH_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from bot.ops.retention import prune_once
from storage.models import Chat, Delivery, PaperRow
from storage.repo import fanout
from tests.helpers import paper_item, write_jsonl


async def _count(app) -> int:
    async with app.sessions() as session:
        return (await session.execute(select(func.count()).select_from(Delivery))).scalar_one()


async def test_only_old_sent_and_failed_deliveries_go_in_small_batches(app, clock):
    now = clock()
    keep = app.config.delivery.keep_days
    old = now - timedelta(days=keep, hours=1)
    recent = now - timedelta(days=keep - 1)
    # (paper, state, created, leased): what must go and what must stay
    rows = [("2612.00001", "sent", old, False), ("2612.00002", "sent", old, False),
            ("2612.00003", "sent", old, False), ("2612.00004", "failed", old, False),
            ("2612.00005", "failed", old, False),
            ("2612.00006", "pending", old, False),  # old, but never sent: stays
            ("2612.00007", "pending", old, True),  # being sent right now (leased): stays
            ("2612.00008", "sent", recent, False), ("2612.00009", "failed", recent, False)]
    async with app.sessions.begin() as session:
        session.add(Chat(id=1, platform="telegram", external_id="1", kind="user",
                         state="active", created_at=old))
        for pid, *_ in rows:
            session.add(PaperRow(id=pid, title=f"Paper {pid}", summary="", authors=[],
                                 categories=[], keywords=[], source="test", first_seen=old,
                                 updated_at=old))
        await session.flush()
        for pid, state, created, leased in rows:
            session.add(Delivery(chat_id=1, paper_id=pid, watch_ids=[], why=[], state=state,
                                 attempts=1, next_attempt_at=created, created_at=created,
                                 sent_at=created if state == "sent" else None,
                                 claimed_by="worker-1" if leased else None,
                                 claimed_until=now + timedelta(minutes=1) if leased else None))

    before = now - timedelta(days=keep)
    async with app.sessions.begin() as session:  # one batch deletes at most its size
        assert await fanout.prune_deliveries(session, before, limit=2) == 2
    assert await _count(app) == len(rows) - 2

    assert await prune_once(app.sessions, now, keep, batch=2) == 3  # batches of 2, 1
    async with app.sessions() as session:
        left = sorted((await session.execute(select(Delivery.paper_id, Delivery.state))).all())
    assert left == [("2612.00006", "pending"), ("2612.00007", "pending"),
                    ("2612.00008", "sent"), ("2612.00009", "failed")]
    assert await prune_once(app.sessions, now, keep) == 0  # nothing more to do


async def test_papers_ingested_again_after_pruning_alert_nobody(app, console, clock, tmp_path):
    await console.push("/watch graph neural network")
    papers = write_jsonl(tmp_path / "day.jsonl", [
        paper_item("2612.00100", "A graph neural network for molecules", upvotes=3),
        paper_item("2612.00101", "Graph neural network pruning", upvotes=4)])
    await console.push(f"/ingest {papers}")
    assert len(console.sent) == 1 and "molecules" in console.sent[0].body.plain()
    async with app.sessions.begin() as session:  # as the outbox leaves them once sent
        await session.execute(update(Delivery).values(state="sent", sent_at=clock()))
    assert await _count(app) == 2

    clock.advance(days=app.config.delivery.keep_days + 1)
    assert await prune_once(app.sessions, clock(), app.config.delivery.keep_days) == 2
    assert await _count(app) == 0

    # the same papers again, as a source's next poll or a re-run of the file brings them
    await console.push(f"/ingest {papers}")
    assert await app.pipeline.resume() == 0  # nothing left half fanned out either
    async with app.sessions() as session:
        pending_fanout = (await session.execute(select(func.count()).where(
            PaperRow.fanout_pending.is_(True)))).scalar_one()
    assert await _count(app) == 0 and pending_fanout == 0
    assert len(console.sent) == 1  # no second alert
