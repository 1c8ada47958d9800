"""One Hugging Face daily-papers item -> Paper: the only reader of that format.

The poller (bot/sources/hf_daily.py) and `paperwatch ingest` (bot/sources/paper_file.py) both call
`paper_from_hf_item`, so an item is read and refused the same way on either path. Every
API shape seen from 2024-05 to 2026-08 is read (../shared/data/real/hf_daily_papers_*.json):

- paper fields come from the item's `paper` object; title, summary and publishedAt fall
  back to the item's own when the paper lacks them;
- thumbnail: the item's `thumbnail`, else the paper's, else the oldest shape's `mediaUrl`;
- organization (newest shape, on the paper and on the item): its display name `fullname`,
  else its handle `name`;
- authors: every listed name, `"hidden": true` included (hidden only takes the author's
  profile link off the HF page; the name is still on the paper);
- githubRepo + githubStars, projectPage, ai_summary, ai_keywords, upvotes.

Refused (ItemError): not an object, no `paper` object, no arXiv id, withdrawn, no title,
a title or summary that is not text, authors that are not a list, upvotes that are not a
count 0..2**31-1, an absurd date. Malformed decorations (links, keywords, stars, thumbnail,
organization) are dropped, not fatal. Every value then passes `clean_paper`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.sources.base import not_in_future
from bot.sources.clean import (
    ItemError,
    clean_paper,
    clean_text,
    count,
    names,
    parse_datetime,
    split_arxiv_id,
)
from bot.types import Paper

SOURCE = "hf"


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ItemError(f"{what} is {type(value).__name__}, not text")
    return value


def _authors(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ItemError(f"authors is {type(value).__name__}, not a list")
    out = []
    for author in value:
        name = author.get("name") if isinstance(author, dict) else author
        if isinstance(name, str):
            out.append(name)
    return out


def _organization(*candidates: Any) -> str | None:
    for org in candidates:
        if isinstance(org, dict):
            for key in ("fullname", "name"):
                if isinstance(org.get(key), str) and org[key].strip():
                    return org[key]
        elif isinstance(org, str) and org.strip():
            return org
    return None


def _first_text(*candidates: Any) -> Any:
    """The first candidate that is a non-blank string (else the first one, for the error)."""
    for value in candidates:
        if isinstance(value, str) and value.strip():
            return value
    return next((v for v in candidates if v is not None), None)


def _first_url(*candidates: Any) -> str | None:
    """The first candidate that is text (clean_paper decides whether it is a usable link)."""
    return next((v for v in candidates if isinstance(v, str) and v.strip()), None)


def paper_from_hf_item(item: Any, now: datetime | None = None) -> Paper:
    """One daily-papers list item -> a clean Paper; ItemError says why the item is unusable.

    With `now`, a date more than two days ahead of it is refused as absurd.
    """
    if not isinstance(item, dict):
        raise ItemError(f"item is {type(item).__name__}, not an object")
    paper = item.get("paper")
    if not isinstance(paper, dict):
        raise ItemError("no paper object")
    paper_id, version = split_arxiv_id(paper.get("id"))
    if paper.get("withdrawnAt"):
        raise ItemError("withdrawn")
    title = _text(_first_text(paper.get("title"), item.get("title")), "title")
    if not title.strip():
        raise ItemError("missing title")
    ai_summary = paper.get("ai_summary")
    return not_in_future(clean_paper(Paper(
        id=paper_id, version=version, source=SOURCE, title=title,
        summary=_text(_first_text(paper.get("summary"), item.get("summary")), "summary"),
        authors=tuple(_authors(paper.get("authors"))),
        keywords=names(paper.get("ai_keywords"), unique=True),
        published=parse_datetime(_first_text(paper.get("publishedAt"), item.get("publishedAt"))),
        upvotes=count(paper.get("upvotes"), "upvotes"),
        github_url=_first_url(paper.get("githubRepo")),
        github_stars=paper.get("githubStars") if isinstance(paper.get("githubStars"), int)
        else None,
        project_url=_first_url(paper.get("projectPage")),
        thumbnail_url=_first_url(item.get("thumbnail"), paper.get("thumbnail"),
                                 item.get("mediaUrl")),
        ai_summary=ai_summary if isinstance(ai_summary, str) else "",
        organization=_organization(paper.get("organization"), item.get("organization")),
    )), now)


def item_label(item: Any, index: int) -> str:
    """The item's id for a log line or report, else its position."""
    paper = item.get("paper") if isinstance(item, dict) else None
    pid = paper.get("id") if isinstance(paper, dict) else None
    if isinstance(pid, str) and pid.strip():
        return clean_text(pid, 40)
    return f"item#{index}"
