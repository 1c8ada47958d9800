"""Richer papers (issue 16) on the real Hugging Face day of 2026-08-20: the TL;DR under
the title, the repository with its stars, the project page, the organization, arXiv /
PDF / Hugging Face links and the thumbnail; nothing invented for a missing field, and the
platform limits still hold."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from adapters.telegram_bot import MAX_CHARS as TELEGRAM_MAX
from adapters.telegram_bot import measure as telegram_measure
from bot.delivery.details import short_url, stars_text
from bot.delivery.render import AlertItem, alert_messages, trending_post
from bot.sources.hf_item import paper_from_hf_item
from bot.types import Paper

DAY_FILE = Path(__file__).resolve().parents[2] / "shared/data/real/hf_daily_papers_2026-08-20.json"


@pytest.fixture(scope="module")
def papers() -> dict[str, Paper]:
    items = json.loads(DAY_FILE.read_text())
    return {p.id: p for p in map(paper_from_hf_item, items)}


def alert(paper: Paper) -> AlertItem:
    return AlertItem(paper, (("title", paper.title.split()[0]),), (1,), ("q",), (1,))


def links(message) -> list[str]:
    return [s.link for line in message.body.lines for s in line if s.link]


def test_a_single_alert_shows_tldr_repo_stars_project_org_links_and_image(papers):
    paper = papers["2608.17253"]  # Co-RL: a repo with 1 star, a project page, UC San Diego
    [batch] = alert_messages([alert(paper)], 4000)
    lines = batch.message.body.plain().split("\n")
    assert lines[0] == paper.title
    assert lines[1] == "TL;DR: " + " ".join(paper.ai_summary.split())
    assert lines[2].endswith(" · University of California at San Diego")
    assert "code: github.com/DrStranded/Co-RL ★ 1 · project: drstranded.github.io/Co-RL" \
        in lines
    assert "▲ 74 upvotes · arXiv · PDF · Hugging Face" in lines
    assert {"https://github.com/DrStranded/Co-RL", "https://drstranded.github.io/Co-RL",
            "https://arxiv.org/abs/2608.17253", "https://arxiv.org/pdf/2608.17253",
            "https://huggingface.co/papers/2608.17253"} <= set(links(batch.message))
    assert batch.message.image_url == paper.thumbnail_url
    assert batch.message.image_url.startswith("https://cdn-thumbnails.huggingface.co/")


def test_a_paper_without_the_extras_gets_no_placeholders(papers):
    bare = replace(papers["2608.18171"], ai_summary="")  # no repo, project or organization
    assert (bare.github_url, bare.project_url, bare.organization) == (None, None, None)
    for message in (alert_messages([alert(bare)], 4000)[0].message,
                    alert_messages([alert(bare), alert(papers["2608.14229"])], 4000)[0].message,
                    trending_post([bare], date(2026, 8, 20), 4000)):
        text = message.body.plain()
        for placeholder in ("None", "TL;DR", "code", "project", "★", " ·  · ", "··"):
            assert placeholder not in text, (placeholder, text)
        assert "\n\n" not in text and not any(line.strip() in ("", "·") for line in
                                                 text.split("\n"))


def test_a_project_page_that_is_the_arxiv_pdf_is_not_repeated(papers):
    paper = papers["2608.14929"]  # Amazon; its "project page" is the arXiv PDF
    text = alert_messages([alert(paper)], 4000)[0].message.body.plain()
    assert "project" not in text and "Amazon" in text


def test_the_daily_post_carries_tldrs_repos_and_the_first_thumbnail(papers):
    day = sorted(papers.values(), key=lambda p: -(p.upvotes or 0))
    message = trending_post(day[:5], date(2026, 8, 20), 4000)
    text = message.body.plain()
    assert message.image_url == day[0].thumbnail_url
    assert ("1. " + day[0].title + " — ▲ 92 · arXiv · PDF · code "
            "github.com/air-embodied-brain/Zetta-Embodiment ★ 152 · project") in text
    assert "Midea AI Research Center · arXiv · PDF · code github.com/midea-ai/SemaPLC ★ 30" \
        in text
    for paper in day[:5]:
        assert " ".join(paper.ai_summary.split()) in text


def test_a_digest_entry_has_the_tldr_and_the_repo(papers):
    items = [alert(papers["2608.16590"]), alert(papers["2608.18940"])]
    [batch] = alert_messages(items, 4000, heading="Your daily digest: 2 new papers")
    text = batch.message.body.plain()
    assert " ".join(papers["2608.16590"].ai_summary.split()) in text
    assert "code: github.com/air-embodied-brain/Zetta-Embodiment ★ 152" in text
    assert text.count("code:") == 1  # the second paper has none
    assert batch.message.image_url is None  # a list shows no picture


def test_the_whole_day_stays_within_telegrams_limit(papers):
    everything = list(papers.values())
    post = trending_post(everything, date(2026, 8, 20), TELEGRAM_MAX, telegram_measure)
    assert telegram_measure(post.body) <= TELEGRAM_MAX
    for batch in alert_messages([alert(p) for p in everything], TELEGRAM_MAX,
                                telegram_measure):
        assert telegram_measure(batch.message.body) <= TELEGRAM_MAX


@pytest.mark.parametrize(("stars", "shown"), [(0, "0"), (152, "152"), (1000, "1k"),
                                              (1234, "1.2k"), (15300, "15k")])
def test_stars_are_short(stars, shown):
    assert stars_text(stars) == shown


def test_urls_are_shown_without_scheme_or_trailing_slash():
    assert short_url("https://www.github.com/owner/repo/") == "github.com/owner/repo"
