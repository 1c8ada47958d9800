"""Issue 15 (Low): terminal control characters in paper text (ESC sequences such as
`\\u001b[2J`, BEL, backspace, NUL, DEL and the C1 controls such as CSI `\\u009b`) are
stripped at the source boundary, so neither the console nor Telegram ever gets them: an
HF-shaped file through `paperwatch ingest`'s reader, and an HF poll through the fake HF API,
alerted to the console and through the real python-telegram-bot to the fake Bot API."""

from __future__ import annotations

import asyncio
import json
import unicodedata
from io import StringIO

import aiohttp

from adapters.telegram_bot import TelegramAdapter
from bot.config import HFSourceConfig, HttpConfig, TelegramConfig
from bot.sources.hf_daily import HFDailySource
from bot.sources.poller import SourcePoller
from bot.types import ChatRef, Incoming
from storage import repo
from tests.fakes.hf_api import hf_item
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.helpers import no_sleep

JUNK = "\u001b[2J\u0007\u0008\u0000\u007f\u009b31m\u0085\u001b]0;pwned\u0007"
TITLE = f"Robot learning {JUNK}today"
CLEAN_TITLE = "Robot learning [2J31m ]0;pwnedtoday"  # ESC, BEL... gone; NEL is a space


def item(pid: str) -> dict:
    return hf_item(pid, TITLE, 3, summary=f"Robots{JUNK} learn.", authors=[{"name": f"A{JUNK}B"}],
                   ai_summary=f"TL{JUNK};DR", organization={"name": "o", "fullname": f"Org{JUNK}"},
                   publishedAt="2026-11-24T08:00:00.000Z")


def controls(text: str) -> list[str]:
    """The control characters in text, newlines aside."""
    return [hex(ord(ch)) for ch in text if unicodedata.category(ch) == "Cc" and ch != "\n"]


async def test_controls_never_reach_the_console_or_the_database(app, tmp_path):
    out = StringIO()
    console = app.console(out=out)
    await console.push("/watch robot learning")
    path = tmp_path / "day.json"
    path.write_text(json.dumps([item("2611.30001")]))
    await console.push(f"/ingest {path}")
    await app.flush_deliveries()
    shown = out.getvalue()
    assert len(console.sent) == 1
    assert CLEAN_TITLE in shown
    assert controls(shown) == [], controls(shown)
    async with app.sessions() as session:
        row = (await repo.papers_by_id(session, ["2611.30001"]))["2611.30001"]
    for text in (row.title, row.summary, row.ai_summary, row.organization or "", *row.authors):
        assert controls(text) == [], (text, controls(text))
    assert row.title == CLEAN_TITLE


async def test_controls_from_an_hf_poll_never_reach_telegram(app, hf, clock):
    async with FakeTelegramAPI() as fake, aiohttp.ClientSession() as http:
        adapter = TelegramAdapter(TelegramConfig(enabled=True, token=fake.token,
                                                 api_base_url=fake.base_url), app.commands)
        await asyncio.wait_for(adapter.start(receive=False), 10)
        app.add_sender(adapter)
        try:
            reply = await app.commands.dispatch(Incoming(ChatRef("telegram", "4401"),
                                                         "/watch robot learning"))
            assert reply.ok
            source = HFDailySource(HFSourceConfig(base_url=hf.base_url),
                                   HttpConfig(timeout_seconds=5, max_retries=0),
                                   sleep=no_sleep)
            poller = SourcePoller([source], app.pipeline, app.sessions, clock,
                                  http_session=http)
            hf.set_day("2026-11-24", [hf_item("2611.30000", "Seed", 1)])
            await poller.run_once(source)  # the first fetch alerts nobody
            hf.set_day("2026-11-24", [hf_item("2611.30000", "Seed", 1), item("2611.30002")])
            assert (await poller.run_once(source)).new == 1
            assert await app.flush_deliveries() == 1
        finally:
            await asyncio.wait_for(adapter.stop(), 10)
    [sent] = fake.accepted(4401)
    assert CLEAN_TITLE in sent.plain
    assert controls(sent.text) == [] and controls(sent.plain) == []
