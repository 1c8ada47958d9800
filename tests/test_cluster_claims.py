"""Several workers on one database (each with its own engine, as separate processes would
have) claim disjoint rows: every delivery is sent exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter

from bot.delivery.outbox import DeliveryWorker
from bot.types import ChatRef, Incoming
from storage import db
from tests.helpers import ScriptedSender, paper_item, write_jsonl


class SlowSender(ScriptedSender):
    """Takes a little time per send so that workers really overlap."""

    async def send(self, chat: ChatRef, message) -> None:
        await asyncio.sleep(0.002)
        await super().send(chat, message)


async def test_three_workers_never_send_a_delivery_twice(app, config, clock, tmp_path):
    chats = [ChatRef("test", str(n), "user") for n in range(60)]
    for chat in chats:
        await app.commands.dispatch(Incoming(chat, "/watch neural operator"))
    papers = [paper_item(f"2601.{n:05d}", f"Neural operator study {n}") for n in range(10)]
    await app.ingest_file(write_jsonl(tmp_path / "p.jsonl", papers))

    engines = [db.create_engine(config.database.url) for _ in range(3)]
    senders = [SlowSender(platform="test") for _ in engines]
    workers = [DeliveryWorker(db.session_factory(e), {"test": s}, clock,
                              worker_id=f"w{n}", config=app.config.delivery)
               for n, (e, s) in enumerate(zip(engines, senders, strict=True))]
    for worker in workers:  # small claims so that the three really compete
        worker.config = type(worker.config)(**{**worker.config.__dict__, "batch_size": 3})
    try:
        await asyncio.gather(*(w.drain() for w in workers))
    finally:
        for engine in engines:
            await engine.dispose()
    sent = Counter((chat.external_id, message.body.plain()) for s in senders for chat, message in s.sent)
    assert len(sent) == len(chats)  # each chat got its one coalesced message
    assert max(sent.values()) == 1
    assert sum(1 for s in senders if s.sent) >= 2  # the work really was shared


async def test_two_schedulers_poll_a_source_once_per_interval(app, config, clock):
    from bot.sources.base import FetchResult
    from bot.sources.poller import SourcePoller

    class CountingSource:
        name = "counting"
        poll_seconds = 600
        fetches = 0

        async def fetch(self, http, now, since=None):
            CountingSource.fetches += 1
            return FetchResult(status="empty", note="nothing today")

    source = CountingSource()
    engines = [db.create_engine(config.database.url) for _ in range(2)]
    pollers = [SourcePoller([source], app.pipeline, db.session_factory(e), clock,
                            http_session=object()) for e in engines]
    try:
        for _ in range(3):
            reports = [await p._cycle(source, object(), claim=True) for p in pollers]
            assert sorted(r.status for r in reports) == ["empty", "skipped"]
            clock.advance(seconds=601)
        assert CountingSource.fetches == 3
    finally:
        for engine in engines:
            await engine.dispose()
