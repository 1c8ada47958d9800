"""A fake arXiv on 127.0.0.1: listing feeds (`/rss/{cats}`, `/atom/{cats}`) and the export API.

Listings are set per category string (`"cs.LG+cs.CL"`); an unknown one answers arXiv's
"Feed error for query" feed. `/api/query` answers `id_list` from the export entries set
(by key, any version) and any `search_query` by paging through all of them with `start` /
`max_results` and `opensearch:totalResults`; `empty_pages = n` plays arXiv's habit of
answering an empty page by mistake. Faults and request records come from
`FakeSourceServer` (see `tests/fakes/hf_api.py`); pass a virtual `clock` to check pacing.

    async with FakeArxivAPI() as arxiv:
        arxiv.set_listing("cs.AI", ATOM_FIXTURE.read_bytes())
        cfg = ArxivSourceConfig(categories=("cs.AI",), rss_base_url=arxiv.base_url,
                                api_base_url=arxiv.base_url)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from html import escape
from typing import Any

from aiohttp import web

from tests.fakes.hf_api import DATA, FakeSourceServer

ATOM_FIXTURE = DATA / "arxiv_atom_cs.AI_2025-08-20.xml"
API_FIXTURE = DATA / "arxiv_api_query_au_del_maestro.xml"
_ENTRY = re.compile(r"<entry>.*?</entry>", re.S)
_EXPORT_ID = re.compile(r"<id>https?://arxiv\.org/abs/(.+?)(?:v\d+)?</id>")


def listing_entry(arxiv_id: str, title: str, announce: str = "new", version: int = 1,
                  authors: str = "Alice Smith, Bob Jones", categories: Sequence[str] = ("cs.LG",),
                  abstract: str = "We study things.",
                  published: str = "2025-08-20T00:00:00-04:00") -> str:
    """One Atom listing entry shaped like arXiv's (announce type: new, cross, replace...)."""
    cats = "".join(f'<category term="{escape(c)}"/>' for c in categories)
    return f"""  <entry>
    <id>oai:arXiv.org:{arxiv_id}v{version}</id>
    <title>{escape(title)}</title>
    <updated>2025-08-20T04:00:19.899254+00:00</updated>
    <link href="https://arxiv.org/abs/{arxiv_id}" rel="alternate" type="text/html"/>
    <summary>arXiv:{arxiv_id}v{version} Announce Type: {announce}{' '}
Abstract: {escape(abstract)}</summary>
    {cats}
    <published>{published}</published>
    <arxiv:announce_type>{announce}</arxiv:announce_type>
    <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
    <dc:creator>{escape(authors)}</dc:creator>
  </entry>
"""


def listing_feed(entries: Iterable[str], categories: str = "cs.LG",
                 updated: str = "2025-08-20T04:00:19.866337+00:00",
                 title: str | None = None) -> bytes:
    head = f"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns="http://www.w3.org/2005/Atom" xml:lang="en-us">
  <id>http://rss.arxiv.org/atom/{categories}</id>
  <title>{escape(title or categories + ' updates on arXiv.org')}</title>
  <updated>{updated}</updated>
  <link href="http://rss.arxiv.org/atom/{categories}" rel="self" type="application/atom+xml"/>
  <subtitle>{categories} updates on the arXiv.org e-print archive.</subtitle>
"""
    return (head + "".join(entries) + "</feed>\n").encode()


def empty_listing(categories: str = "cs.LG") -> bytes:
    """What arXiv serves on Saturdays, Sundays and holidays: a valid feed with no entries."""
    return listing_feed([], categories, updated="2025-08-23T04:00:00+00:00")


def feed_error_listing(categories: str) -> bytes:
    return listing_feed([], categories, title=f"Feed error for query: {categories}")


def export_entry(arxiv_id: str, title: str, version: int = 1,
                 published: str = "2025-08-19T17:00:00Z", categories: Sequence[str] = ("cs.LG",),
                 authors: Sequence[str] = ("Alice Smith", "Bob Jones"),
                 summary: str = "We study things.") -> str:
    people = "".join(f"<author><name>{escape(a)}</name></author>" for a in authors)
    cats = "".join(f'<category term="{escape(c)}" scheme="http://arxiv.org/schemas/atom"/>'
                   for c in categories)
    return f"""<entry>
    <id>http://arxiv.org/abs/{arxiv_id}v{version}</id>
    <updated>{published}</updated>
    <published>{published}</published>
    <title>{escape(title)}</title>
    <summary>  {escape(summary)}
</summary>
    {people}
    <link href="http://arxiv.org/abs/{arxiv_id}v{version}" rel="alternate" type="text/html"/>
    <link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}v{version}" rel="related" type="application/pdf"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="{escape(categories[0])}" scheme="http://arxiv.org/schemas/atom"/>
    {cats}
  </entry>"""


def export_feed(entries: Sequence[str], total: int, start: int = 0) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link href="http://arxiv.org/api/query" rel="self" type="application/atom+xml"/>
  <title type="html">ArXiv Query</title>
  <id>http://arxiv.org/api/fake</id>
  <updated>2025-08-20T00:00:00-04:00</updated>
  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}</opensearch:totalResults>
  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{start}</opensearch:startIndex>
  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{len(entries)}</opensearch:itemsPerPage>
  {''.join(entries)}
</feed>
""".encode()


def api_fixture_entries() -> list[str]:
    """The ten real entries of the bundled export-API answer (au:del_maestro)."""
    return _ENTRY.findall(API_FIXTURE.read_text())


class FakeArxivAPI(FakeSourceServer):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.listings: dict[str, bytes] = {}
        self.export_entries: list[str] = []
        self.empty_pages = 0

    def set_listing(self, categories: str, body: bytes) -> None:
        self.listings[categories] = body

    def queries(self) -> list[dict[str, str]]:
        return [r.query for r in self.requests if r.path == "/api/query"]

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/rss/{cats}", self._listing), web.get("/atom/{cats}", self._listing),
                web.get("/api/query", self._query)]

    async def _listing(self, request: web.Request) -> web.Response:
        cats = request.match_info["cats"]
        body = self.listings.get(cats, feed_error_listing(cats))
        return web.Response(body=body, content_type="application/atom+xml")

    async def _query(self, request: web.Request) -> web.Response:
        query: dict[str, Any] = request.query
        if query.get("id_list"):
            wanted = set(query["id_list"].split(","))
            found = [e for e in self.export_entries if _key(e) in wanted]
            return self._feed(found, len(found), 0)
        start = int(query.get("start", "0"))
        size = int(query.get("max_results", "10"))
        if self.empty_pages:
            self.empty_pages -= 1
            return self._feed([], len(self.export_entries), start)
        return self._feed(self.export_entries[start:start + size], len(self.export_entries),
                          start)

    @staticmethod
    def _feed(entries: Sequence[str], total: int, start: int) -> web.Response:
        return web.Response(body=export_feed(entries, total, start),
                            content_type="application/atom+xml")


def _key(entry: str) -> str:
    match = _EXPORT_ID.search(entry)
    return match.group(1) if match else ""
