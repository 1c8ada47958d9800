"""Discord rendering without a network: markdown escaping, embed limits for any paper the
core can produce, and the /daily options turned into the core's command line."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.discord_commands import DailyOptions, custom_id, daily_line, timezone_choices
from adapters.discord_render import (
    MAX_DESCRIPTION,
    MAX_TITLE,
    MAX_TOTAL,
    embed_size,
    embeds_for,
    escape,
    group_embeds,
    measure,
    render_markdown,
    safe_url,
    utf16_len,
)
from bot.delivery.render import AlertItem, alert_messages
from bot.types import Paper, RichText, Span
from tests.fakes.discord_api import check_message

MARKDOWN = "*_~`|[]>#-\\"
# no ':' so no text looks like a URL (escape_markdown leaves URLs alone on purpose)
ALPHABET = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=":")
TEXT = st.text(alphabet=st.one_of(st.sampled_from(MARKDOWN + "@ \n"), ALPHABET), max_size=400)


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text.replace("\u200b", ""), flags=re.S)


@given(TEXT)
@settings(max_examples=300, deadline=None)
def test_escape_keeps_the_text_and_escapes_every_markdown_character(text):
    escaped = escape(text)
    assert unescape(escaped) == text.replace("\u200b", "")
    for match in re.finditer(r"[*_~`|\[\]]", escaped):
        backslashes = len(escaped[:match.start()]) - len(escaped[:match.start()].rstrip("\\"))
        assert backslashes % 2 == 1, (text, escaped)


def test_mentions_links_and_headings_in_titles_stay_literal():
    line = (Span("# @everyone [click](https://evil.example) **x**", bold=True,
                 link="https://arxiv.org/abs/1"),)
    out = render_markdown(RichText((line,)))
    assert out == ("[**\\# @\u200beveryone \\[click\\](https://evil.example) \\*\\*x\\*\\***]"
                   "(https://arxiv.org/abs/1)")
    assert safe_url("javascript:alert(1)") is None and safe_url("https://a.b/c\nd") is None
    assert safe_url("https://a.b/c d") == "https://a.b/c%20d"
    assert safe_url("https://a.b/x_(y)") == "https://a.b/x_%28y%29"
    unsafe = RichText.of(Span("click", link="javascript:alert(1)"))
    assert render_markdown(unsafe) == "click"


def test_spaces_stay_outside_the_markers_and_neighbours_merge():
    line = (Span("a "), Span("bold ", bold=True), Span("more", bold=True), Span(" end"))
    assert render_markdown(RichText((line,))) == "a **bold more** end"
    assert render_markdown(RichText.of(Span("   ", bold=True))) == "   "
    assert render_markdown(RichText.of(Span("x`y", code=True))) == "x\\`y"
    assert render_markdown(RichText.of(Span("f(x)", code=True))) == "`f(x)`"


WORDS = st.text(alphabet=st.one_of(st.sampled_from(MARKDOWN + "@ 😀"), ALPHABET), min_size=1,
                max_size=600)


@given(st.lists(st.tuples(WORDS, WORDS, st.integers(0, 10**6)), min_size=1, max_size=30),
       st.booleans())
@settings(max_examples=60, deadline=None)
def test_every_alert_the_core_renders_fits_discords_embed_limits(papers, with_heading):
    items = [AlertItem(Paper(f"2601.{n:05d}", title.strip() or "t", summary,
                             authors=("A " * 50,), upvotes=votes,
                             github_url="https://github.com/a/b"),
                       (("title", title.split()[0] if title.split() else "t"),), (1,), ("q",))
             for n, (title, summary, votes) in enumerate(papers)]
    batches = alert_messages(items, MAX_DESCRIPTION, measure,
                             heading="Today's papers" if with_heading else None)
    for batch in batches:
        assert measure(batch.message.body) <= MAX_DESCRIPTION
        embeds = embeds_for(batch.message.body, 0, title_line=True, title=batch.message.title)
        for group in group_embeds(embeds):
            assert sum(embed_size(e) for e in group) <= MAX_TOTAL
            for embed in group:
                assert utf16_len(embed.title or "") <= MAX_TITLE
                assert utf16_len(embed.description or "") <= MAX_DESCRIPTION
            assert check_message({"embeds": [e.to_dict() for e in group]}) is None


def test_a_long_reply_becomes_several_embeds_and_messages():
    body = RichText.of(*[f"line {n} " + "x" * 300 for n in range(60)])
    embeds = embeds_for(body, 0)
    assert len(embeds) > 4 and all(len(e.description) <= MAX_DESCRIPTION for e in embeds)
    groups = group_embeds(embeds)
    assert len(groups) > 1 and all(sum(embed_size(e) for e in g) <= MAX_TOTAL for g in groups)
    rejoined = "\n".join(e.description for e in embeds)
    assert rejoined == render_markdown(body)


@pytest.mark.parametrize(("options", "line"), [
    (DailyOptions(), "/daily"),
    (DailyOptions("off", time="08:00"), "/daily off"),
    (DailyOptions(top=5), "/daily on top 5"),
    (DailyOptions("on", None, "9:05", "Europe/Berlin", 5, 10, "diffusion OR video"),
     "/daily on 9:05 Europe/Berlin top 5 min 10 diffusion OR video"),
    (DailyOptions("on", timezone="utc", topic="top quark"), "/daily on utc (top quark)"),
])
def test_daily_options_become_the_cores_command_line(options, line):
    assert daily_line(options) == line


@pytest.mark.parametrize("options", [DailyOptions(time="25:00"), DailyOptions(time="9am"),
                                     DailyOptions(timezone="CET"),
                                     DailyOptions(timezone="Mars/Olympus")])
def test_daily_options_that_would_be_misread_are_refused(options):
    with pytest.raises(ValueError):
        daily_line(options)


def test_timezone_choices_and_button_ids():
    assert [c.value for c in timezone_choices("new york")] == ["America/New_York"]
    assert len(timezone_choices("")) == 25
    assert custom_id("/unwatch #3") == "pw:/unwatch #3"
    assert custom_id("/unwatch " + "x" * 100) is None
