"""`paperwatch run` as real processes against a fake Telegram Bot API: a gateway that
receives commands, a separate worker that only sends, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.fakes.hf_api import FakeHFAPI, hf_item
from tests.fakes.telegram_api import FakeTelegramAPI, chat, user
from tests.helpers import paper_item, run_config, write_jsonl

ANN = chat(4242)


async def _spawn(config: Path, fake: FakeTelegramAPI, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PAPERWATCH_TELEGRAM_TOKEN": fake.token}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, "--config", str(config), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def _stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _out, err = await asyncio.wait_for(process.communicate(), timeout=20)
    return process.returncode, err.decode()


async def test_gateway_receives_worker_sends_and_both_stop_cleanly(tmp_path, db_url):
    async with FakeTelegramAPI() as fake:
        config = run_config(tmp_path, fake, db_url)
        gateway = await _spawn(config, fake, "run", "--role", "gateway")
        try:
            await fake.push_command(ANN, "/watch federated learning")
            reply = await fake.next_sent(4242, timeout=20)
            assert "Watching “federated learning”" in reply.plain
            papers = write_jsonl(tmp_path / "p.jsonl",
                                 [paper_item("2601.11111", "Federated learning at scale")])
            ingest = await _spawn(config, fake, "ingest", str(papers))
            out, err = await asyncio.wait_for(ingest.communicate(), timeout=60)
            assert "1 alert queued" in out.decode(), err.decode()
            await asyncio.sleep(1.0)
            assert len(fake.accepted(4242)) == 1  # the gateway role does not deliver
            worker = await _spawn(config, fake, "run", "--role", "worker")
            try:
                alert = await fake.next_sent(4242, after=1, timeout=20)
                assert "Federated learning at scale" in alert.plain
            finally:
                code, err = await _stop(worker)
                assert code == 0, err
        finally:
            code, err = await _stop(gateway)
            assert code == 0, err
        # Only the gateway set up polling (deleteWebhook + getUpdates); the worker only sent.
        assert len(fake.method_calls("deleteWebhook")) == 1
        assert len(fake.method_calls("getMe")) == 2
        assert [s.plain for s in fake.accepted(4242)].count(alert.plain) == 1


async def test_the_whole_bot_polls_hf_stores_the_first_fetch_then_alerts_new_papers(
        tmp_path, db_url):
    today = datetime.now(UTC).date().isoformat()
    async with FakeTelegramAPI() as fake, FakeHFAPI() as hf:
        hf.set_day(today, [hf_item("2611.00001", "Federated learning, already listed", 5)])
        config = run_config(tmp_path, fake, db_url, hf_url=hf.base_url)
        bot = await _spawn(config, fake, "run")
        try:
            await fake.push_command(ANN, "/watch federated learning")
            assert "Watching" in (await fake.next_sent(4242, timeout=20)).plain
            await hf.wait_requests(2, timeout=20)  # the first fetch: today and yesterday
            hf.set_day(today, [hf_item("2611.00001", "Federated learning, already listed", 9),
                               hf_item("2611.00002", "Federated learning, new today", 1)])
            alert = await fake.next_sent(4242, after=1, timeout=40)  # the next poll, 10 s on
            assert "Federated learning, new today" in alert.plain
            assert "already listed" not in alert.plain  # the first fetch alerts nobody
            status_before = len(fake.accepted(4242))
            await fake.push_command(ANN, "/status")
            status = await fake.next_sent(4242, after=status_before, timeout=20)
            assert "Source hf: last success" in status.plain
        finally:
            code, err = await _stop(bot)
            assert code == 0, err


async def test_the_whole_bot_posts_a_groups_daily_trending_list_from_the_live_hf_list(
        tmp_path, db_url):
    today = datetime.now(UTC).date().isoformat()
    group = chat(-4343, "supergroup", "Reading group")
    async with FakeTelegramAPI() as fake, FakeHFAPI() as hf:
        fake.set_member(-4343, 77, "creator")
        hf.set_day(today, [hf_item("2611.00011", "Modest paper", 3),
                           hf_item("2611.00012", "Most upvoted paper", 90),
                           hf_item("2611.00013", "Second paper", 40)])
        bot = await _spawn(run_config(tmp_path, fake, db_url, hf_url=hf.base_url), fake, "run")
        try:
            # 00:00 UTC has always passed today: the post is due at once
            await fake.push_command(group, "/daily on 00:00 UTC top 2", user(77, "Cy"))
            answer = await fake.next_sent(-4343, timeout=20)
            assert "Daily trending post at 00:00 UTC: top 2" in answer.plain
            post = await fake.next_sent(-4343, after=1, timeout=30)
            assert post.plain.startswith("Trending papers")
            assert post.plain.index("Most upvoted paper") < post.plain.index("Second paper")
            assert "Modest paper" not in post.plain  # top 2 only
            assert any(q.get("sort") == "trending" for q in hf.page_requests(today))  # live
        finally:
            code, err = await _stop(bot)
            assert code == 0, err
        assert len(fake.accepted(-4343)) == 2  # one answer, one post: never twice
