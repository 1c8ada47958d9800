"""Issue 15 (Medium): a SQLite database in a missing directory, or a path that is a
directory, is refused with its one line before any connection is tried (a failed aiosqlite
connect stops its worker thread without waiting for it, and that thread could print a
traceback after the line once the event loop had closed: 1 run in 6 of `paperwatch ingest`)."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from storage import db


@pytest.mark.parametrize(("where", "line"), [
    ("no/such/dir/pw.db", "the directory {tmp}/no/such/dir does not exist"),
    ("dir.db", "{tmp}/dir.db is a directory: point database.url at a file"),
])
async def test_an_unusable_sqlite_path_is_refused_before_any_connect(tmp_path, where, line):
    (tmp_path / "dir.db").mkdir()
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / where}")
    attempts: list[object] = []
    event.listen(engine.sync_engine, "do_connect", lambda *args: attempts.append(args))
    try:
        with pytest.raises(db.DatabaseProblem) as refused:
            await db.prepare(engine, upgrade_schema=True)
    finally:
        await engine.dispose()
    assert line.format(tmp=tmp_path) in str(refused.value)
    assert attempts == []
    assert not (tmp_path / "no").exists()


async def test_a_usable_file_still_connects(tmp_path):
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}")
    try:
        await db.prepare(engine, upgrade_schema=True)
        assert (await db.schema_state(engine)).status == "current"
    finally:
        await engine.dispose()
