"""What a new user trips on in chat (issue 12, issue 15 "Low"): one watch number everywhere,
times and numbers read strictly, /mute forever in /status, one watch per meaning, short
links, plurals, the query length limit and real time zones only."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from bot.app import App
from bot.config import Config
from bot.delivery.render import AlertItem, alert_body, why_text
from bot.types import Paper
from tests.helpers import paper_item, write_jsonl


def _number(reply: str) -> str:
    found = re.search(r"\(#(\d+)\)", reply)
    assert found, reply
    return found.group(1)


@pytest.mark.parametrize("form", ["{n}", "#{n}"])
async def test_the_number_a_watch_reply_shows_is_the_one_unwatch_removes(console, form):
    await console.push("/watch alpha")
    await console.push("/watch beta")
    assert "Stopped watching “alpha”" in await console.push("/unwatch 1")
    shown = _number(await console.push("/watch gamma"))
    assert shown == "3"  # numbers are never reused, so #2 stays beta's
    listing = await console.push("/watches")
    assert "2. beta — 0 hits" in listing and "3. gamma — 0 hits" in listing
    assert "Stopped watching “gamma”" in await console.push("/unwatch " + form.format(n=shown))
    assert "2. beta" in await console.push("/watches")


async def test_the_unwatch_button_carries_the_number_the_chat_sees(console, tmp_path):
    await console.push("/watch alpha")
    await console.push("/watch beta")
    await console.push("/unwatch alpha")
    await console.push("/watch sparse attention")  # id 3, number 3 ...
    await console.push("/unwatch beta")
    await console.push("/watch long context")  # ... id 4, number 4: make them differ
    await console.push("/unwatch sparse attention")
    await console.push("/watch sparse attention")  # id 5, number 5
    path = write_jsonl(tmp_path / "p.jsonl",
                       [paper_item("2601.00001", "Sparse attention at scale")])
    await console.push(f"/ingest {path}")
    [alert] = console.sent
    unwatch = alert.buttons[0].command
    assert unwatch == "/unwatch #5"
    assert "Stopped watching “sparse attention”" in await console.push(unwatch)
    assert "4. long context" in await console.push("/watches")


async def test_the_discord_autocomplete_offers_watch_numbers(app, console):
    await console.push("/watch alpha")
    await console.push("/watch beta")
    await console.push("/unwatch 1")
    from adapters.console import CONSOLE_CHAT
    assert await app.commands.watch_choices(CONSOLE_CHAT) == [(2, "beta")]


@pytest.mark.parametrize("text, expected", [
    ("/daily on 25:00", "“25:00” is not a time"),
    ("/daily on 9:5", "“9:5” is not a time"),
    ("/daily on 24:00", "“24:00” is not a time"),
    ("/daily on 12:60", "“12:60” is not a time"),
    ("/daily on 09:00 UTC top 3 12:60", "“12:60” is not a time"),
    ("/daily on diffusion (video", "topic: Unbalanced parenthesis"),
    ("/daily on min ²", "needs a number in the digits 0-9"),
    ("/daily on top ５", "needs a number in the digits 0-9"),
    ("/daily on 09:00 localtime/x", "unknown time zone"),
])
async def test_daily_refuses_what_is_not_a_time_a_query_or_an_ascii_number(console, text,
                                                                           expected):
    reply = await console.push(text)
    assert expected in reply, reply
    assert "No daily post here" in await console.push("/daily")


async def test_daily_topic_error_names_the_position(console):
    reply = await console.push("/daily on top 3 diffusion OR")
    assert "topic: OR needs a term on both sides (at character 11)" in reply


@pytest.mark.parametrize("arg", ["²", "#²", "١", "#１"])
async def test_unwatch_reads_only_ascii_digits(console, arg):
    await console.push("/watch alpha")
    reply = await console.push(f"/unwatch {arg}")
    assert "digits 0-9" in reply and "went wrong" not in reply
    assert "1. alpha" in await console.push("/watches")


async def test_mute_without_a_duration_shows_until_unmute_in_status(console):
    assert "Muted until /unmute" in await console.push("/mute")
    status = await console.push("/status")
    assert "Muted until /unmute." in status and "2126" not in status
    await console.push("/mute 8h")
    assert "Muted until 2026-11-24 20:00 UTC." in await console.push("/status")


@pytest.mark.parametrize("first, second", [
    ("re-ranking", "reranking"), ("re ranking", "Re-Ranking"),
    ("federated learning", "federated-learning"), ("a AND b", "b AND a"),
])
async def test_watches_that_mean_the_same_are_one_watch(console, first, second):
    await console.push(f"/watch {first}")
    reply = await console.push(f"/watch {second}")
    assert reply.startswith(f"Already watching “{first}”") and "(#1)" in reply
    assert "Watches (1)" in await console.push("/watches")


async def test_unwatch_by_text_compares_normalized_forms(console):
    await console.push("/watch federated learning")
    assert "Stopped watching “federated learning”" in await console.push(
        "/unwatch federated-learning")


async def test_the_why_line_quotes_the_words_as_the_paper_wrote_them(console, tmp_path):
    await console.push("/watch reranking")
    path = write_jsonl(tmp_path / "p.jsonl", [paper_item(
        "2601.00002", "Listwise Re-Ranking with LLMs", "We study re-ranking of passages.")])
    await console.push(f"/ingest {path}")
    [alert] = console.sent
    assert "Why: “Re-Ranking” in title and abstract" in alert.body.plain()


def test_why_text_without_the_paper_keeps_the_phrase():
    assert why_text((("title", "re ranking"),)) == "“re ranking” in title"
    paper = Paper("2601.00003", "Graph Neural Networks", authors=("Yann LeCun",))
    assert why_text((("title", "graph neural network"), ("author", "yann lecun")), paper) == (
        "“Graph Neural Networks” in title; “Yann LeCun” in authors")


def test_alert_links_point_at_the_paper_itself():
    hf = Paper("2508.13426", "A title " * 20, source="hf")
    arxiv = Paper("2508.13426", "A title " * 20, source="arxiv")
    assert hf.url == "https://huggingface.co/papers/2508.13426"
    assert arxiv.url == "https://arxiv.org/abs/2508.13426"
    body = alert_body(AlertItem(hf, (("title", "title"),))).plain_with_links(" <{}>")
    assert "?q=" not in body


async def test_replies_say_1_paper_and_1_alert_and_no_zero_minimum(console, tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [paper_item("2601.00004", "Sparse attention")])
    await console.push("/watch sparse attention")
    out = await console.push(f"/ingest {path}")
    assert "Ingested 1 paper from p.jsonl: 1 new, 0 updated, 1 alert queued." in out
    assert "1 hit" in await console.push("/watches")
    daily = await console.push("/daily on 09:00 UTC top 3")
    assert "at least" not in daily and "upvotes" not in daily
    assert "at least 1 upvote." in await console.push("/daily on min 1")
    assert "at least 5 upvotes." in await console.push("/daily on min 5")
    assert "at least 5 upvotes" in await console.push("/daily")


async def test_watch_preview_says_1_paper(console, app, clock, tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [paper_item(
        "2601.00005", "Sparse attention", published=clock().isoformat())])
    await console.push(f"/ingest {path}")
    reply = await console.push("/watch sparse attention")
    assert "would have matched 1 paper, e.g.:" in reply


async def test_status_lists_each_source_line(console, app, clock):
    from storage import repo
    async with app.sessions.begin() as session:
        await repo.save_source_state(session, "hf", last_success_at=clock(),
                                     last_note="12 papers, 3 new")
    status = await console.push("/status")
    assert "Source hf: last success 2026-11-24 12:00 UTC — 12 papers, 3 new" in status


async def test_max_query_chars_from_the_config_is_honoured(db_url, clock):
    base = Config()
    cfg = replace(base, database=replace(base.database, url=db_url),
                  sources=replace(base.sources, hf=replace(base.sources.hf, enabled=False)),
                  limits=replace(base.limits, max_query_chars=20))
    async with App(cfg, clock=clock) as app:
        console = app.console()
        reply = await console.push("/watch " + "word " * 5 + "more")
        assert "The query is 29 characters long; the limit is 20 (at character 21)" in reply
        assert "limit is 20" in await console.push("/daily on " + "word " * 5 + "more")
        assert "Watching “word word”" in await console.push("/watch word word")
        assert "At most 20 characters and 20 terms." in await console.push("/help watch")


@pytest.mark.parametrize("name", ["localtime", "posixrules", "Factory", "posix/Europe/Paris",
                                  "right/UTC", "Europe/../Europe/Paris", "CET", "Europe/"])
async def test_timezone_takes_only_area_city_or_utc(console, name):
    assert "Unknown time zone" in await console.push(f"/timezone {name}")
    assert "Time zone: UTC." in await console.push("/timezone")


@pytest.mark.parametrize("name, stored", [("utc", "UTC"), ("europe/paris", "Europe/Paris"),
                                          ("Etc/GMT+5", "Etc/GMT+5")])
async def test_timezone_still_takes_real_zones(console, name, stored):
    assert f"Time zone set to {stored}" in await console.push(f"/timezone {name}")


async def test_status_says_when_no_source_was_polled(console, app, clock):
    assert "Sources: none polled yet on this database" in await console.push("/status")
    from storage import repo
    async with app.sessions.begin() as session:
        await repo.save_source_state(session, "arxiv", last_status="error",
                                     last_note="HTTP 503")
    status = await console.push("/status")
    assert "Source arxiv: last success never — HTTP 503; the last poll failed" in status
    assert "none polled yet" not in status
