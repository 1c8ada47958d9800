"""Three worker processes on one PostgreSQL database deliver a queue through the fake Bot
API while one of them is killed with SIGKILL: nothing is lost, and at most the killed
process's in-flight messages are sent twice."""

from __future__ import annotations

import pytest

from bench.cluster import WORKER_SETTINGS, run_once
from tests.conftest import POSTGRES_URL

pytestmark = pytest.mark.skipif(not POSTGRES_URL, reason="needs PAPERWATCH_TEST_POSTGRES_URL")
CONCURRENCY = int(WORKER_SETTINGS.split("concurrency = ")[1].split()[0])


async def test_three_processes_one_killed_nothing_lost_duplicates_bounded():
    result = await run_once(POSTGRES_URL, alerts=1500, processes=3, kill_one_after=300,
                            lease=2.0, timeout=240)
    assert result.lost == 0 and result.not_sent_rows == 0
    assert result.duplicated <= CONCURRENCY  # only what was in flight at the kill
