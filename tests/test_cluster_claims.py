"""Several workers on one database (each with its own engine, as separate processes would
have) claim disjoint rows: every delivery is sent exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace

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


class HeldSender(ScriptedSender):
    """A platform that answers only when the test lets it (a send slower than the lease)."""

    def __init__(self, platform: str) -> None:
        super().__init__(platform=platform)
        self.started = asyncio.Event()
        self.answer = asyncio.Event()

    async def send(self, chat: ChatRef, message) -> None:
        self.started.set()
        await self.answer.wait()
        await super().send(chat, message)


async def test_a_live_workers_lease_is_renewed_so_a_slow_send_is_not_taken_over(
        app, config, clock, tmp_path):
    await app.commands.dispatch(Incoming(ChatRef("test", "1", "user"), "/watch neural operator"))
    await app.ingest_file(write_jsonl(tmp_path / "p.jsonl",
                                      [paper_item("2601.00001", "Neural operator study")]))
    # a send must start within 3/4 of a lease of the claim (real time): 0.3 s was too little
    # for claim, load and send on a loaded machine
    lease = 1.0
    delivery = replace(app.config.delivery, lease_seconds=lease)
    engines = [db.create_engine(config.database.url) for _ in range(2)]
    slow, other = HeldSender("test"), ScriptedSender(platform="test")
    first, second = (DeliveryWorker(db.session_factory(e), {"test": s}, clock, worker_id=w,
                                    config=delivery)
                     for e, s, w in zip(engines, (slow, other), ("slow", "other"), strict=True))
    try:
        sending = asyncio.create_task(first.run_once())
        await asyncio.wait_for(slow.started.wait(), 10)
        # two leases pass on the clock while the platform has not answered; between them
        # the first worker (alive, only slow) has had time to renew
        for _ in range(2):
            clock.advance(seconds=lease * 0.8)
            await asyncio.sleep(lease / 3 * 2)
            assert await second.run_once() == 0  # nothing to take over
        slow.answer.set()
        assert await asyncio.wait_for(sending, 10) == 1
        clock.advance(seconds=lease * 2)
        assert await second.run_once() == 0
    finally:
        for engine in engines:
            await engine.dispose()
    assert len(slow.sent) == 1 and other.sent == []


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
