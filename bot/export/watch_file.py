"""A person's watches as a small text file (`/export watches`) and back (`/import`).

One query a line, as the person typed it; lines starting with `#` and blank lines are
comments. Reading parses every line with the watch language and reports each refused line
by its number; queries that mean the same (same canonical form) are kept once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.watching.query import Query, QueryError, canonical, parse

MAX_FILE_BYTES = 64_000
MAX_WATCHES = 200


@dataclass(frozen=True)
class WatchFile:
    queries: list[Query]
    errors: list[str]  # "line 3: Unbalanced quote (at character 1) ..."


def write_watch_file(queries: Iterable[str], where: str = "") -> str:
    """The file `/export watches` sends: a comment header, then one query a line."""
    header = ["# paperwatch watches" + (f" of {where}" if where else ""),
              "# one query a line; send this file with /import to watch them elsewhere"]
    return "\n".join(header + [" ".join(q.split()) for q in queries]) + "\n"


def read_watch_file(data: bytes) -> WatchFile:
    """Parse an uploaded watch file; nothing here touches storage."""
    if len(data) > MAX_FILE_BYTES:
        return WatchFile([], [f"the file is larger than {MAX_FILE_BYTES // 1000} KB"])
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    queries: list[Query] = []
    errors: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            query = parse(line)
        except QueryError as exc:
            errors.append(f"line {number}: {exc.describe()}")
            continue
        key = canonical(query.tree)
        if key in seen:
            continue
        seen.add(key)
        if len(queries) == MAX_WATCHES:
            errors.append(f"line {number}: more than {MAX_WATCHES} watches; the rest is left out")
            break
        queries.append(query)
    return WatchFile(queries, errors)
