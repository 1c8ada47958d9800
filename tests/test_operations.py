"""Operations: the /healthz and /metrics endpoint over real HTTP, and log lines without
secrets."""

from __future__ import annotations

import json
import logging

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from bot.ops.health import HealthServer
from bot.ops.logs import JsonFormatter, KeyValueFormatter, ScrubSecrets
from bot.ops.metrics import Metrics
from storage import db, repo
from tests.helpers import ScriptedSender, paper_item, write_jsonl


class _Adapter(ScriptedSender):
    connected = True


async def test_healthz_and_metrics(app, clock, console, tmp_path):
    adapter = _Adapter(platform="telegram")
    app.add_sender(adapter)
    server = app.health_server()
    server.port = 0
    port = await server.start()
    try:
        await console.push("/watch optimal transport")
        await console.push(f"/ingest {write_jsonl(tmp_path / 'p.jsonl', [paper_item('2601.00001', 'Optimal transport'), paper_item('2601.00002', 'Other')])}")
        async with app.sessions.begin() as session:
            await repo.save_source_state(session, "hf", last_success_at=clock(), last_status="ok",
                                         last_note="12 papers")
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                body = await resp.json()
                assert resp.status == 200 and body["status"] == "ok"
                assert body["sources"]["hf"]["note"] == "12 papers"
                assert body["adapters"]["telegram"] == "connected"
            adapter.connected = False
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 503
                assert (await resp.json())["adapters"]["telegram"] == "disconnected"
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                text = await resp.text()
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(text) for s in family.samples}
        assert samples[("paperwatch_papers_ingested_total", (("source", "ingest"),))] == 2
        assert samples[("paperwatch_matches_total", ())] == 1
        assert samples[("paperwatch_deliveries", (("state", "sent"),))] == 1
        assert samples[("paperwatch_queue_depth", ())] == 0
        assert samples[("paperwatch_sends_total",
                        (("outcome", "sent"), ("platform", "console")))] == 1
        assert samples[("paperwatch_send_latency_seconds_count", (("platform", "console"),))] == 1
    finally:
        await server.stop()


async def test_healthz_reports_an_unreachable_database(app, clock):
    engine = db.create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/nothing")
    server = HealthServer(db.session_factory(engine), Metrics(), {}, clock, port=0)
    port = await server.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 503
                assert (await resp.json())["database"].startswith("error")
            async with http.get(f"http://127.0.0.1:{port}/metrics") as resp:
                families = text_string_to_metric_families(await resp.text())
                up = {s.name: s.value for f in families for s in f.samples}
                assert up["paperwatch_database_up"] == 0
    finally:
        await server.stop()
        await engine.dispose()


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("paperwatch", logging.INFO, __file__, 1, msg, args, None)


def test_log_lines_scrub_tokens_in_both_formats():
    token = "123456:ABC-secret-token"
    record = _record("POST https://api.telegram.org/bot%s/sendMessage", token)
    assert ScrubSecrets([token]).filter(record)
    line = KeyValueFormatter().format(record)
    assert token not in line and "bot***/sendMessage" in line and "level=info" in line
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"].endswith("bot***/sendMessage") and entry["level"] == "info"
