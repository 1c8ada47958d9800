"""Who gets what when: coalescing, the hourly cap, daily and weekly digests, time zones,
quiet hours, mute and the "while you were away" digest, /status, and the warning in a chat
alerts can't reach. Driven through the commands and the real worker on a real database,
with a clock the test moves."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.delivery.render import AlertItem, alert_messages
from bot.types import ChatRef, Incoming, Paper, PermanentSendError
from storage.models import Chat, Delivery
from tests.helpers import ScriptedSender, paper_item, write_jsonl

ANN = ChatRef("test", "ann")
_ids = itertools.count(1)


@pytest.fixture
def sender(app) -> ScriptedSender:
    sender = ScriptedSender(platform="test")
    app.add_sender(sender)
    return sender


async def say(app, text: str, chat: ChatRef = ANN) -> str:
    return (await app.commands.dispatch(Incoming(chat, text))).body.plain()


async def publish(app, tmp_path, n: int = 1, topic: str = "quantum") -> list[str]:
    """n new papers matching `topic`, ingested now; their titles."""
    titles = [f"{topic.capitalize()} paper {next(_ids)}" for _ in range(n)]
    items = [paper_item(f"2611.{next(_ids):05d}", title) for title in titles]
    out = await app.ingest_file(write_jsonl(tmp_path / f"p{next(_ids)}.jsonl", items))
    assert f"{n} new" in out
    return titles


def texts(sender: ScriptedSender) -> list[str]:
    return [message.body.plain() for _, message in sender.sent]


async def test_a_burst_coalesces_into_one_message_split_only_at_the_limit(app, sender, tmp_path):
    await say(app, "/watch quantum")
    sender.max_chars = 1500
    titles = await publish(app, tmp_path, 40)
    await app.flush_deliveries()
    bodies = texts(sender)
    assert 1 < len(bodies) <= 4
    assert all(sender.measure(m.body) <= 1500 for _, m in sender.sent)
    assert bodies[0].startswith("40 new papers match your watches")
    assert bodies[1].startswith("40 new papers match your watches (continued)")
    found = [t for body in bodies for t in re.findall(r"Quantum paper \d+", body)]
    assert sorted(found) == sorted(titles)  # every paper once, none twice


def test_a_long_list_drops_excerpts_when_that_saves_messages():
    items = [AlertItem(Paper(id=f"2611.{n:05d}", title=f"Paper {n}", summary="word " * 200,
                             authors=("A B", "C D")), why=(("title", "paper"),))
             for n in range(12)]
    detailed = alert_messages(items[:2], 4000)
    assert "word word" in detailed[0].message.body.plain()  # fits: the excerpts stay
    short = alert_messages(items, 1200)
    assert "word word" not in short[0].message.body.plain()
    assert sum(len(b.items) for b in short) == 12
    assert len(short) < 12 * 300 // 1200


async def test_the_hourly_cap_holds_the_rest_and_sends_it_coalesced(app, sender, clock, tmp_path):
    await say(app, "/watch quantum")
    sent_at = []
    for _ in range(25):
        await publish(app, tmp_path)
        await app.flush_deliveries()
        sent_at += [clock()] * (len(sender.sent) - len(sent_at))
        clock.advance(seconds=30)
    assert len(sender.sent) == 20  # the cap
    status = await say(app, "/status")
    assert "pending: 5" in status and "Waiting alerts go out at 2026-11-24 13:00 UTC" in status
    clock.advance(minutes=47)  # 12:59:30: still within the hour of the first message
    await app.flush_deliveries()
    assert len(sender.sent) == 20
    clock.advance(seconds=31)  # 13:00:01: the first message left the window
    await app.flush_deliveries()
    assert len(sender.sent) == 21
    assert texts(sender)[-1].startswith("5 new papers match your watches")
    async with app.sessions() as session:
        assert set(await session.scalars(select(Delivery.state))) == {"sent"}


async def test_daily_digest_at_local_time(app, sender, clock, tmp_path):
    await say(app, "/watch quantum")
    assert "Europe/Paris" in await say(app, "/timezone europe/paris")
    reply = await say(app, "/mode daily 08:00")
    assert "daily digest at 08:00 Europe/Paris" in reply
    await publish(app, tmp_path, 2)  # Tuesday 12:00 UTC = 13:00 in Paris
    await app.flush_deliveries()
    assert sender.sent == []
    assert "Waiting alerts go out at 2026-11-25 08:00 Europe/Paris" in await say(app, "/status")
    clock.now = datetime(2026, 11, 25, 6, 59, tzinfo=UTC)
    await app.flush_deliveries()
    assert sender.sent == []
    clock.now = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    await publish(app, tmp_path, 1)  # arrives right at digest time: it joins
    await app.flush_deliveries()
    assert texts(sender) and texts(sender)[0].startswith("Your daily digest: 3 new papers")
    clock.advance(minutes=5)
    await publish(app, tmp_path, 1)  # too late for today's: tomorrow
    await app.flush_deliveries()
    assert len(sender.sent) == 1
    clock.now = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
    await app.flush_deliveries()
    assert len(sender.sent) == 2 and texts(sender)[1].startswith("Your daily digest: 1 new paper")


async def test_weekly_digest_and_back_to_instant(app, sender, clock, tmp_path):
    await say(app, "/watch quantum")
    assert "weekly digest on Friday 18:00 UTC" in await say(app, "/mode weekly fri 18:00")
    await publish(app, tmp_path, 2)
    clock.now = datetime(2026, 11, 27, 17, 59, tzinfo=UTC)  # Friday
    await app.flush_deliveries()
    assert sender.sent == []
    clock.advance(minutes=1)
    await app.flush_deliveries()
    assert texts(sender)[0].startswith("Your weekly digest: 2 new papers")
    await publish(app, tmp_path, 1)
    await app.flush_deliveries()
    assert len(sender.sent) == 1  # waits for next Friday
    await say(app, "/mode instant")  # held alerts go now
    await app.flush_deliveries()
    assert len(sender.sent) == 2 and "Quantum paper" in texts(sender)[1]


async def test_quiet_hours_hold_alerts_until_they_end(app, sender, clock, tmp_path):
    await say(app, "/watch quantum")
    assert "Quiet hours 22:00–07:00 UTC" in await say(app, "/quiet 22:00-07:00")
    clock.now = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)
    await publish(app, tmp_path, 2)
    await app.flush_deliveries()
    clock.now = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    await publish(app, tmp_path, 1)
    await app.flush_deliveries()
    assert sender.sent == []
    clock.now = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    await app.flush_deliveries()
    assert len(sender.sent) == 1 and texts(sender)[0].startswith("3 new papers")
    clock.now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    await publish(app, tmp_path, 1)
    await app.flush_deliveries()
    assert len(sender.sent) == 2
    assert "Quiet hours: 22:00–07:00 UTC" in await say(app, "/quiet")
    assert "removed" in await say(app, "/quiet off")
    assert "No quiet hours" in await say(app, "/quiet")


async def test_unmute_sends_what_waited_as_one_while_you_were_away_digest(app, sender, clock,
                                                                          tmp_path):
    await say(app, "/watch quantum")
    await say(app, "/mute 3d")
    for _ in range(3):
        await publish(app, tmp_path, 4)
        clock.advance(hours=5)
        await app.flush_deliveries()
    assert sender.sent == []
    reply = await say(app, "/unmute")
    assert "12 waiting alerts arrive now" in reply and "while you were away" in reply
    await app.flush_deliveries()
    assert len(sender.sent) == 1
    assert texts(sender)[0].startswith("12 new papers while you were away")
    await publish(app, tmp_path, 1)  # afterwards: an ordinary alert again
    await app.flush_deliveries()
    assert len(sender.sent) == 2 and "while you were away" not in texts(sender)[1]


async def test_a_mute_that_runs_out_also_ends_in_one_digest(app, sender, clock, tmp_path):
    await say(app, "/watch quantum")
    await say(app, "/mute 2h")
    await publish(app, tmp_path, 2)
    await app.flush_deliveries()
    clock.advance(hours=2, seconds=1)
    await app.flush_deliveries()
    assert len(sender.sent) == 1
    assert texts(sender)[0].startswith("2 new papers while you were away")


async def test_status_counts_pending_and_failed_with_the_reason(app, clock, tmp_path):
    sender = ScriptedSender(platform="test", failures=[PermanentSendError("bot was blocked")])
    app.add_sender(sender)
    await say(app, "/watch quantum")
    await publish(app, tmp_path, 2)
    await app.flush_deliveries()
    status = await say(app, "/status")
    lines = status.splitlines()
    assert lines[0] == "Alerts can't reach you: bot was blocked"
    assert "pending: 0, failed: 2" in status and "Last failure: bot was blocked" in status
    assert "Delivery: instant; time zone UTC." in status
    assert "Welcome back" in await say(app, "/start")
    assert not (await say(app, "/watches")).startswith("Alerts can't reach you")


async def test_the_blocked_warning_comes_first_on_every_answer_but_start(app, sender):
    await say(app, "/watch quantum")
    async with app.sessions.begin() as session:
        chat = await session.scalar(select(Chat).where(Chat.external_id == "ann"))
        chat.state, chat.state_reason = "blocked", "Forbidden: bot was blocked by the user"
    for command in ("/watches", "/help", "/nonsense", "/mode daily 25:00"):
        first = (await say(app, command)).splitlines()[0]
        assert first == "Alerts can't reach you: Forbidden: bot was blocked by the user"
    start = await say(app, "/start")
    assert "can't reach" not in start and "Welcome back" in start


@pytest.mark.parametrize(("command", "expected"), [
    ("/mode hourly", "is not a mode"),
    ("/mode daily 25:00", "is not a time"),
    ("/mode weekly someday 09:00", "is not a day of the week"),
    ("/mode instant now", "unexpected"),
    ("/timezone Mars/Olympus", "Unknown time zone"),
    ("/timezone ../../etc/passwd", "Unknown time zone"),
    ("/quiet 22:00", "give a start and an end"),
    ("/quiet 22:00-22:00", "the same"),
    ("/quiet 9pm-7am", "is not a time"),
])
async def test_bad_settings_are_refused_and_change_nothing(app, command, expected):
    await say(app, "/watch quantum")
    reply = await app.commands.dispatch(Incoming(ANN, command))
    assert expected in reply.body.plain() and not reply.ok
    status = await say(app, "/status")
    assert "Delivery: instant; time zone UTC." in status and "quiet" not in status


async def test_settings_are_shown_back(app):
    assert "Alerts: instant" in await say(app, "/mode")
    await say(app, "/timezone America/New_York")
    await say(app, "/mode weekly monday")
    assert "weekly digest on Monday 09:00 America/New_York" in await say(app, "/mode")
    assert "Time zone: America/New_York" in await say(app, "/timezone")
    await say(app, "/quiet 23:30 06:15")
    assert "Quiet hours: 23:30–06:15 America/New_York" in await say(app, "/quiet")
    assert "until 2026-11-24 09:00 America/New_York" in await say(app, "/mute 2h")


async def test_a_group_needs_an_admin_to_change_delivery(app):
    group = ChatRef("test", "-5", "group")
    reply = await app.commands.dispatch(Incoming(group, "/mode daily", is_admin=False))
    assert not reply.ok and "admins" in reply.body.plain()


async def test_digest_times_follow_daylight_saving(app, sender, clock, tmp_path):
    clock.now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # Saturday; DST starts Sunday
    await say(app, "/watch quantum")
    await say(app, "/timezone Europe/Berlin")
    await say(app, "/mode daily 09:00")
    await publish(app, tmp_path, 1)
    clock.now = datetime(2026, 3, 29, 6, 59, tzinfo=UTC)
    await app.flush_deliveries()
    assert sender.sent == []
    clock.now = datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 CEST
    await app.flush_deliveries()
    assert len(sender.sent) == 1
