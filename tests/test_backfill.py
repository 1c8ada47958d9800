"""`paperwatch backfill`: history from fake HF and arXiv servers on 127.0.0.1 through the real
aiohttp client, the real pipeline and database; stored without alerts unless asked, a day
that fails is reported while the others are kept, progress as a bar or plain lines."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from io import StringIO

import pytest
from sqlalchemy import func, select

from bot.config import ArxivSourceConfig, HFSourceConfig, HttpConfig, SourcesConfig
from bot.sources.arxiv import ArxivExportClient
from bot.sources.backfill import BackfillError, Progress, backfill
from storage.models import Delivery, PaperRow
from tests.fakes.arxiv_api import FakeArxivAPI, export_entry
from tests.fakes.hf_api import FakeHFAPI, hf_item
from tests.helpers import no_sleep

HTTP = HttpConfig(timeout_seconds=0.5, max_retries=1, backoff_base_seconds=0.01)


def sources(hf: FakeHFAPI | None = None, arxiv: FakeArxivAPI | None = None,
            include_cross: bool = True) -> SourcesConfig:
    cfg = SourcesConfig(http=HTTP)
    if hf is not None:
        cfg = SourcesConfig(hf=HFSourceConfig(base_url=hf.base_url), http=HTTP)
    if arxiv is not None:
        cfg = SourcesConfig(arxiv=ArxivSourceConfig(
            categories=("cs.LG",), api_base_url=arxiv.base_url, include_cross=include_cross),
            http=HTTP)
    return cfg


async def count(app, model) -> int:
    async with app.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_hf_days_are_stored_without_alerts_and_a_failed_day_is_reported(app, hf, console):
    await console.push("/watch federated learning")
    hf.set_day("2026-11-20", [hf_item("2611.00001", "Federated learning at scale", 5)])
    hf.set_day("2026-11-21", [hf_item("2611.00002", "Federated learning, again", 3),
                              hf_item("2611.00003", "Protein folding", 1)])
    hf.fail("status", status=500, times=5, match={"date": "2026-11-22"})
    out = StringIO()
    report = await backfill(app.pipeline, sources(hf=hf), "hf", date(2026, 11, 20),
                            date(2026, 11, 22), progress=Progress("backfill hf", out, tty=False),
                            sleep=no_sleep)
    assert (report.fetched, report.new, report.deliveries) == (3, 3, 0)
    assert len(report.errors) == 1 and report.errors[0].startswith("2026-11-22")
    assert await count(app, PaperRow) == 3 and await count(app, Delivery) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == "backfill hf: 1/3 days; 2026-11-20: 1 paper, 1 new"
    assert lines[2].startswith("backfill hf: 3/3 days; 2026-11-22: not read")
    # again with --alert: nothing is new any more, so nothing alerts and nothing doubles
    again = await backfill(app.pipeline, sources(hf=hf), "hf", date(2026, 11, 20),
                           date(2026, 11, 21), alert=True, sleep=no_sleep,
                           progress=Progress("x", StringIO(), tty=False))
    assert (again.fetched, again.new, again.deliveries) == (3, 0, 0)
    assert await count(app, PaperRow) == 3


async def test_hf_backfill_with_alert_alerts_papers_new_to_the_database(app, hf, console):
    await console.push("/watch federated learning")
    hf.set_day("2026-11-23", [hf_item("2611.00004", "Federated learning for clinics", 2)])
    report = await backfill(app.pipeline, sources(hf=hf), "hf", date(2026, 11, 23),
                            date(2026, 11, 23), alert=True, sleep=no_sleep,
                            progress=Progress("x", StringIO(), tty=False))
    assert report.deliveries == 1
    await app.flush_deliveries()
    assert "Federated learning for clinics" in console.sent[0].body.plain()


async def test_arxiv_pages_the_export_api_with_a_bar_and_drops_unwanted_cross_lists(app):
    async with FakeArxivAPI() as arxiv:
        arxiv.export_entries = [export_entry(f"2611.{n:05d}", f"Paper {n}") for n in range(5)]
        arxiv.export_entries.append(export_entry("2611.09999", "Cross-listed",
                                                 categories=("stat.ML", "cs.LG")))
        client = ArxivExportClient(sources(arxiv=arxiv).arxiv, HTTP, interval=0.0,
                                   sleep=no_sleep, page_size=2)
        out = StringIO()
        report = await backfill(app.pipeline, sources(arxiv=arxiv, include_cross=False),
                                "arxiv", date(2026, 11, 1), date(2026, 11, 23), export=client,
                                progress=Progress("backfill arxiv", out, tty=True))
        queries = arxiv.queries()
    assert (report.fetched, report.new, report.errors) == (5, 5, [])
    assert "submittedDate:[202611010000 TO 202611232359]" in queries[0]["search_query"]
    assert [q["start"] for q in queries] == ["0", "2", "4"]
    bar = out.getvalue()
    assert "\rbackfill arxiv [################--------] 4/6 papers" in bar
    assert bar.endswith("6/6 papers\x1b[K\n")


async def test_bad_ranges_are_refused_before_any_request(app, hf):
    with pytest.raises(BackfillError, match="after"):
        await backfill(app.pipeline, sources(hf=hf), "hf", date(2026, 11, 20),
                       date(2026, 11, 1))
    with pytest.raises(BackfillError, match="at most 366 days"):
        await backfill(app.pipeline, sources(hf=hf), "hf", date(2024, 1, 1), date(2026, 1, 1))
    assert hf.requests == []


def test_the_command_line_reports_and_refuses(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    bad = subprocess.run([sys.executable, "-m", "bot", "backfill", "--source", "hf",
                          "--since", "yesterday", "--db", url], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "not a date: 'yesterday'" in bad.stderr
    future = subprocess.run([sys.executable, "-m", "bot", "backfill", "--source", "hf",
                             "--since", "2999-01-01", "--db", url], capture_output=True,
                            text=True, timeout=60)
    assert future.returncode == 2 and "is in the future" in future.stderr
    none = subprocess.run([sys.executable, "-m", "bot", "backfill", "--source", "arxiv",
                           "--since", "2026-11-01", "--max", "0", "--db", url],
                          capture_output=True, text=True, timeout=60)
    assert none.returncode == 2 and "at least 1, got '0'" in none.stderr
