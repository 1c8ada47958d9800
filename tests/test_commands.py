"""Every command and its refusals, through the console adapter; refused input changes nothing."""

from __future__ import annotations

import gc

import pytest

from bot.types import ChatRef, Incoming
from bot.watching.watchset import WatchSet


@pytest.mark.parametrize("text, expected", [
    ("/watch", "Usage: /watch QUERY"),
    ("/watch    ", "Usage: /watch QUERY"),
    ("/watch " + "a" * 201, "limit is 200"),
    ("/watch abc\x07def", "control characters"),
    ("/watch 🙂🙂", "Can't watch that"),
    ("/watch ...!!!", "Can't watch that"),
    ("/frobnicate", "Unknown command /frobnicate"),
    ("hello there", "I understand commands only"),
    ("/watch " + "x " * 600, "at most 1000"),
])
async def test_refused_watch_input_stores_nothing(console, text, expected):
    assert expected in await console.push(text)
    assert "No watches yet" in await console.push("/watches")


@pytest.mark.parametrize("query", [
    "x'; DROP TABLE watches; SELECT '1", "<script>alert(1)</script>", "трансформер", "深度学习",
    "Jürgen Schmidhuber",
])
async def test_odd_but_valid_queries_are_stored_as_text(console, query):
    reply = await console.push(f"/watch {query}")
    assert "Watching" in reply
    assert query in await console.push("/watches")


async def test_limit_of_watches_per_chat(console, app):
    for n in range(app.config.limits.max_watches_per_chat):
        assert "Watching" in await console.push(f"/watch topic number {n}")
    assert "the most allowed" in await console.push("/watch one too many")
    assert "Watches (50)" in await console.push("/watches")


async def test_duplicate_watch_is_refused(console):
    await console.push("/watch Federated Learning")
    assert "Already watching" in await console.push("/watch   federated   learning")


async def test_unwatch_by_number_text_and_id(console):
    for topic in ("alpha topic", "beta topic", "gamma topic"):
        await console.push(f"/watch {topic}")
    assert "Stopped watching “beta topic”" in await console.push("/unwatch 2")
    assert "Stopped watching “gamma topic”" in await console.push("/unwatch GAMMA topic")
    assert "Stopped watching “alpha topic”" in await console.push("/unwatch #1")
    assert "No watch “#1”" in await console.push("/unwatch #1")
    assert "No watch “7”" in await console.push("/unwatch 7")
    assert "Usage: /unwatch" in await console.push("/unwatch")
    assert "No watches yet" in await console.push("/watches")


@pytest.mark.parametrize("arg, expected", [
    ("", "until /unmute"), ("30m", "until 2026-11-24 12:30 UTC"), ("8h", "until 2026-11-24 20:00"),
    ("2 days", "until 2026-11-26"), ("1w", "until 2026-12-01"),
])
async def test_mute_durations(console, arg, expected):
    assert expected in await console.push(f"/mute {arg}".strip())


@pytest.mark.parametrize("arg", ["forever", "-5h", "0m", "400d", "5 parsecs"])
async def test_bad_mute_durations_change_nothing(console, arg):
    assert "Can't read the duration" in await console.push(f"/mute {arg}")
    assert "Muted" not in await console.push("/status")


async def test_help_lists_every_command_and_explains_queries(console, app):
    text = await console.push("/help")
    for spec in app.commands.specs:
        assert f"/{spec.name}" in text
    assert "quantiz*" in await console.push("/help watch")


async def test_group_watches_need_an_admin(app):
    group = ChatRef("telegram", "-100", "group")
    refused = await app.commands.dispatch(Incoming(group, "/watch robots", is_admin=False))
    assert not refused.ok and "admins" in refused.body.plain()
    listing = await app.commands.dispatch(Incoming(group, "/watches", is_admin=False))
    assert "No watches yet" in listing.body.plain()
    allowed = await app.commands.dispatch(Incoming(group, "/watch@paperbot robots", is_admin=True))
    assert allowed.ok and not allowed.ephemeral


async def test_daily_settings(console):
    assert "No daily post here" in await console.push("/daily")
    out = await console.push("/daily on 07:30 Europe/Berlin top 5 min 10 diffusion models")
    assert "07:30 Europe/Berlin: top 5, at least 10 upvotes, topic “diffusion models”" in out
    assert "07:30 Europe/Berlin" in await console.push("/daily")
    assert "unknown time zone" in await console.push("/daily on 09:00 Mars/Olympus")
    assert "top must be between" in await console.push("/daily on top 500")
    assert "topic:" in await console.push("/daily on 09:00 🙂🙂")
    assert "turned off" in await console.push("/daily off")
    assert "No daily post here" in await console.push("/daily")


async def test_a_first_load_of_stored_watches_is_kept_out_of_the_garbage_collector(app, console,
                                                                                  clock):
    await console.push("/watch federated learning")
    await console.push("/watch au:\"Yann LeCun\"")
    fresh = WatchSet()  # what a process starting on this database builds
    before = gc.get_freeze_count()
    async with app.sessions() as session:
        await fresh.refresh(session, clock())
    assert len(fresh) == 2 and gc.get_freeze_count() > before
    frozen = gc.get_freeze_count()
    async with app.sessions() as session:
        await fresh.refresh(session, clock())  # later refreshes are small: no freeze
    assert gc.get_freeze_count() <= frozen  # (frozen objects may still be freed)
