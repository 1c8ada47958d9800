"""Alembic migrations: they build exactly the schema the models describe, and go down and
up again cleanly, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

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
