"""Engine, session factory and schema upgrades from a database URL.

`sqlite+aiosqlite:///file.db` is the embedded default; `postgresql+asyncpg://...` is for
production. Nothing connects at import time. `prepare(engine)` is what every process
runs at start: the migrations (under a PostgreSQL advisory lock, so processes starting
together do not race), a check that the schema is current and that the database takes
writes; what goes wrong there is raised as one `DatabaseProblem` line for the operator.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers work during a write; busy_timeout waits for a lock instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine for the URL, with the SQLite pragmas paperwatch relies on."""
    engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


# pg_advisory_xact_lock key for schema upgrades ("paper" in ASCII): one upgrade at a time
MIGRATION_LOCK = 0x7061706572
UPGRADE_COMMAND = "paperwatch db upgrade"


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Run the Alembic migrations up to `revision` on this engine's database. On PostgreSQL
    a transaction-scoped advisory lock makes concurrent upgrades wait for each other; the
    later ones then find the schema current and do nothing; on SQLite the write lock does."""
    if engine.dialect.name == "sqlite":
        await _upgrade_sqlite(engine, revision)
        return
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(lambda sync_conn: command.upgrade(alembic_config(sync_conn), revision))


def _begin_immediate(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver's implicit BEGIN skips DDL


async def _upgrade_sqlite(engine: AsyncEngine, revision: str) -> None:
    """The migrations in one BEGIN IMMEDIATE transaction, on an engine of their own: the
    write lock is taken before alembic reads the revision, so a second process waits
    (busy_timeout) and then finds the schema current, and a failed step leaves nothing."""
    own = create_engine(engine.url.render_as_string(hide_password=False))
    event.listen(own.sync_engine, "connect", _begin_immediate)
    event.listen(own.sync_engine, "begin",
                 lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    try:
        async with own.begin() as conn:
            await conn.run_sync(
                lambda sync_conn: command.upgrade(alembic_config(sync_conn), revision))
    finally:
        await own.dispose()


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda c: MigrationContext.configure(c).get_current_revision())


def head_revision() -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


class DatabaseProblem(RuntimeError):
    """A database that cannot be used as it is, phrased as one line saying what to do."""


@dataclass(frozen=True)
class SchemaState:
    current: str | None
    head: str
    known: bool = True  # False: a revision this code does not ship (a newer paperwatch)

    @property
    def status(self) -> str:
        if self.current is None:
            return "missing"
        if not self.known:
            return "newer"
        return "current" if self.current == self.head else "behind"

    def describe(self) -> str:
        if self.current is None:
            return f"missing (latest {self.head}): create it with `{UPGRADE_COMMAND}`"
        if not self.known:
            return (f"newer than this paperwatch (current {self.current}, latest known "
                    f"{self.head}): upgrade paperwatch")
        if self.current != self.head:
            return (f"behind (current {self.current}, latest {self.head}): "
                    f"run `{UPGRADE_COMMAND}`")
        return f"current ({self.head})"


async def schema_state(engine: AsyncEngine) -> SchemaState:
    current = await current_revision(engine)
    scripts = ScriptDirectory.from_config(alembic_config())
    known = current is None or current in {r.revision for r in scripts.walk_revisions()}
    return SchemaState(current, head_revision(), known)


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL (also in the `file:...?uri=true` form); None otherwise."""
    parsed = make_url(url) if isinstance(url, str) else url
    if not parsed.drivername.startswith("sqlite") or not parsed.database:
        return None
    name = parsed.database
    if name == ":memory:" or name.startswith("file::memory:"):
        return None
    if name.startswith("file:"):
        name = name[len("file:"):]
    return Path(name)


def where(url: str | URL) -> str:
    """The database as an operator names it: the file, or the URL without its password."""
    parsed = make_url(url) if isinstance(url, str) else url
    path = sqlite_path(parsed)
    return str(path) if path is not None else parsed.render_as_string(hide_password=True)


def _sqlite_line(message: str, url: URL) -> str | None:
    path = sqlite_path(url)
    if "unable to open database file" in message and path is not None:
        if not path.parent.is_dir():
            return (f"database: the directory {path.parent} does not exist: create it, "
                    "or point database.url at another file")
        if path.is_dir():
            return f"database: {path} is a directory: point database.url at a file"
        return (f"database: cannot open {path}: check that paperwatch may read and write "
                "the file and its directory")
    if "readonly database" in message:
        return (f"database: {where(url)} is read-only: paperwatch needs to write to the file "
                "and its directory (check their permissions)")
    if "file is not a database" in message:
        return f"database: {where(url)} is not a SQLite database: point database.url elsewhere"
    if "database is locked" in message:
        return f"database: {where(url)} is locked by another program: try again later"
    if "no such table" in message:
        return f"database: {where(url)} has no schema yet: create it with `{UPGRADE_COMMAND}`"
    return None


def explain(exc: BaseException, url: str | URL) -> str | None:
    """One line for an error met while opening the database, or None if it is not a
    database problem we know."""
    parsed = make_url(url) if isinstance(url, str) else url
    target = where(parsed)
    if isinstance(exc, DBAPIError):
        message = str(exc.orig) if exc.orig is not None else str(exc)
        first = message.strip().splitlines()[0] if message.strip() else exc.__class__.__name__
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_line(message, parsed) or f"database: {target}: {first}"
        if "does not exist" in first and "database" in first:
            return f"database: {first} (at {target}): create it, or fix database.url"
        if "password authentication failed" in first or "authentication" in first:
            return f"database: {first} (at {target}): check the user and password"
        if "read-only" in first:
            return (f"database: {target} is read-only ({first}): point database.url at a "
                    "server that takes writes")
        return f"database: {target}: {first}"
    if isinstance(exc, socket.gaierror):
        return (f"database: cannot resolve the host {parsed.host!r}: check database.url "
                f"({target})")
    if isinstance(exc, ConnectionRefusedError) or (
            isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED):
        return (f"database: nothing accepts connections at {parsed.host}:{parsed.port or 5432}"
                f" (connection refused): is PostgreSQL running? check database.url ({target})")
    if isinstance(exc, TimeoutError):
        return f"database: connecting to {target} timed out: check database.url and the network"
    if isinstance(exc, OSError):
        return f"database: cannot connect to {target}: {exc.strerror or exc}"
    return None


async def check_writable(engine: AsyncEngine) -> None:
    """A write that is rolled back: fails at start on a read-only file, directory, user
    or server instead of on every send later."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            await conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
        finally:
            await transaction.rollback()


async def prepare(engine: AsyncEngine, *, upgrade_schema: bool, write: bool = True) -> None:
    """The start-up checks every process runs: migrate (if asked), require the current
    schema, and (if `write`) prove the database takes writes. Raises DatabaseProblem."""
    path = sqlite_path(engine.url)
    if path is not None and (path.is_dir() or not path.parent.is_dir()):
        # said before any connect: a failed aiosqlite connect stops its thread without
        # waiting, which can print a traceback once the event loop has closed
        raise DatabaseProblem(_sqlite_line("unable to open database file", engine.url) or "")
    try:
        if upgrade_schema:
            await upgrade(engine)
        state = await schema_state(engine)
        if state.status != "current":
            raise DatabaseProblem(f"database: {where(engine.url)}: schema {state.describe()}")
        if write:
            await check_writable(engine)
    except DatabaseProblem:
        raise
    except Exception as exc:
        line = explain(exc, engine.url)
        if line is None:
            raise
        raise DatabaseProblem(line) from exc
