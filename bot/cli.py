"""The `paperwatch` command line: demo, console, ingest, run, db upgrade, check-config, status,
backfill.

Run as `paperwatch SUBCOMMAND` (installed console script) or `python -m bot SUBCOMMAND`.
A known failure (configuration, database, platform refusal, port in use) ends the command
with one line on stderr and a non-zero exit (see bot/ops/failures.py); every configured secret
is scrubbed from everything written to stdout and stderr, tracebacks included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.app import ROLES, App
from bot.config import Config, ConfigError, load_config, require_tokens
from bot.ops.failures import FAILURE_EXIT, StartupError, one_line
from bot.ops.logs import configure_logging, install_scrubbing
from bot.ops.report import queue_report
from bot.sources.backfill import SOURCES, BackfillError, backfill
from storage import db


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paperwatch",
                                     description="Research-paper alerts in your chats.")
    sub = parser.add_subparsers(dest="command", required=True)
    parser.set_defaults(uses_config=True)

    def with_config(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--config", metavar="FILE", help="TOML configuration file")
        p.add_argument("--db", metavar="URL", help="database URL (overrides the config)")
        return p

    run = with_config(sub.add_parser("run", help="run the bot: every enabled adapter and source"))
    run.add_argument("--role", choices=ROLES, default=None,
                     help="the part of the work this process does (default: run.role, 'all')")
    run.set_defaults(func=_cmd_run)
    demo = sub.add_parser("demo", help="console chat with bundled sample papers on a throwaway DB")
    demo.set_defaults(func=_cmd_demo, uses_config=False)
    console = with_config(sub.add_parser("console", help="console chat on the configured database"))
    console.set_defaults(func=_cmd_console)
    ingest = with_config(sub.add_parser("ingest", help="ingest papers from JSON / JSON Lines"))
    ingest.add_argument("file", metavar="FILE")
    ingest.set_defaults(func=_cmd_ingest)
    dbp = sub.add_parser("db", help="database maintenance")
    dbsub = dbp.add_subparsers(dest="db_command", required=True)
    upgrade = with_config(dbsub.add_parser("upgrade", help="apply Alembic migrations"))
    upgrade.set_defaults(func=_cmd_upgrade)
    check = with_config(sub.add_parser("check-config",
                                       help="validate the configuration and connect"))
    check.add_argument("--online", action="store_true",
                       help="also ask the enabled platforms whether they accept the tokens")
    check.set_defaults(func=_cmd_check)
    status = with_config(sub.add_parser("status", help="the delivery queue and daily posts, now"))
    status.set_defaults(func=_cmd_status)
    backfill = with_config(sub.add_parser(
        "backfill", help="fetch a source's history over a date range and store it"))
    backfill.set_defaults(func=_cmd_backfill)
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


def _readable_file(path: str) -> None:
    """Before the database is opened: a file that cannot be read is an error (exit 1)."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise StartupError(f"ingest: can't read {path}: {exc.strerror or exc}") from None


async def _ingest(cfg: Config, path: str) -> int:
    _readable_file(path)
    async with App(cfg) as app:
        print(await app.ingest_file(path))
    return 0


async def _run(cfg: Config, role: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    def on_signal() -> None:
        if stop.is_set():  # a second signal: exit at once (committed work is safe)
            os._exit(130)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    async with App(cfg) as app:
        await app.run(stop, role=role)


async def _upgrade(cfg: Config) -> None:
    engine = db.create_engine(cfg.database.url)
    try:
        await db.prepare(engine, upgrade_schema=True)
        print(f"database at revision {await db.current_revision(engine)}")
    finally:
        await engine.dispose()


def _missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file of `url` if it does not exist yet (connecting would create it)."""
    path = db.sqlite_path(url)
    return path if path is not None and not path.exists() else None


def _no_file_line(path: Path) -> str:
    if not path.parent.is_dir():
        return (f"database: the directory {path.parent} does not exist: create it, or point "
                "database.url at another file")
    return f"database: {path} does not exist yet: create it with `{db.UPGRADE_COMMAND}`"


async def _check_database(cfg: Config) -> bool:
    """Print the database and schema lines; False if the bot could not start on it."""
    url = cfg.database.url
    missing = _missing_sqlite_file(url)
    if missing is not None:
        if not missing.parent.is_dir():
            print(_no_file_line(missing))
            return False
        print(f"database: {missing} does not exist yet")
        return _report_schema(cfg, db.SchemaState(None, db.head_revision()))
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        state = await db.schema_state(engine)
        if state.status != "missing":
            await db.check_writable(engine)
        print(f"database: ok ({db.where(url)})")
    except Exception as exc:  # report any driver error as one line
        reason = db.explain(exc, url) or f"{exc.__class__.__name__}: {exc}"
        print(f"database: cannot connect: {reason.removeprefix('database: ')}")
        return False
    finally:
        await engine.dispose()
    return _report_schema(cfg, state)


def _report_schema(cfg: Config, state: db.SchemaState) -> bool:
    print(f"schema: {state.describe()}")
    if state.status in ("missing", "behind") and cfg.database.auto_upgrade:
        print("  (database.auto_upgrade is on: `paperwatch run` also upgrades it at start)")
        return True
    return state.status == "current"


async def _ask_telegram(http: aiohttp.ClientSession, cfg: Config) -> tuple[bool, str]:
    base = cfg.telegram.api_base_url
    async with http.get(f"{base}{cfg.telegram.token}/getMe") as resp:
        if resp.status == 401:
            return False, "Telegram refused the token (401 Unauthorized)"
        if resp.status == 404:
            return False, (f"{base} answered 404 Not Found: check telegram.api_base_url "
                           "and the form of the token")
        try:
            me = (await resp.json(content_type=None))["result"]
            return True, f"Telegram knows the bot as @{me['username']} ({me['first_name']})"
        except (ValueError, KeyError, TypeError):
            return False, f"{base} answered {resp.status} without a Bot API answer"


async def _ask_discord(http: aiohttp.ClientSession, cfg: Config) -> tuple[bool, str]:
    base = cfg.discord.api_base_url.rstrip("/")
    headers = {"Authorization": f"Bot {cfg.discord.token}"}
    async with http.get(f"{base}/users/@me", headers=headers) as resp:
        if resp.status == 401:
            return False, "Discord refused the token (401 Unauthorized)"
        try:
            me = await resp.json(content_type=None)
            return True, f"Discord knows the bot as {me['username']} (id {me['id']})"
        except (ValueError, KeyError, TypeError):
            return False, f"{base} answered {resp.status} without a user"


async def _check_platforms(cfg: Config, online: bool) -> bool:
    asks = {"telegram": _ask_telegram, "discord": _ask_discord}
    ok = True
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        for name, section in (("telegram", cfg.telegram), ("discord", cfg.discord)):
            if not section.enabled:
                print(f"{name}: disabled")
                continue
            if not online:
                print(f"{name}: enabled (not asked: `paperwatch check-config --online` asks "
                      f"{name.capitalize()} about the token)")
                continue
            try:
                accepted, line = await asks[name](http, cfg)
            except (aiohttp.ClientError, TimeoutError) as exc:
                accepted, line = False, f"cannot reach it: {exc.__class__.__name__}: {exc}"
            print(f"{name}: {'enabled, ' if accepted else 'refused: '}{line}")
            ok = ok and accepted
    return ok


async def _check(cfg: Config, online: bool = False) -> int:
    if not await _check_database(cfg):
        return FAILURE_EXIT
    try:
        require_tokens(cfg)
    except ConfigError as exc:
        print(exc)
        return FAILURE_EXIT
    if not await _check_platforms(cfg, online):
        return FAILURE_EXIT
    print("configuration: ok")
    return 0


def _until(args: argparse.Namespace) -> date | None:
    """--until as given; without it, a --since after today (UTC) is refused here, by name."""
    today = datetime.now(UTC).date()
    if args.until is None and args.since > today:
        raise BackfillError(f"--since {args.since} is in the future (today is {today}, UTC)")
    return args.until


async def _backfill(cfg: Config, args: argparse.Namespace) -> int:
    try:
        until = _until(args)
    except BackfillError as exc:  # before the database is opened
        print(f"backfill: {exc}", file=sys.stderr)
        return 2
    async with App(cfg) as app:
        try:
            report = await backfill(app.pipeline, cfg.sources, args.source, args.since,
                                    until or app.clock().date(), alert=args.alert,
                                    max_papers=args.max_papers)
        except BackfillError as exc:
            print(f"backfill: {exc}", file=sys.stderr)
            return 2
    print(report)
    return 1 if report.errors and not report.fetched else 0


async def _status(cfg: Config) -> None:
    # straight to the database: no migration and no watch index, so it is cheap on a live
    # bot; a SQLite file that is not there is not created
    missing = _missing_sqlite_file(cfg.database.url)
    if missing is not None:
        raise db.DatabaseProblem(_no_file_line(missing))
    engine = db.create_engine(cfg.database.url)
    try:
        await db.prepare(engine, upgrade_schema=False, write=False)
        print(await queue_report(db.session_factory(engine)))
    finally:
        await engine.dispose()


def _secrets(cfg: Config) -> list[str]:
    try:
        password = make_url(cfg.database.url).password
    except ArgumentError:
        password = None
    return [cfg.telegram.token, cfg.telegram.webhook_secret, cfg.discord.token,
            str(password) if password else ""]


# --- one function per subcommand (set_defaults(func=...)): the exit status -------------

Subcommand = Callable[[argparse.Namespace, Config], int]


def _cmd_demo(_args: argparse.Namespace, _cfg: Config) -> int:
    asyncio.run(_demo())
    return 0


def _cmd_console(_args: argparse.Namespace, cfg: Config) -> int:
    asyncio.run(_console(cfg))
    return 0


def _cmd_ingest(args: argparse.Namespace, cfg: Config) -> int:
    return asyncio.run(_ingest(cfg, args.file))


def _cmd_run(args: argparse.Namespace, cfg: Config) -> int:
    require_tokens(cfg)
    asyncio.run(_run(cfg, args.role or cfg.run.role))
    return 0


def _cmd_upgrade(_args: argparse.Namespace, cfg: Config) -> int:
    asyncio.run(_upgrade(cfg))
    return 0


def _cmd_check(args: argparse.Namespace, cfg: Config) -> int:
    return asyncio.run(_check(cfg, online=args.online))


def _cmd_backfill(args: argparse.Namespace, cfg: Config) -> int:
    return asyncio.run(_backfill(cfg, args))


def _cmd_status(_args: argparse.Namespace, cfg: Config) -> int:
    asyncio.run(_status(cfg))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging("text", "WARNING")
    cfg: Config | None = None
    func: Subcommand = args.func
    try:
        if not args.uses_config:
            return func(args, Config())
        cfg = _config(args)
        secrets = _secrets(cfg)
        install_scrubbing(secrets)
        configure_logging(cfg.logging.format,
                          cfg.logging.level if args.command == "run" else "WARNING",
                          secrets=secrets)
        return func(args, cfg)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `paperwatch status | head`: the reader left; say nothing more (not even at exit)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:
        failure = one_line(exc, cfg)
        if failure is None:
            raise  # a bug: its traceback (scrubbed by the hooks) is what a report needs
        print(failure.line, file=sys.stderr)
        return failure.exit_code
