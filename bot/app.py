"""Wiring: configuration -> storage -> watch index -> pipeline, commands, delivery, adapters.

The one module that knows every part. `App` is opened once per process (`async with App(cfg)`)
and then runs the console, an ingest, or the whole bot inside one event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import TextIO

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from adapters.console import CONSOLE_BANNER, ConsoleAdapter, ExtraCommand
from bot.adapter import Adapter
from bot.commands.handlers import Commands
from bot.config import ROLES, Config
from bot.delivery.daily import DailyPoster, TrendingFetch, stored_trending_fetch
from bot.delivery.foryou import ForYouPoster
from bot.delivery.outbox import DeliveryWorker
from bot.delivery.pacing import Pacers
from bot.delivery.render import plural
from bot.ingest.followups import FollowUpRules
from bot.ingest.pipeline import Pipeline
from bot.ops.health import HealthServer
from bot.ops.metrics import Metrics
from bot.ops.retention import run_retention
from bot.ranking.service import RankingService
from bot.sources.hf_daily import fetch_trending
from bot.sources.http import FetchError
from bot.sources.paper_file import load_papers
from bot.types import Paper
from bot.watching.live import LiveWatches
from bot.watching.matcher_process import MatcherProcess
from bot.watching.watchset import WatchSet
from storage import db
from storage.repo import fanout

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


def sample_papers_path() -> Path:
    """The bundled sample of real papers used by `paperwatch demo`."""
    return Path(str(resources.files("bot.data").joinpath("sample_papers.jsonl")))


class App:
    """Everything one paperwatch process needs, opened and closed together."""

    engine: AsyncEngine
    sessions: async_sessionmaker

    def __init__(self, config: Config, clock: Callable[[], datetime] = utcnow) -> None:
        self.config = config
        self.clock = clock
        self.senders: dict[str, Adapter] = {}  # every running platform, by name
        self.watches: LiveWatches = WatchSet()
        self.metrics = Metrics()

    async def __aenter__(self) -> App:
        self.engine = db.create_engine(self.config.database.url)
        try:
            # refuse at start, in one line, a database that is missing, old or read-only
            await db.prepare(self.engine, upgrade_schema=self.config.database.auto_upgrade)
        except BaseException:
            await self.engine.dispose()
            raise
        self.sessions = db.session_factory(self.engine)
        self.watches = await self._live_watches()
        # one set of pacers per process: alerts and daily posts share the platform limits
        self.pacers = Pacers(self.config.delivery.pacing, wall=self.clock)
        # one ranking service per process: commands and delivery share its fitted space
        self.ranking = RankingService(self.sessions)
        self.delivery = DeliveryWorker(self.sessions, self.senders, self.clock,
                                       self.config.delivery, pacers=self.pacers,
                                       metrics=self.metrics, ranking=self.ranking)
        self.daily = DailyPoster(self.sessions, self.senders, self.clock,
                                 config=self.config.delivery, pacers=self.pacers,
                                 fetch=self._trending_fetch())
        self.pipeline = Pipeline(self.sessions, self.watches, self.clock,
                                 on_enqueued=self.delivery.notify, metrics=self.metrics,
                                 followups=FollowUpRules(upvotes=self.config.followups.upvotes,
                                                         stars=self.config.followups.stars))
        self.commands = Commands(self.sessions, self.watches, self.clock, self.config.limits,
                                 on_deliverable=self.delivery.notify,
                                 delivery=self.config.delivery,
                                 on_daily_changed=self.daily.notify)
        self.commands.feedback.use(self.ranking)
        self.foryou = ForYouPoster(self.sessions, self.ranking, self.clock,
                                   on_enqueued=self.delivery.notify)
        return self

    def _trending_fetch(self) -> TrendingFetch:
        """The day's trending papers for daily posts: the live Hugging Face list when that
        source is enabled (upvotes move all day), else, or when HF cannot be read, the
        papers stored from earlier polls."""
        stored = stored_trending_fetch(self.sessions)
        hf = self.config.sources.hf
        if not hf.enabled:
            return stored

        async def fetch(day: date) -> list[Paper]:
            try:
                async with aiohttp.ClientSession() as http_session:
                    return await fetch_trending(http_session, hf, day,
                                                http=self.config.sources.http)
            except FetchError as exc:
                log.warning("trending list of %s unreadable (%s); using stored papers",
                            day, exc)
                return await stored(day)
        return fetch

    async def _live_watches(self) -> LiveWatches:
        """The index in this process (a worker thread matches) or in a child process."""
        mode = self.config.run.matching
        if mode == "auto":
            async with self.sessions() as session:
                count = await fanout.active_watch_count(session)
            mode = "process" if count >= self.config.run.matching_process_above else "thread"
        return MatcherProcess() if mode == "process" else self.watches

    async def load_watches(self) -> None:
        """Load and index every stored watch (only the roles that match need it)."""
        async with self.sessions() as session:
            await self.watches.refresh(session, self.clock())

    async def __aexit__(self, *_exc: object) -> None:
        await self.watches.close()
        await self.engine.dispose()

    def add_sender(self, sender: Adapter) -> None:
        self.senders[sender.platform] = sender

    async def ingest_file(self, path: str | Path) -> str:
        """Ingest a JSON / JSON Lines file as a source would; every new paper may alert."""
        try:
            report = load_papers(path)
        except OSError as exc:
            return f"Can't read {path}: {exc.strerror or exc}"
        result = await self.pipeline.ingest(report.papers, source="ingest", alert=True)
        lines = [f"Ingested {plural(len(report.papers), 'paper')} from {Path(path).name}: "
                 f"{result.new} new, {result.updated} updated, "
                 f"{plural(result.deliveries, 'alert')} queued."]
        if report.errors:
            lines.append(f"Refused {len(report.errors)} item(s):")
            lines += [f"  {error}" for error in report.errors[:20]]
            if len(report.errors) > 20:
                lines.append(f"  … and {len(report.errors) - 20} more")
        return "\n".join(lines)

    def console(self, out: TextIO | None = None, demo: bool = False) -> ConsoleAdapter:
        """A console chat on this app; deliveries are flushed after every line."""
        extra: dict[str, ExtraCommand] = {"/ingest": self._console_ingest}
        if demo:
            extra["/publish"] = self._publish_sample
        console = ConsoleAdapter(self.commands.dispatch, out=out, extra_commands=extra,
                                 after_line=self._flush_after_line,
                                 banner=None if demo else CONSOLE_BANNER)
        self.add_sender(console)
        return console

    async def _flush_after_line(self) -> None:
        await self.flush_deliveries()

    async def _console_ingest(self, arg: str) -> str:
        if not arg:
            return "Usage: /ingest PATH (a JSON or JSON Lines file of papers)"
        return await self.ingest_file(Path(arg).expanduser())

    async def _publish_sample(self, _arg: str) -> str:
        report = load_papers(sample_papers_path())
        today = self.clock()
        papers = [replace(p, published=today) for p in report.papers]
        result = await self.pipeline.ingest(papers, source="demo", alert=True)
        if result.new == 0:
            return "The sample papers were published already (restart the demo to try again)."
        return (f"Published today's {result.new} sample papers; "
                f"{result.deliveries} match your watches.")

    async def flush_deliveries(self) -> int:
        """Deliver everything due now (console runs and tests)."""
        return await self.delivery.drain()

    async def run_console(self, stream: TextIO | None = None, out: TextIO | None = None,
                          demo: bool = False, prompt: bool = False) -> None:
        console = self.console(out=out, demo=demo)
        await console.run(stream, prompt=prompt)
        await self.flush_deliveries()

    def health_server(self) -> HealthServer:
        http = self.config.http
        return HealthServer(self.sessions, self.metrics, self.senders, self.clock,
                            listen=http.listen, port=http.port)

    def _platform_adapters(self) -> list[Adapter]:
        """The enabled chat platforms (their libraries are imported only when enabled)."""
        adapters: list[Adapter] = []
        if self.config.telegram.enabled:
            from adapters.telegram_bot import TelegramAdapter

            adapters.append(TelegramAdapter(self.config.telegram, self.commands))
        if self.config.discord.enabled:
            from adapters.discord_bot import DiscordAdapter

            adapters.append(DiscordAdapter(self.config.discord, self.commands))
        return adapters

    def _scheduled_jobs(self, stop: asyncio.Event) -> list[asyncio.Task]:
        """Daily posts (one row per chat and day) and source polls (each once per interval
        cluster-wide, through a claimed row)."""
        from bot.sources.poller import SourcePoller, build_sources

        tasks = [asyncio.create_task(self.daily.run(stop), name="daily-posts"),
                 asyncio.create_task(self.foryou.run(stop), name="foryou")]
        sources = build_sources(self.config.sources)
        if sources:
            poller = SourcePoller(sources, self.pipeline, self.sessions, self.clock)
            tasks.append(asyncio.create_task(poller.run(stop), name="sources"))
        return tasks

    async def run(self, stop: asyncio.Event, role: str = "all") -> None:
        """The bot until `stop` is set. Roles split the work over processes: "gateway"
        receives from the platforms (one per bot), "worker" delivers (any number),
        "scheduler" polls sources and posts daily digests (run once cluster-wide, guarded
        by claimed rows), "all" does everything."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        started: list[Adapter] = []
        tasks: list[asyncio.Task] = []
        health = self.health_server() if self.config.http.enabled else None
        try:
            for adapter in self._platform_adapters():
                await adapter.start(receive=role in ("all", "gateway"))
                self.add_sender(adapter)  # only once running: the worker never sees it down
                started.append(adapter)
            if not self.senders:
                log.warning("no chat platform is enabled: set [telegram] or [discord] "
                            "enabled = true")
            if health is not None:
                await health.start()
            if role in ("all", "worker"):
                tasks.append(asyncio.create_task(self.delivery.run(stop)))
            if role in ("all", "scheduler"):
                # only the matching role holds the watch index; it also finishes any
                # fan-out a crash left half done (in the background: start at once)
                tasks.append(asyncio.create_task(self._start_matching(), name="matching"))
                tasks += self._scheduled_jobs(stop)
                tasks.append(asyncio.create_task(run_retention(
                    self.sessions, self.clock, self.config.delivery.keep_days, stop),
                    name="retention"))
            log.info("paperwatch running: role=%s platforms=%s", role,
                     ",".join(self.senders) or "none")
            await stop.wait()
        finally:
            stop.set()
            await self._stop_within(self.config.run.stop_seconds, tasks, started, health)

    async def _start_matching(self) -> None:
        await self.load_watches()
        await self.pipeline.resume()

    async def _stop_within(self, seconds: float, tasks: list[asyncio.Task],
                           started: list[Adapter], health: HealthServer | None) -> None:
        """Stop everything within `seconds` even if a platform, source or the database
        hangs: tasks get most of the time to finish what they hold (rows not finished are
        released by their lease), then are cancelled; each adapter gets what is left."""
        deadline = asyncio.get_running_loop().time() + seconds
        _, late = await asyncio.wait(tasks, timeout=seconds * 0.6) if tasks else (set(), set())
        for task in late:
            log.warning("stop: %s did not finish in time; cancelled", task.get_name())
            task.cancel()
        if late:
            await asyncio.wait(late, timeout=1.0)
        closers = [adapter.stop() for adapter in reversed(started)]  # after the worker
        if health is not None:
            closers.append(health.stop())
        for closer in closers:
            remaining = max(0.1, deadline - asyncio.get_running_loop().time())
            try:
                await asyncio.wait_for(closer, remaining)
            except TimeoutError:
                log.warning("stop: a platform did not close within %.0f s; leaving it", seconds)
            except Exception:
                log.exception("stop: closing failed")
