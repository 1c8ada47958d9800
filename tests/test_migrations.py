"""Alembic migrations: they build exactly the schema the models describe, go down and up
again cleanly, and several processes upgrading at once end on one head, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import asyncio
import sys

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from storage import db
from storage.models import Base


async def test_migrations_match_the_models_and_round_trip(db_url):
    engine = db.create_engine(db_url)
    try:
        await db.upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        assert diff == []
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(db.alembic_config(c), "base"))
        assert await db.current_revision(engine) is None
        await db.upgrade(engine)
        head = await db.current_revision(engine)
        assert head is not None
        await db.upgrade(engine)  # a second upgrade at start changes nothing
        assert await db.current_revision(engine) == head
    finally:
        await engine.dispose()


async def test_concurrent_upgrades_of_a_fresh_database_all_succeed_with_one_head(db_url):
    # processes starting together all run the migrations: on PostgreSQL an advisory lock
    # makes them take turns and the later ones find the schema current
    processes = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "db", "upgrade", "--db", db_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE) for _ in range(6)]
    outputs = await asyncio.gather(*(p.communicate() for p in processes))
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
    engine = db.create_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
        assert rows == [(db.head_revision(),)]
    finally:
        await engine.dispose()
