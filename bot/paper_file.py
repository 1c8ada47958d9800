"""Read papers from a JSON array or JSON Lines file, refusing bad items one by one.

Each item is either a Hugging Face daily-papers item (paper fields under "paper") or a flat
object {"id", "title", "summary", "authors": [names], "categories": [...], "published"}.
A bad item is reported with its line (or array position) and the problem; the good items
of the same file are still returned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.types import Paper

MAX_FILE_BYTES = 50_000_000
_ID = re.compile(r"^(?:[a-z][a-z.\-]*/\d{7}|\d{4}\.\d{4,5}|sample-\d{4})(?:v(\d+))?$", re.I)
_EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LoadReport:
    papers: list[Paper]
    errors: list[str]  # "line 3: missing title"


class ItemError(ValueError):
    pass


def split_arxiv_id(raw: Any) -> tuple[str, int | None]:
    """'2508.13426v2' -> ('2508.13426', 2); raise ItemError for anything not an arXiv id."""
    if not isinstance(raw, str) or not raw.strip():
        raise ItemError("missing id")
    text = raw.strip()
    for prefix in ("oai:arXiv.org:", "http://arxiv.org/abs/", "https://arxiv.org/abs/"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    match = _ID.match(text)
    if not match:
        raise ItemError(f"id {text[:40]!r} is not an arXiv id")
    version = int(match.group(1)) if match.group(1) else None
    return (text[: match.start(1) - 1] if version else text), version


def parse_datetime(raw: Any) -> datetime | None:
    """ISO date or datetime -> aware UTC datetime; None when absent; ItemError when absurd."""
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise ItemError(f"date {raw!r} is not a string")
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ItemError(f"date {raw[:40]!r} is not an ISO date") from None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not _EARLIEST <= value <= datetime(2100, 1, 1, tzinfo=UTC):
        raise ItemError(f"date {raw[:40]!r} is out of range")
    return value.astimezone(UTC)


def _text(item: dict[str, Any], key: str, required: bool = False) -> str:
    value = item.get(key)
    if value is None:
        if required:
            raise ItemError(f"missing {key}")
        return ""
    if not isinstance(value, str):
        raise ItemError(f"{key} is not text")
    value = " ".join(value.split())
    if required and not value:
        raise ItemError(f"empty {key}")
    return value


def _names(values: Any, key: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, list):
        raise ItemError(f"{key} is not a list")
    names = []
    for value in values:
        if isinstance(value, dict):  # HF authors: {"name": ...}
            value = value.get("name")
        if not isinstance(value, str):
            raise ItemError(f"{key} has a non-text entry")
        if value.strip():
            names.append(" ".join(value.split()))
    return tuple(names)


def _optional_url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def paper_from_item(item: Any) -> Paper:
    """One file item (flat or Hugging Face shape) -> Paper; ItemError says what is wrong."""
    if not isinstance(item, dict):
        raise ItemError("not a JSON object")
    source = "ingest"
    if isinstance(item.get("paper"), dict):  # a Hugging Face daily-papers item
        outer, item, source = item, item["paper"], "hf"
        item = {**item, "thumbnail": item.get("thumbnail") or outer.get("thumbnail")}
    paper_id, version = split_arxiv_id(item.get("id"))
    upvotes = item.get("upvotes")
    if upvotes is not None and (isinstance(upvotes, bool) or not isinstance(upvotes, int)):
        raise ItemError("upvotes is not a number")
    return Paper(
        id=paper_id, version=version, source=source,
        title=_text(item, "title", required=True), summary=_text(item, "summary"),
        authors=_names(item.get("authors"), "authors"),
        categories=_names(item.get("categories"), "categories"),
        keywords=_names(item.get("ai_keywords", item.get("keywords")), "keywords"),
        published=parse_datetime(item.get("published", item.get("publishedAt"))),
        upvotes=upvotes, github_url=_optional_url(item.get("githubRepo")),
        project_url=_optional_url(item.get("projectPage")),
        thumbnail_url=_optional_url(item.get("thumbnail")),
    )


def load_papers(path: str | Path) -> LoadReport:
    """Read a JSON array or JSON Lines file of papers."""
    path = Path(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        return LoadReport([], [f"{path}: larger than {MAX_FILE_BYTES // 1_000_000} MB"])
    text = path.read_text(encoding="utf-8", errors="replace")
    stripped = text.lstrip()
    entries: list[tuple[str, Any]] = []
    errors: list[str] = []
    if stripped.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            return LoadReport([], [f"line {exc.lineno}: not valid JSON ({exc.msg})"])
        entries = [(f"item {n}", item) for n, item in enumerate(items, start=1)]
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entries.append((f"line {number}", json.loads(line)))
            except json.JSONDecodeError as exc:
                errors.append(f"line {number}: not valid JSON ({exc.msg})")
    papers = []
    for where, item in entries:
        try:
            papers.append(paper_from_item(item))
        except ItemError as exc:
            errors.append(f"{where}: {exc}")
    return LoadReport(papers, errors)
