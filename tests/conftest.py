"""Shared fixtures: a real SQLite file per test (and PostgreSQL when configured), a clock
the test controls, and the whole app opened on them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest

from bot.app import App
from bot.config import Config
from tests.fakes.hf_api import FakeHFAPI
from tests.helpers import fresh_postgres_database

POSTGRES_URL = os.environ.get("PAPERWATCH_TEST_POSTGRES_URL", "")


class FakeClock:
    """A clock tests move by hand: `clock()` is now, `clock.advance(minutes=5)` moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _db_params() -> list[str]:
    return ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@pytest.fixture(params=_db_params())
async def db_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """A fresh database: a SQLite file, or a private PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'paperwatch.db'}"
        return
    async with fresh_postgres_database(POSTGRES_URL) as url:
        yield url

@pytest.fixture
def config(db_url: str) -> Config:
    cfg = Config()
    # no network in tests: a test that wants a source points it at a fake server
    sources = replace(cfg.sources, hf=replace(cfg.sources.hf, enabled=False))
    return replace(cfg, database=replace(cfg.database, url=db_url), sources=sources)


@pytest.fixture
async def app(config: Config, clock: FakeClock) -> AsyncIterator[App]:
    async with App(config, clock=clock) as opened:
        yield opened


@pytest.fixture
def console_out() -> StringIO:
    return StringIO()


@pytest.fixture
def console(app: App, console_out: StringIO):
    return app.console(out=console_out, demo=True)


@pytest.fixture
async def hf() -> AsyncIterator[FakeHFAPI]:
    """A fake Hugging Face Daily Papers API on 127.0.0.1."""
    async with FakeHFAPI() as fake:
        yield fake
