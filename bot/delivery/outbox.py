"""The outbox worker: claim due deliveries, plan, coalesce per chat, pace, send, mark.

A delivery row exists before any send; its state changes only after the platform answered.
Rows are claimed with a lease (a whole chat at a time) that the worker renews while it
sends them, so a crashed worker's rows are taken over once the lease expires and a slow one's
never are; since at most `concurrency` sends are in flight per worker, a crash can repeat at
most that many messages.

Per chat, `plan_delivery` (bot.delivery.plan) decides whether its due alerts may go
now: a daily or weekly digest waits for its local time, quiet hours wait for their end,
and the hourly cap (`max_messages_per_hour`) makes the rest wait; a held chat's
`hold_until` keeps it out of claims until then. What may go is coalesced into one message
(a compact list, split only at the platform's length limit) under a heading saying what
it is ("while you were away", "Your daily digest"); follow-ups about papers the chat was
alerted about ride along as update lines.

Each send waits for a slot from the platform's `Pacer` (overall, per-chat and per-group
rates, 429 pauses). A slot that would come too late for the lease gives the rows back
instead. Outcomes: sent; rescheduled (rate limit: not an attempt); retried with
exponential backoff (transient trouble); failed with the reason (permanent refusals,
rejected messages, too many attempts).

Several workers on one bot split the platforms' overall rates: each running worker keeps
a heartbeat row in `workers` (every BEAT_SECONDS) and sends at 1/N of the configured rate,
N being the workers alive. A crashed worker stops counting after BEAT_STALE_SECONDS (the
others run slower until then, never faster); a stopped one at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.config import DeliveryConfig
from bot.delivery.pacing import Pacers
from bot.delivery.plan import HOUR, plan_delivery, recent_sends
from bot.delivery.render import AlertItem, Batch, alert_messages, digest_heading, foryou_messages
from bot.ops.metrics import Metrics
from bot.ranking.service import RankingService
from bot.ranking.types import FORYOU_KIND, MIN_LIKES, Person
from bot.types import (
    ChatMoved,
    ChatRef,
    DeliveryChat,
    DeliveryItem,
    MessageRejected,
    OutMessage,
    PermanentSendError,
    RateLimited,
    Sender,
    SendError,
)
from storage import repo
from storage.repo import feedback_refs

log = logging.getLogger(__name__)

MAX_SLOT_WAIT = 5.0  # seconds: a longer pacing wait gives the rows back for a later round
MAX_RENEWALS = 30  # a round's lease is renewed at most this often (10 leases in all)
BEAT_SECONDS = 10.0  # a running worker refreshes its heartbeat row this often
BEAT_STALE_SECONDS = 35.0  # a worker silent this long no longer counts (it crashed)


async def remember_sent(sessions: async_sessionmaker, chat_id: int, message: OutMessage,
                        now: datetime, replace: bool = True) -> None:
    """Remember the numbered papers of a message just sent to a chat (what /like 3 means
    there now), in a transaction of its own: a failure is logged and loses no send state."""
    if not message.items and not replace:
        return
    try:
        async with sessions.begin() as session:
            await feedback_refs.record_sent_items(
                session, chat_id, [(i.number, i.paper_id) for i in message.items], now,
                replace=replace)
    except Exception:
        log.exception("could not remember the items sent to chat %d", chat_id)


# --- the worker ------------------------------------------------------------------------


def send_outcome(exc: SendError) -> str:
    """The `outcome` label of a failed send in the metrics."""
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, PermanentSendError):
        return "refused"
    if isinstance(exc, MessageRejected):
        return "rejected"
    if isinstance(exc, ChatMoved):
        return "moved"
    return "error"


class DeliveryWorker:
    def __init__(self, sessions: async_sessionmaker, senders: Mapping[str, Sender],
                 clock: Callable[[], datetime], config: DeliveryConfig | None = None,
                 worker_id: str | None = None, pacers: Pacers | None = None,
                 metrics: Metrics | None = None,
                 ranking: RankingService | None = None) -> None:
        self.sessions = sessions
        self.senders = senders
        self.clock = clock
        self.config = config or DeliveryConfig()
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self.pacers = pacers or Pacers(self.config.pacing, wall=clock)
        self.metrics = metrics or Metrics()
        # orders a person's coalesced alerts best first (None: the order they came in)
        self.ranking = ranking
        self._rankable: set[int] = set()  # this round's chats whose person has a model
        self.wake = asyncio.Event()

    def notify(self) -> None:
        """Something became due: look now instead of at the next poll."""
        self.wake.set()

    async def beat(self) -> int:
        """Tell the other workers this one is alive and take 1/N of every platform's overall
        send rate, N being the live workers; returns N."""
        async with self.sessions.begin() as session:
            alive = await repo.worker_beat(session, self.worker_id, self.clock(),
                                           timedelta(seconds=BEAT_STALE_SECONDS))
        if alive != round(1 / self.pacers.share):
            log.info("delivery workers alive: %d; this one sends at 1/%d of the rate",
                     alive, alive)
        self.pacers.set_share(1 / alive)
        return alive

    async def _beat_until(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    await self.beat()
                except Exception:  # keep the last share; the next beat tries again
                    log.exception("worker heartbeat failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), BEAT_SECONDS)
        finally:
            try:
                async with self.sessions.begin() as session:
                    await repo.forget_worker(session, self.worker_id)
            except Exception:  # the row goes stale and is forgotten by the others
                log.warning("could not remove worker %s's heartbeat", self.worker_id)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; sleep between rounds unless woken. Beside it, a
        heartbeat keeps this worker counted so the workers split the send rates."""
        beats = asyncio.create_task(self._beat_until(stop))
        try:
            await self._deliver_until(stop)
        finally:
            if not stop.is_set():  # stopped by an error: end the beats too (a stop ends
                beats.cancel()     # them by itself; cancelling could cut their last write)
            await asyncio.gather(beats, return_exceptions=True)

    async def _deliver_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.wake.clear()  # before the round: rows queued during it wake the next
            try:
                handled = await self.run_once()
            except Exception:  # a broken round must not end delivery for good
                log.exception("delivery round failed")
                handled = 0
            if handled:
                continue
            waiters = [asyncio.ensure_future(self.wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=self.config.poll_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()

    async def drain(self, max_rounds: int = 1000) -> int:
        """Deliver until nothing is due right now; return how many rows were handled."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.run_once()
            if not handled:
                break
            total += handled
        return total

    async def run_once(self) -> int:
        """One round: claim due rows, send them per chat. Returns the number of rows handled."""
        now = self.clock()
        lease_until = now + timedelta(seconds=self.config.lease_seconds)
        # sends must start early enough to be answered and marked within the lease
        deadline = time.monotonic() + self.config.lease_seconds * 0.75
        async with self.sessions.begin() as session:
            claimed = await repo.claim_due(session, self.worker_id, now, lease_until,
                                           max_chats=self.config.batch_size,
                                           platforms=list(self.senders))
        if not claimed:
            return 0
        by_chat: dict[int, list[DeliveryItem]] = {}
        for row in claimed:
            by_chat.setdefault(row.chat_id, []).append(row)
        self._rankable = await self._with_models([c for c, r in by_chat.items() if len(r) > 1])
        limit = asyncio.Semaphore(max(1, self.config.concurrency))

        async def one(chat_id: int, rows: list[DeliveryItem]) -> None:
            async with limit:
                try:
                    await self._deliver_chat(chat_id, rows, deadline)
                except Exception:  # e.g. the database went away mid-chat: the lease
                    log.exception("delivery to chat %d failed", chat_id)  # brings them back

        renewing = asyncio.create_task(self._keep_claims([r.id for r in claimed]))
        try:
            await asyncio.gather(*(one(c, r) for c, r in by_chat.items()))
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
        return len(claimed)

    async def _keep_claims(self, ids: list[int]) -> None:
        """While this round runs, move its rows' lease forward every third of a lease: a send
        answered late (a slow platform, a busy machine) must not let another worker take the
        chat and send it again. Only a worker that died stops renewing, so only its in-flight
        messages can repeat. The renewals stop after MAX_RENEWALS: a round stuck for that long
        gives its rows up to the others."""
        lease = self.config.lease_seconds
        for _ in range(MAX_RENEWALS):
            await asyncio.sleep(lease / 3)
            try:
                async with self.sessions.begin() as session:
                    await repo.extend_claims(session, self.worker_id, ids,
                                             self.clock() + timedelta(seconds=lease))
            except Exception:  # the lease still holds for two thirds; the next try may work
                log.exception("could not renew the lease of %d deliveries", len(ids))

    async def _load(self, chat_id: int,
                    rows: Sequence[DeliveryItem]) -> tuple[DeliveryChat, list[AlertItem]]:
        async with self.sessions() as session:
            chat = await repo.chat_for_delivery(session, chat_id)
            papers = await repo.papers_for_delivery(session, [r.paper_id for r in rows])
            queries = await repo.watch_queries(session, {w for r in rows for w in r.watch_ids})
            numbers = await repo.watch_numbers(session, queries)
        assert chat is not None
        items = [AlertItem(paper=papers[r.paper_id],
                           why=r.why, kind=r.kind,
                           watch_ids=tuple(r.watch_ids),
                           watch_queries=tuple(queries[w] for w in r.watch_ids if w in queries),
                           watch_numbers=tuple(numbers.get(w, 0) for w in r.watch_ids))
                 for r in rows]
        return chat, items

    async def _deliver_chat(self, chat_id: int, rows: list[DeliveryItem],
                            deadline: float) -> None:
        chat, items = await self._load(chat_id, rows)
        ref = chat.ref
        sender = self.senders[ref.platform]
        now = self.clock()
        cap = self.config.max_messages_per_hour
        plan = plan_delivery(chat, min(r.created_at or now for r in rows), now, cap)
        if not plan.send:
            async with self.sessions.begin() as session:
                await repo.release(session, [r.id for r in rows])
                await repo.set_hold(session, chat_id, plan.hold_until)
            log.info("held chat=%s:%s alerts=%d until=%s (%s)", ref.platform, ref.external_id,
                     len(rows), plan.hold_until, plan.why)
            return
        # (paper, kind) is unique per chat; ranking replaces items with starred copies
        row_of = {(item.paper.id, item.kind): row for item, row in zip(items, rows, strict=True)}
        picks = [item for item in items if item.kind == FORYOU_KIND]
        news = await self._ranked(ref, chat_id,
                                 [item for item in items if item.kind != FORYOU_KIND])
        updates = sum(item.kind != "alert" for item in news)
        batches = alert_messages(news, sender.max_chars, sender.measure,
                                 heading=digest_heading(plan.kind, len(news), updates))
        batches += foryou_messages(picks, sender.max_chars, sender.measure)
        now_sendable = batches[:plan.allowed] if plan.allowed else batches
        recent = recent_sends(chat, now)
        pacer = self.pacers(ref.platform)

        def rows_of(part: Sequence[Batch]) -> list[DeliveryItem]:
            return [row_of[item.paper.id, item.kind] for batch in part for item in batch.items]

        for index, batch in enumerate(now_sendable):
            slot = await pacer.acquire(ref, deadline=min(deadline,
                                                         pacer.clock() + MAX_SLOT_WAIT))
            if slot is None:  # no slot soon enough: give the rest back for a later round
                wait = pacer.wait_time(ref)
                later = self.clock() + timedelta(seconds=min(wait, self.config.lease_seconds)
                                                 if wait != float("inf") else 1.0)
                async with self.sessions.begin() as session:
                    await repo.release(session, [r.id for r in rows_of(batches[index:])], later)
                return
            started = time.perf_counter()
            try:
                await sender.send(ref, batch.message)
            except SendError as exc:
                self._count_send(ref.platform, send_outcome(exc), started)
                await self._handle_failure(ref, chat_id, rows_of(batches[index:]), exc)
                return
            except Exception as exc:  # an adapter bug must not lose the rows
                self._count_send(ref.platform, "error", started)
                log.exception("send to %s crashed", ref)
                await self._handle_failure(ref, chat_id, rows_of(batches[index:]),
                                           SendError(repr(exc)))
                return
            finally:
                slot.release()
            self._count_send(ref.platform, "sent", started)
            sent_at = self.clock()
            recent = (recent + [sent_at])[-cap:] if cap > 0 else []
            last = index == len(batches) - 1
            async with self.sessions.begin() as session:
                await repo.mark_sent(session, [r.id for r in rows_of([batch])], sent_at)
                await repo.record_sends(session, chat_id, recent)
                if last and plan.kind == "away" and chat.muted_until is not None:
                    await repo.end_away(session, chat_id, chat.muted_until)
            # what /like 3 means here from now on (a continuation adds its items)
            await remember_sent(self.sessions, chat_id, batch.message, sent_at, replace=(
                index == 0 or batch.message.title != batches[index - 1].message.title))
            self.metrics.inc("paperwatch_messages_sent_total", platform=ref.platform)
            self.metrics.inc("paperwatch_alerts_sent_total", len(batch.items),
                             platform=ref.platform)
            log.info("sent chat=%s:%s papers=%d", ref.platform, ref.external_id,
                     len(batch.items))
        held = batches[len(now_sendable):]
        if held:  # the hourly cap: the rest waits and goes out with whatever comes next
            until = recent[-cap] + HOUR
            async with self.sessions.begin() as session:
                await repo.release(session, [r.id for r in rows_of(held)])
                await repo.set_hold(session, chat_id, until)
            log.info("hourly cap: chat=%s:%s alerts=%d wait until %s", ref.platform,
                     ref.external_id, len(rows_of(held)), until)

    async def _with_models(self, chat_ids: list[int]) -> set[int]:
        """The chats of this round whose person has enough likes for a model (one query)."""
        if self.ranking is None or not chat_ids:
            return set()
        async with self.sessions() as session:
            return await feedback_refs.chats_with_likes(session, chat_ids, MIN_LIKES)

    async def _ranked(self, ref: ChatRef, chat_id: int,
                      items: list[AlertItem]) -> list[AlertItem]:
        """A person's coalesced alerts best first by their ranking model, the top ones
        starred; follow-ups keep their place after them. Unchanged (the same list) for a
        shared chat, a single alert, or a person with fewer than 3 likes. The model is
        trained and scores in a worker thread (RankingService)."""
        alerts = [item for item in items if item.kind == "alert"]
        if self.ranking is None or ref.kind != "user" or len(alerts) < 2 or (
                chat_id not in self._rankable):
            return items
        person = Person(ref.platform, ref.external_id)
        try:
            ranking = await self.ranking.rank(person, [item.paper.id for item in alerts])
            starred = ranking.starred()
            words = await self.ranking.explain_many(person, sorted(starred)) if starred else {}
        except Exception:  # ranking is a nicety: the alerts go out in their order
            log.exception("ranking alerts for %s:%s failed", ref.platform, ref.external_id)
            return items
        if not ranking.has_model:
            return items
        position = {pid: n for n, pid in enumerate(ranking.ids())}
        ordered = sorted(alerts, key=lambda item: position.get(item.paper.id, len(position)))
        ordered = [replace(item, star=item.paper.id in starred,
                           for_you=words.get(item.paper.id, ())) for item in ordered]
        return ordered + [item for item in items if item.kind != "alert"]

    def _count_send(self, platform: str, outcome: str, started: float) -> None:
        self.metrics.inc("paperwatch_sends_total", platform=platform, outcome=outcome)
        self.metrics.observe("paperwatch_send_latency_seconds", time.perf_counter() - started,
                             platform=platform)

    async def _handle_failure(self, ref: ChatRef, chat_id: int, rows: list[DeliveryItem],
                              exc: SendError) -> None:
        ids = [r.id for r in rows]
        now = self.clock()
        async with self.sessions.begin() as session:
            if isinstance(exc, PermanentSendError):
                log.warning("chat %s:%s refuses messages: %s", ref.platform, ref.external_id,
                            exc.reason)
                await repo.set_chat_state(session, chat_id, "blocked", exc.reason)
                await repo.mark_failed(session, ids, exc.reason)
            elif isinstance(exc, MessageRejected):
                log.warning("message to %s:%s refused: %s", ref.platform, ref.external_id,
                            exc.reason)
                await repo.mark_failed(session, ids, exc.reason)
            elif isinstance(exc, ChatMoved):
                log.info("chat %s:%s moved to %s", ref.platform, ref.external_id,
                         exc.new_external_id)
                await repo.move_chat(session, ref, exc.new_external_id)
                await repo.mark_retry(session, ids, now, exc.reason, count_attempt=False)
            elif isinstance(exc, RateLimited):
                log.warning("rate limited on %s for %.1fs (%s)", ref.platform, exc.retry_after,
                            exc.scope)
                self.pacers(ref.platform).pause(exc.retry_after,
                                                None if exc.scope == "global" else ref)
                self.metrics.inc("paperwatch_rate_limited_total", platform=ref.platform)
                await repo.mark_retry(session, ids, now + timedelta(seconds=exc.retry_after),
                                      exc.reason, count_attempt=False)
            else:
                attempts = max(r.attempts for r in rows) + 1
                if attempts >= self.config.max_attempts:
                    log.error("giving up on %d deliveries to %s:%s after %d attempts: %s",
                              len(ids), ref.platform, ref.external_id, attempts, exc.reason)
                    await repo.mark_failed(session, ids,
                                           f"{exc.reason} (after {attempts} attempts)")
                else:
                    delay = self.backoff(attempts)
                    log.warning("send to %s:%s failed (%s); retry in %.0fs", ref.platform,
                                ref.external_id, exc.reason, delay)
                    await repo.mark_retry(session, ids, now + timedelta(seconds=delay),
                                          exc.reason)

    def backoff(self, attempts: int) -> float:
        """Exponential backoff with jitter: base * 2^(attempts-1), +-20 %, capped."""
        base = self.config.retry_base_seconds * (2 ** max(0, attempts - 1))
        return min(base, self.config.retry_max_seconds) * random.uniform(0.8, 1.2)

