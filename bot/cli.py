"""The `paperwatch` command line: demo, console, ingest, run, db upgrade, check-config, status,
backfill.

Run as `paperwatch SUBCOMMAND` (installed console script) or `python -m bot SUBCOMMAND`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.app import ROLES, App
from bot.config import Config, ConfigError, load_config, require_tokens
from bot.logs import configure_logging
from bot.scheduler import queue_report
from bot.sources.backfill import SOURCES, BackfillError, backfill
from storage import db


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paperwatch",
                                     description="Research-paper alerts in your chats.")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", metavar="FILE", help="TOML configuration file")
        p.add_argument("--db", metavar="URL", help="database URL (overrides the config)")
        return p

    run = with_config(sub.add_parser("run", help="run the bot: every enabled adapter and source"))
    run.add_argument("--role", choices=ROLES, default=None,
                     help="the part of the work this process does (default: run.role, 'all')")
    sub.add_parser("demo", help="console chat with bundled sample papers on a throwaway DB")
    with_config(sub.add_parser("console", help="console chat on the configured database"))
    ingest = with_config(sub.add_parser("ingest", help="ingest papers from JSON / JSON Lines"))
    ingest.add_argument("file", metavar="FILE")
    dbp = sub.add_parser("db", help="database maintenance")
    dbsub = dbp.add_subparsers(dest="db_command", required=True)
    with_config(dbsub.add_parser("upgrade", help="apply Alembic migrations"))
    with_config(sub.add_parser("check-config", help="validate the configuration and connect"))
    with_config(sub.add_parser("status", help="the delivery queue and daily posts, now"))
    backfill = with_config(sub.add_parser(
        "backfill", help="fetch a source's history over a date range and store it"))
    backfill.add_argument("--source", required=True, choices=SOURCES)
    backfill.add_argument("--since", required=True, type=_date, metavar="YYYY-MM-DD")
    backfill.add_argument("--until", type=_date, metavar="YYYY-MM-DD",
                          help="last day, included (default: today, UTC)")
    backfill.add_argument("--alert", action="store_true",
                          help="alert the watches on papers new to the database")
    backfill.add_argument("--max", type=_positive, default=10_000, dest="max_papers",
                          help="arXiv: at most this many papers (default 10000)")
    return parser


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (expected YYYY-MM-DD)") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _config(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config)
    if getattr(args, "db", None):
        cfg = replace(cfg, database=replace(cfg.database, url=args.db))
    return cfg


DEMO_INTRO = """paperwatch demo — a console chat on a throwaway database.
Try:  /watch federated learning     (then)  /publish   to release today's sample papers.
Also: /watches  /unwatch 1  /mute 2h  /unmute  /help  /help watch  /quit"""


async def _demo() -> None:
    with tempfile.TemporaryDirectory(prefix="paperwatch-demo-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}"
        cfg = replace(Config(), database=replace(Config().database, url=url))
        async with App(cfg) as app:
            print(DEMO_INTRO, flush=True)
            await app.run_console(demo=True, prompt=sys.stdin.isatty())


async def _console(cfg: Config) -> None:
    async with App(cfg) as app:
        await app.run_console(prompt=sys.stdin.isatty())


async def _ingest(cfg: Config, path: str) -> int:
    async with App(cfg) as app:
        print(await app.ingest_file(path))
    return 0


async def _run(cfg: Config, role: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with App(cfg) as app:
        await app.run(stop, role=role)


async def _upgrade(cfg: Config) -> None:
    engine = db.create_engine(cfg.database.url)
    try:
        await db.upgrade(engine)
        print(f"database at revision {await db.current_revision(engine)}")
    finally:
        await engine.dispose()


async def _check(cfg: Config) -> int:
    engine = db.create_engine(cfg.database.url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        print(f"database: ok ({engine.url.render_as_string(hide_password=True)})")
    except Exception as exc:  # report any driver error as one line
        print(f"database: cannot connect: {exc.__class__.__name__}: {exc}")
        return 1
    finally:
        await engine.dispose()
    try:
        require_tokens(cfg)
    except ConfigError as exc:
        print(exc)
        return 1
    for name, section in (("telegram", cfg.telegram), ("discord", cfg.discord)):
        print(f"{name}: {'enabled' if section.enabled else 'disabled'}")
    print("configuration: ok")
    return 0


async def _backfill(cfg: Config, args: argparse.Namespace) -> int:
    async with App(cfg) as app:
        try:
            report = await backfill(app.pipeline, cfg.sources, args.source, args.since,
                                    args.until or app.clock().date(), alert=args.alert,
                                    max_papers=args.max_papers)
        except BackfillError as exc:
            print(f"backfill: {exc}", file=sys.stderr)
            return 2
    print(report)
    return 1 if report.errors and not report.fetched else 0


async def _status(cfg: Config) -> None:
    # straight to the database: no migration and no watch index, so it is cheap on a live bot
    engine = db.create_engine(cfg.database.url)
    try:
        print(await queue_report(db.session_factory(engine)))
    finally:
        await engine.dispose()


def _secrets(cfg: Config) -> list[str]:
    password = make_url(cfg.database.url).password
    return [cfg.telegram.token, cfg.telegram.webhook_secret, cfg.discord.token,
            str(password) if password else ""]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging("text", "WARNING")
    try:
        if args.command == "demo":
            asyncio.run(_demo())
            return 0
        cfg = _config(args)
        configure_logging(cfg.logging.format,
                          cfg.logging.level if args.command == "run" else "WARNING",
                          secrets=_secrets(cfg))
        if args.command == "console":
            asyncio.run(_console(cfg))
        elif args.command == "ingest":
            return asyncio.run(_ingest(cfg, args.file))
        elif args.command == "run":
            require_tokens(cfg)
            asyncio.run(_run(cfg, args.role or cfg.run.role))
        elif args.command == "db":
            asyncio.run(_upgrade(cfg))
        elif args.command == "check-config":
            return asyncio.run(_check(cfg))
        elif args.command == "backfill":
            return asyncio.run(_backfill(cfg, args))
        elif args.command == "status":
            asyncio.run(_status(cfg))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
