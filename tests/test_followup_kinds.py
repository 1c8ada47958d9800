"""Which refreshes make a follow-up: code appears or gets starred, upvotes cross the
threshold, a new version changes the text; and each only when crossing, not after."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.ingest.followups import FollowUpRules, follow_up_kinds, follow_ups
from bot.types import Paper

BASE = Paper(id="2508.13426", title="A title", summary="An abstract.", version=1, upvotes=3)
RULES = FollowUpRules(upvotes=50, stars=100)


@pytest.mark.parametrize(("change", "kinds"), [
    ({}, []),
    ({"github_url": "https://github.com/a/b"}, ["code"]),
    ({"upvotes": 50}, ["trending"]),
    ({"upvotes": 49}, []),
    ({"version": 2, "summary": "A new abstract."}, ["revised"]),
    ({"version": 2, "summary": "An  abstract."}, []),  # whitespace only: not a revision
    ({"version": 2, "title": "A better title", "upvotes": 80,
      "github_url": "https://github.com/a/b"}, ["code", "trending", "revised"]),
])
def test_a_refresh_triggers_the_kinds_it_crosses(change, kinds):
    assert follow_up_kinds(BASE, replace(BASE, **change), RULES) == kinds


def test_stars_count_only_once_the_repository_is_known_and_only_when_crossing():
    with_repo = replace(BASE, github_url="https://github.com/a/b", github_stars=20)
    assert follow_up_kinds(with_repo, replace(with_repo, github_stars=150), RULES) == ["code"]
    starred = replace(with_repo, github_stars=150)
    assert follow_up_kinds(starred, replace(starred, github_stars=400), RULES) == []
    trending = replace(BASE, upvotes=60)
    assert follow_up_kinds(trending, replace(trending, upvotes=90), RULES) == []


@pytest.mark.parametrize(("change", "notes"), [
    ({"title": "A better title"}, [["changed", "title"]]),
    ({"summary": "A new abstract."}, [["changed", "abstract"]]),
    ({"title": "New", "summary": "New."}, [["changed", "title"], ["changed", "abstract"]]),
])
def test_a_revision_notes_what_changed(change, notes):
    after = replace(BASE, version=2, upvotes=60, **change)
    assert follow_ups(BASE, after, RULES) == [("trending", []), ("revised", notes)]


def test_a_paper_seen_first_without_a_version_counts_as_v1():
    from_hf = replace(BASE, version=None)
    assert follow_up_kinds(from_hf, replace(BASE, version=2, title="Another title"),
                           RULES) == ["revised"]
    assert follow_up_kinds(from_hf, replace(BASE, version=1, title="Another title"),
                           RULES) == []  # arXiv's v1 is no revision of what HF listed
