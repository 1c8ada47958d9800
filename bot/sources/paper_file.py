"""Read papers from a file (`paperwatch ingest`, the console's /ingest, the demo's sample).

The format is found by PARSING, never by the first character:

- one JSON document: a list of items, an object `{"items": [...]}`, or a single item;
  (a list with one element nested too deeply is read element by element: one bad item);
- else JSON Lines (one item per line) when at least half of the non-blank lines are a JSON
  value on their own; otherwise the file is broken JSON and nothing of it is stored (so a
  pretty-printed document with an error never turns into papers made of its fragments).

Each item is a Hugging Face daily-papers item (it has a "paper" object: read by the same
reader as the poller, `bot.sources.hf_item`) or a flat object {"id", "title", "summary",
"authors": [names], "categories", "keywords", "published", "upvotes", "githubRepo",
"githubStars", "projectPage", "thumbnail", "ai_summary", "organization"}. A bad item (also
one nested too deeply to parse) is reported with its line or position, id and reason; the
good items of the same file are still returned.

A file that cannot be read at all (missing, a directory, unreadable, too large) raises
`PaperFileError`, so callers can exit non-zero.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.sources.clean import (
    ItemError,
    clean_paper,
    count,
    names,
    parse_datetime,
    split_arxiv_id,
)
from bot.sources.hf_item import paper_from_hf_item
from bot.types import Paper

__all__ = ["ItemError", "LoadReport", "PaperFileError", "load_papers", "paper_from_item",
           "parse_datetime", "split_arxiv_id"]

MAX_FILE_BYTES = 50_000_000


@dataclass(frozen=True)
class LoadReport:
    papers: list[Paper]
    errors: list[str]  # "line 3: upvotes -3 is not a count (id 2508.13426)"


class PaperFileError(OSError):
    """The file could not be read at all: `strerror` says why, str() is one line naming the
    file and why ("can't read x.json: No such file or directory")."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(reason)
        self.strerror = reason
        self.filename = str(path)

    def __str__(self) -> str:
        return f"can't read {self.filename}: {self.strerror}"


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ItemError(f"{key} is {type(value).__name__}, not text")
    return value


def _list(item: dict[str, Any], key: str) -> list[Any]:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ItemError(f"{key} is {type(value).__name__}, not a list")
    return [v.get("name") if isinstance(v, dict) else v for v in value]


def _flat_paper(item: dict[str, Any]) -> Paper:
    paper_id, version = split_arxiv_id(item.get("id"))
    if item.get("withdrawnAt"):
        raise ItemError("withdrawn")
    stars = item.get("githubStars", item.get("github_stars"))
    org = item.get("organization")
    return clean_paper(Paper(
        id=paper_id, version=version, source="ingest", title=_text(item, "title"),
        summary=_text(item, "summary"),
        authors=tuple(_list(item, "authors")),
        categories=tuple(_list(item, "categories")),
        keywords=names(item.get("keywords", item.get("ai_keywords"))),
        published=parse_datetime(item.get("published", item.get("publishedAt"))),
        upvotes=count(item.get("upvotes"), "upvotes"),
        github_url=item.get("githubRepo"), github_stars=stars if isinstance(stars, int) else None,
        project_url=item.get("projectPage"), thumbnail_url=item.get("thumbnail"),
        ai_summary=item["ai_summary"] if isinstance(item.get("ai_summary"), str) else "",
        organization=org if isinstance(org, str) else None,
    ))


def paper_from_item(item: Any) -> Paper:
    """One file item (flat or Hugging Face shape) -> a clean Paper; ItemError says why not."""
    if not isinstance(item, dict):
        raise ItemError("not a JSON object")
    if "paper" in item:  # a Hugging Face daily-papers item: the poller's reader
        return paper_from_hf_item(item)
    return _flat_paper(item)


def _label(item: Any) -> str:
    """" (id 2508.13426)" when the item has a usable id (else the reason names the id)."""
    fields = item.get("paper", item) if isinstance(item, dict) else None
    try:
        paper_id, _version = split_arxiv_id(fields.get("id") if isinstance(fields, dict) else None)
    except ItemError:
        return ""
    return f" (id {paper_id})"


def _loads(text: str) -> Any:
    """json.loads, with a value nested too deeply (RecursionError) and an integer of
    thousands of digits (ValueError) reported as ItemError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise ItemError("nested too deeply") from None
    except ValueError as exc:
        raise ItemError(f"not valid JSON ({exc})") from None


def _document_items(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict) and "items" in value and "paper" not in value:
        value = value["items"]
        if not isinstance(value, list):
            raise ItemError(f'"items" is {type(value).__name__}, not a list')
    if isinstance(value, list):
        return [(f"item {n}", item) for n, item in enumerate(value, start=1)]
    return [("item 1", value)]


def _json_lines(lines: list[tuple[int, str]]) -> tuple[list[tuple[str, Any]], list[str]] | None:
    """Items and errors when the lines read as JSON Lines, else None (broken JSON)."""
    entries: list[tuple[str, Any]] = []
    errors: list[str] = []
    for number, line in lines:
        try:
            entries.append((f"line {number}", _loads(line)))
        except json.JSONDecodeError as exc:
            errors.append(f"line {number}: not valid JSON ({exc.msg})")
        except ItemError as exc:  # too deep: still a whole line, not a fragment
            entries.append((f"line {number}", exc))
    return (entries, errors) if len(entries) * 2 >= len(lines) else None


_WS = re.compile(r"\s*")
_TOKEN = re.compile(r'[\[\]{}"]')
_STRING_END = re.compile(r'(?:[^"\\]|\\.)*"', re.S)
_SCALAR = re.compile(r"[^,\]}\s]*")


def _after_ws(text: str, pos: int = 0) -> int:
    """The position after the white space (possibly none) at `pos`."""
    match = _WS.match(text, pos)
    return match.end() if match else pos


def _skip_value(text: str, start: int) -> int | None:
    """The end of the JSON value starting at `start`, found without building it (the value
    is too deep or too big for json), or None when the text is broken."""
    if text[start] not in "[{":
        if text[start] == '"':
            match = _STRING_END.match(text, start + 1)
            return match.end() if match else None
        scalar = _SCALAR.match(text, start)
        return scalar.end() if scalar else None
    depth, pos = 0, start
    while (token := _TOKEN.search(text, pos)) is not None:
        char, pos = token.group(), token.end()
        if char == '"':
            match = _STRING_END.match(text, pos)
            if match is None:
                return None
            pos = match.end()
        elif char in "[{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return pos
    return None


def _array_items(text: str) -> list[tuple[str, Any]] | None:
    """A top-level array read element by element, so one element nested too deeply (or
    with a 5,000-digit number) is one bad item; None when the text is no such array."""
    decoder = json.JSONDecoder()
    pos = _after_ws(text)
    if not text.startswith("[", pos):
        return None
    pos = _after_ws(text, pos + 1)
    out: list[tuple[str, Any]] = []
    while not text.startswith("]", pos) or out:
        where = f"item {len(out) + 1}"
        try:
            value, end = decoder.raw_decode(text, pos)
            out.append((where, value))
        except json.JSONDecodeError:
            return None
        except (RecursionError, ValueError) as exc:
            skipped = _skip_value(text, pos)
            if skipped is None:
                return None
            reason = ("nested too deeply" if isinstance(exc, RecursionError)
                      else f"not valid JSON ({exc})")
            out.append((where, ItemError(reason)))
            end = skipped
        pos = _after_ws(text, end)
        if text.startswith(",", pos):
            pos = _after_ws(text, pos + 1)
        elif text.startswith("]", pos):
            break
        else:
            return None
    return out if _after_ws(text, pos + 1) == len(text) else None


def read_items(text: str) -> tuple[list[tuple[str, Any]], list[str]]:
    """(where, item) pairs and file-level errors; an item may be an ItemError to report."""
    text = text.removeprefix("\ufeff")
    try:
        return _document_items(_loads(text)), []
    except ItemError as exc:
        items = _array_items(text)
        if items is not None:
            return items, []
        if "\n" not in text.strip():  # one line: one item, too deep or too big
            return [], [f"item 1: {exc}"]
        first = exc
        syntax = None
    except json.JSONDecodeError as exc:
        first, syntax = None, exc
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        return [], ["the file is empty"]
    as_lines = _json_lines(lines) if len(lines) > 1 else None
    if as_lines is not None:
        return as_lines
    if syntax is not None:
        return [], [f"line {syntax.lineno}: not valid JSON ({syntax.msg}); nothing stored"]
    return [], [f"the file is not valid JSON ({first}); nothing stored"]


def load_papers(path: str | Path) -> LoadReport:
    """Read a JSON or JSON Lines file of papers; PaperFileError if it cannot be read."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise PaperFileError(path, f"larger than {MAX_FILE_BYTES // 1_000_000} MB")
        text = path.read_text(encoding="utf-8", errors="replace")
    except PaperFileError:
        raise
    except OSError as exc:
        raise PaperFileError(path, exc.strerror or str(exc)) from exc
    entries, errors = read_items(text)
    papers = []
    for where, item in entries:
        try:
            if isinstance(item, ItemError):
                raise item
            papers.append(paper_from_item(item))
        except ItemError as exc:
            errors.append(f"{where}: {exc}{_label(item)}")
    return LoadReport(papers, errors)
