"""The arXiv source with the real aiohttp client and feedparser against a fake arXiv on
127.0.0.1: author lists with affiliations, TeX accents to Unicode, text fields read from the
XML, listing feeds (real Atom sample, RSS, empty weekend feed, feed errors, truncated
XML), replacements, the export API (real sample with old-style ids), its 3-second pacing on
one connection (checked on a virtual clock), and the back-fill after downtime."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from bot.config import ArxivSourceConfig, HttpConfig
from bot.sources.arxiv import (
    ArxivExportClient,
    ArxivSource,
    Author,
    parse_authors,
    parse_export,
    parse_listing,
    raw_entries,
    split_authors,
    strip_abstract_prefix,
)
from bot.sources.http import FetchError
from bot.sources.tex import tex_to_unicode
from tests.fakes.arxiv_api import (
    API_FIXTURE,
    ATOM_FIXTURE,
    FakeArxivAPI,
    api_fixture_entries,
    empty_listing,
    export_entry,
    export_feed,
    listing_entry,
    listing_feed,
)

HTTP = HttpConfig(timeout_seconds=0.3, max_retries=2, max_body_bytes=2_000_000,
                  backoff_base_seconds=0.01)
NOW = datetime(2025, 8, 20, 12, 0, tzinfo=UTC)

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">
  <channel>
    <title>cs.LG updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.LG</link>
    <description>cs.LG updates on the arXiv.org e-print archive.</description>
    <lastBuildDate>Wed, 20 Aug 2025 04:00:19 +0000</lastBuildDate>
    <item>
      <title>Sparse Mixture-of-Experts &amp; You</title>
      <link>https://arxiv.org/abs/2508.14010</link>
      <description>arXiv:2508.14010v1 Announce Type: new
Abstract: Routing tokens where x &lt; y.</description>
      <guid isPermaLink="false">oai:arXiv.org:2508.14010v1</guid>
      <category>cs.LG</category>
      <category>cs.CL</category>
      <pubDate>Wed, 20 Aug 2025 00:00:00 -0400</pubDate>
      <arxiv:announce_type>new</arxiv:announce_type>
      <dc:rights>http://creativecommons.org/licenses/by/4.0/</dc:rights>
      <dc:creator>Ada Lovelace, Alan Turing and Grace Hopper</dc:creator>
    </item>
    <item>
      <title>An Old Paper, Revised</title>
      <link>https://arxiv.org/abs/2507.00001</link>
      <description>arXiv:2507.00001v3 Announce Type: replace
Abstract: Now with more experiments.</description>
      <guid isPermaLink="false">oai:arXiv.org:2507.00001v3</guid>
      <category>cs.LG</category>
      <pubDate>Wed, 20 Aug 2025 00:00:00 -0400</pubDate>
      <arxiv:announce_type>replace</arxiv:announce_type>
      <dc:creator>Jane Roe</dc:creator>
    </item>
  </channel>
</rss>
"""


class VirtualTime:
    """A monotonic clock that only sleeps move: pacing is checked without real waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def vt() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def arxiv(vt: VirtualTime) -> AsyncIterator[FakeArxivAPI]:
    async with FakeArxivAPI(clock=vt) as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def config(arxiv: FakeArxivAPI, categories: tuple[str, ...] = ("cs.AI",),
           include_cross: bool = True) -> ArxivSourceConfig:
    return ArxivSourceConfig(enabled=True, categories=categories, rss_base_url=arxiv.base_url,
                             api_base_url=arxiv.base_url, include_cross=include_cross)


def make_source(arxiv: FakeArxivAPI, vt: VirtualTime, **kw: object) -> ArxivSource:
    cfg = config(arxiv, **kw)  # type: ignore[arg-type]
    export = ArxivExportClient(cfg, HTTP, sleep=vt.sleep, clock=vt, page_size=4)
    return ArxivSource(cfg, HTTP, sleep=vt.sleep, export=export)


# --- parsing ---------------------------------------------------------------------------------


def test_real_listing_new_and_cross_become_papers():
    listing = parse_listing(ATOM_FIXTURE.read_bytes())
    assert listing.counts == {"cross": 5, "new": 2} and listing.skipped == 0
    assert len(listing.papers) == 7 and listing.updates == []
    first = listing.papers[0]
    assert first.id == "2508.13426" and first.version == 1 and first.source == "arxiv"
    assert first.title.startswith("ALIGN: Word Association Learning")
    assert first.summary.startswith("As large language models (LLMs) increasingly mediate")
    assert "Announce Type" not in first.summary and "arXiv:" not in first.summary[:10]
    assert first.authors == ("Chunhua Liu", "Kabir Manandhar Shrestha", "Sukai Huang")
    assert first.categories == ("cs.CL", "cs.AI")
    assert first.published == datetime(2025, 8, 20, 4, 0, tzinfo=UTC)  # 00:00 US Eastern
    assert listing.announced is not None and str(listing.announced) == "2025-08-20"


def test_cross_lists_left_out_when_not_configured():
    listing = parse_listing(ATOM_FIXTURE.read_bytes(), include_cross=False)
    assert [p.id for p in listing.papers] == ["2508.14001", "2508.14002"]


def test_rss_listing_with_replacement():
    listing = parse_listing(RSS)
    assert [p.id for p in listing.papers] == ["2508.14010"]
    paper = listing.papers[0]
    assert paper.title == "Sparse Mixture-of-Experts & You"
    assert paper.summary == "Routing tokens where x < y."
    assert paper.authors == ("Ada Lovelace", "Alan Turing", "Grace Hopper")
    assert paper.categories == ("cs.LG", "cs.CL")
    assert paper.published == datetime(2025, 8, 20, 4, 0, tzinfo=UTC)
    (update,) = listing.updates
    assert (update.id, update.version, update.summary) == ("2507.00001", 3,
                                                           "Now with more experiments.")


def test_authors_and_prefix_helpers():
    assert split_authors("A One, B Two and C Three") == ("A One", "B Two", "C Three")
    assert split_authors("Martin Luther King, Jr., Rosa Parks") == ("Martin Luther King, Jr.",
                                                                    "Rosa Parks")
    assert split_authors("Paulo Andr\\'e Lima de Castro") == ("Paulo Andr\\'e Lima de Castro",)
    assert split_authors("") == ()
    assert split_authors("Q&A Team & Jane Doe") == ("Q&A Team", "Jane Doe")
    assert strip_abstract_prefix("arXiv:2508.13426v1 Announce Type: replace-cross \n"
                                 "Abstract: Text\n here.") == "Text here."
    assert strip_abstract_prefix("arXiv:cond-mat/0603029v2 Announce Type: new\nAbstract: X") == "X"


@pytest.mark.parametrize(("creator", "authors"), [
    ("Alexandre Benoist (LORIA, CNRS), Jean Kieffer (LORIA, CNRS)",
     (Author("Alexandre Benoist", "LORIA, CNRS"), Author("Jean Kieffer", "LORIA, CNRS"))),
    ("Jadelynn Dao (Andrew and Peggy Cherng Department, Caltech) and Ruixiao Liu",
     (Author("Jadelynn Dao", "Andrew and Peggy Cherng Department, Caltech"),
      Author("Ruixiao Liu"))),
    ("A One, B Two, and C Three", (Author("A One"), Author("B Two"), Author("C Three"))),
    ("Ann Lee (Institute X (IX), Paris), Bo Li",
     (Author("Ann Lee", "Institute X (IX), Paris"), Author("Bo Li"))),
    ("Joao Bachiega Jr (UnB), Rosa Parks, Jr.",
     (Author("Joao Bachiega Jr", "UnB"), Author("Rosa Parks, Jr."))),
    (" NOvA Collaboration, M. A. Acero", (Author("NOvA Collaboration"), Author("M. A. Acero"))),
    ("Ann Lee (Univ. A, Bo Li", (Author("Ann Lee", "Univ. A"), Author("Bo Li"))),  # unbalanced
])
def test_authors_split_outside_parentheses_affiliations_apart(creator, authors):
    assert parse_authors(creator) == authors
    assert split_authors(creator) == tuple(a.name for a in authors)


@pytest.mark.parametrize(("tex", "text"), [
    ("Benjamin R\\'emy", "Benjamin Rémy"),
    ("Przemys{\\l}aw", "Przemysław"),
    ('Schr\\"odinger', "Schrödinger"),
    ("Informa\\c{c}\\~ao, Stra\\ss e", "Informação, Straße"),
    ("Young--Fibonacci --- a~note", "Young–Fibonacci — a note"),
    ("{\\Lambda}CDM and P\\\'{o}lya, Erd\\H{o}s, Krasnosel'ki\\u{\\i}",
     "ΛCDM and Pólya, Erdős, Krasnosel'kiĭ"),
    ("Attributes \\& Preferences", "Attributes & Preferences"),
    # maths stays exactly as sent, TeX-looking or not
    ("Schr\\\"odinger with $\\alpha$ and $\\frac{1}{3}<s<1$",
     "Schrödinger with $\\alpha$ and $\\frac{1}{3}<s<1$"),
    ("Ta$_2$NiSe$_5$ and $$x~y$$ in \\(a--b\\)", "Ta$_2$NiSe$_5$ and $$x~y$$ in \\(a--b\\)"),
    # what pylatexenc would misread is kept: a % comment, &, a lone $, unknown macros
    ("What the %PCSA? {Addressing}", "What the %PCSA? Addressing"),
    ("Design & Optimization {x}", "Design & Optimization x"),
    ("Costs $5 --- or more", "Costs $5 — or more"),
    ("\\foo{bar} and \\unknown x {y}", "\\foo{bar} and \\unknown x y"),
    ("``quoted'' -- really", "``quoted'' – really"),
    # plain Unicode (the export API) is left alone
    ("José Ñúñez  Łukasz\tO'Brien", "José Ñúñez Łukasz O'Brien"),
])
def test_tex_to_unicode(tex, text):
    assert tex_to_unicode(tex) == text


def test_rss_text_fields_are_the_xml_text():
    body = RSS.replace(b"Routing tokens where x &lt; y.",
                       b"(H&amp;E) when $\\frac{1}{3}&lt;s&lt;1$ &amp;lt;b&amp;gt;")
    body = body.replace(b"Ada Lovelace, Alan Turing and Grace Hopper",
                        b"Ada Lovelace (Analytical Engine, London), Benjamin R\\'emy")
    (paper,) = parse_listing(body).papers
    assert paper.summary == "(H&E) when $\\frac{1}{3}<s<1$ &lt;b&gt;"  # decoded once only
    assert paper.authors == ("Ada Lovelace", "Benjamin Rémy")


def test_raw_entries_of_a_truncated_or_foreign_body():
    raw = ATOM_FIXTURE.read_bytes()
    cut = raw[: raw.index(b"<arxiv:announce_type>", raw.index(b"2508.13429v1"))]
    assert list(raw_entries(cut)) == ["oai:arXiv.org:2508.13426v1", "oai:arXiv.org:2508.13428v1"]
    assert raw_entries(b"<html><body>502</body></html>") == {}
    assert raw_entries(b"") == {} and raw_entries(b'{"papers": []}') == {}


def test_export_titles_normalized_like_the_listing():
    body = export_feed_body('Schr\\"odinger at $\\alpha$--scale', ("José Ñúñez", "Ann Lee"))
    (paper,) = parse_export(body).papers
    assert paper.title == "Schrödinger at $\\alpha$–scale"
    assert paper.authors == ("José Ñúñez", "Ann Lee")
    (single,) = parse_export(export_feed_body("One", ("Martin Luther King, Jr.",))).papers
    assert single.authors == ("Martin Luther King, Jr.",)  # one <author>: never re-split


def export_feed_body(title: str, authors: tuple[str, ...]) -> bytes:
    return export_feed([export_entry("2508.19001", title, authors=authors)], 1)


def test_empty_weekend_feed_is_empty_not_an_error():
    listing = parse_listing(empty_listing("cs.AI"))
    assert listing.empty and listing.error is None and listing.papers == []


@pytest.mark.parametrize(("body", "error"), [
    (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "not an RSS/Atom feed"),
    (b'{"papers": []}', "not an RSS/Atom feed"),
    (b"", "not an RSS/Atom feed"),
    (listing_feed([], "cs.XX", title="Feed error for query: cs.XX"), "Feed error for query"),
    (b"<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>cs.AI", "malformed"),
])
def test_unusable_feeds_are_errors(body, error):
    listing = parse_listing(body)
    assert listing.error is not None and error in listing.error


def test_truncated_feed_keeps_its_whole_entries(caplog):
    raw = ATOM_FIXTURE.read_bytes()
    cut = raw[: raw.index(b"<arxiv:announce_type>", raw.index(b"2508.13429v1"))]
    with caplog.at_level(logging.WARNING, logger="bot.sources.arxiv"):
        listing = parse_listing(cut)
    assert listing.malformed and listing.error is None
    assert [p.id for p in listing.papers] == ["2508.13426", "2508.13428"]
    assert listing.skipped == 1
    assert "id=oai:arXiv.org:2508.13429v1 skipped: no announce type" in caplog.text


def test_bad_entries_skipped_good_kept(caplog):
    body = listing_feed([
        listing_entry("2508.20001", "Good one"),
        listing_entry("not-an-id", "Bad id"),
        listing_entry("2508.20002", "From the future", published="3025-01-01T00:00:00Z"),
        listing_entry("2508.20003", ""),
        listing_entry("2508.20004", "Odd type", announce="withdrawn"),
        listing_entry("2508.20005", "Good two", announce="cross"),
    ])
    with caplog.at_level(logging.WARNING, logger="bot.sources.arxiv"):
        listing = parse_listing(body)
    assert [p.id for p in listing.papers] == ["2508.20001", "2508.20005"]
    assert listing.skipped == 4
    for ident in ("not-an-idv1", "2508.20002v1", "2508.20003v1", "2508.20004v1"):
        assert f"source=arxiv id=oai:arXiv.org:{ident} skipped" in caplog.text


def test_real_export_answer_with_old_style_ids():
    page = parse_export(API_FIXTURE.read_bytes())
    assert page.total == 31 and page.skipped == 0 and len(page.papers) == 10
    by_id = {p.id: p for p in page.papers}
    old = by_id["cond-mat/0603029"]
    assert old.version == 1 and old.categories[0] == "cond-mat.str-el"
    assert old.authors == ("Adrian Del Maestro", "Bernd Rosenow", "Subir Sachdev")
    assert old.title == ("From stripe to checkerboard order on the square lattice in the "
                         "presence of quenched disorder")
    assert old.published == datetime(2006, 3, 2, 2, 22, 45, tzinfo=UTC)
    assert by_id["1303.6954"].version == 2
    assert by_id["1201.4869"].summary.startswith("As helium-4 is cooled below 2.17 K")


def test_export_error_entry_is_a_fetch_error():
    body = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>ArXiv Query</title><id>x</id>
<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.12345</id><title>Error</title>
<summary>incorrect id format for 1234.12345</summary><updated>2024-01-01T00:00:00-05:00</updated>
</entry></feed>"""
    with pytest.raises(FetchError, match="incorrect id format"):
        parse_export(body)


# --- the source over HTTP ------------------------------------------------------------------


async def test_source_reads_the_configured_categories(arxiv, session, vt):
    arxiv.set_listing("cs.AI+cs.LG", ATOM_FIXTURE.read_bytes())
    src = make_source(arxiv, vt, categories=("cs.AI", "cs.LG"))
    result = await src.fetch(session, NOW)
    assert arxiv.paths() == ["/rss/cs.AI+cs.LG"]
    assert result.status == "ok" and len(result.papers) == 7 and result.updates == ()
    assert result.note == "announcement of 2025-08-20: 5 cross, 2 new"


async def test_replace_entries_are_updates(arxiv, session, vt):
    arxiv.set_listing("cs.AI", listing_feed([
        listing_entry("2508.20001", "New"),
        listing_entry("2508.10000", "Replaced", announce="replace", version=2),
        listing_entry("2508.10001", "Replaced cross", announce="replace-cross", version=3)]))
    result = await make_source(arxiv, vt).fetch(session, NOW)
    assert [p.id for p in result.papers] == ["2508.20001"]
    assert [(u.id, u.version) for u in result.updates] == [("2508.10000", 2), ("2508.10001", 3)]


async def test_weekend_feed_says_no_announcement_today(arxiv, session, vt):
    arxiv.set_listing("cs.AI", empty_listing("cs.AI"))
    result = await make_source(arxiv, vt).fetch(session, NOW)
    assert result.status == "empty" and result.papers == ()
    assert result.note.startswith("no announcement today")


async def test_unknown_category_feed_error(arxiv, session, vt):
    result = await make_source(arxiv, vt, categories=("cs.XX",)).fetch(session, NOW)
    assert result.status == "error" and "Feed error for query" in result.note


async def test_listing_down_is_an_error_result(arxiv, session, vt):
    arxiv.fail("status", times=10, status=503, retry_after="2")
    result = await make_source(arxiv, vt).fetch(session, NOW)
    assert result.status == "error"
    assert result.note == "listing feed: HTTP 503, gave up after 3 attempts"
    assert vt.waits and all(w >= 2 for w in vt.waits)


async def test_listing_html_and_huge_answers_are_errors(arxiv, session, vt):
    arxiv.set_listing("cs.AI", ATOM_FIXTURE.read_bytes())
    arxiv.fail("html")
    assert "not an RSS/Atom feed" in (await make_source(arxiv, vt).fetch(session, NOW)).note
    arxiv.fail("big", chunked=True)
    result = await make_source(arxiv, vt).fetch(session, NOW)
    assert result.status == "error" and "byte cap" in result.note


async def test_an_entry_dated_next_year_is_skipped(arxiv, session, vt):
    arxiv.set_listing("cs.AI", listing_feed([
        listing_entry("2508.20001", "Today"),
        listing_entry("2508.20002", "Next year", published="2026-08-20T00:00:00-04:00")]))
    result = await make_source(arxiv, vt).fetch(session, NOW)
    assert [p.id for p in result.papers] == ["2508.20001"] and result.skipped == 1


async def test_truncated_listing_keeps_whole_entries(arxiv, session, vt):
    raw = ATOM_FIXTURE.read_bytes()
    arxiv.fail("raw", body=raw[: len(raw) // 2], content_type="application/atom+xml")
    result = await make_source(arxiv, vt).fetch(session, NOW)
    assert result.status == "ok" and len(result.papers) >= 2
    assert "malformed" in result.note


# --- the export API: pacing and paging ------------------------------------------------------


def gaps(arxiv: FakeArxivAPI) -> list[float]:
    times = [r.at for r in arxiv.requests if r.path == "/api/query"]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


async def test_id_list_batches_three_seconds_apart_on_one_connection(arxiv, session, vt):
    arxiv.export_entries = api_fixture_entries()
    client = ArxivExportClient(config(arxiv), HTTP, sleep=vt.sleep, clock=vt)
    ids = ["1201.4869v1", "cond-mat/0412498", "cond-mat/0603029v1", "1005.5383", "1303.6954",
           "1312.6177", "1412.6529", "cond-mat/0607501", "cond-mat/0702661", "0807.2873"]
    result = await client.by_ids(session, ids, batch=4)
    assert len(result.papers) == 10
    assert [q["id_list"] for q in arxiv.queries()] == [
        "1201.4869,cond-mat/0412498,cond-mat/0603029,1005.5383",
        "1303.6954,1312.6177,1412.6529,cond-mat/0607501",
        "cond-mat/0702661,0807.2873"]
    assert all(gap >= 3.0 for gap in gaps(arxiv)) and len(gaps(arxiv)) == 2
    assert arxiv.max_in_flight == 1


async def test_concurrent_callers_still_get_one_request_at_a_time(arxiv, session, vt):
    arxiv.export_entries = api_fixture_entries()
    client = ArxivExportClient(config(arxiv), HTTP, sleep=vt.sleep, clock=vt)
    await asyncio.gather(*(client.by_ids(session, [i]) for i in ("1201.4869", "1005.5383",
                                                                  "0807.2873")))
    assert arxiv.max_in_flight == 1 and all(gap >= 3.0 for gap in gaps(arxiv))


async def test_submitted_date_range_pages_through_results(arxiv, session, vt):
    arxiv.export_entries = api_fixture_entries()
    client = ArxivExportClient(config(arxiv, ("cs.LG", "cs.CL")), HTTP, sleep=vt.sleep,
                               clock=vt, page_size=4)
    start = datetime(2025, 8, 18, tzinfo=UTC)
    result = await client.submitted_between(session, start, NOW, ("cs.LG", "cs.CL"))
    assert len(result.papers) == 10 and result.note == ""
    queries = arxiv.queries()
    assert [q["start"] for q in queries] == ["0", "4", "8"]
    assert queries[0]["search_query"] == ("(cat:cs.LG OR cat:cs.CL) AND "
                                          "submittedDate:[202508180000 TO 202508201200]")
    assert queries[0]["sortBy"] == "submittedDate" and queries[0]["sortOrder"] == "descending"
    assert all(gap >= 3.0 for gap in gaps(arxiv))


async def test_an_empty_page_by_mistake_is_retried(arxiv, session, vt):
    arxiv.export_entries = api_fixture_entries()
    arxiv.empty_pages = 1
    client = ArxivExportClient(config(arxiv), HTTP, sleep=vt.sleep, clock=vt, page_size=5)
    result = await client.submitted_between(session, NOW - timedelta(days=2), NOW, ("cs.AI",))
    assert len(result.papers) == 10
    assert [q["start"] for q in arxiv.queries()] == ["0", "0", "5"]


async def test_export_backs_off_on_429_and_503_keeping_the_interval(arxiv, session, vt):
    arxiv.export_entries = api_fixture_entries()
    arxiv.fail("status", status=429, retry_after="10")
    arxiv.fail("status", status=503)
    client = ArxivExportClient(config(arxiv), HTTP, sleep=vt.sleep, clock=vt)
    result = await client.by_ids(session, ["1201.4869"])
    assert len(result.papers) == 1 and len(arxiv.queries()) == 3
    assert gaps(arxiv)[0] >= 10 and gaps(arxiv)[1] >= 3.0


async def test_back_fill_after_downtime_adds_missed_papers(arxiv, session, vt):
    arxiv.set_listing("cs.AI", listing_feed([listing_entry("2508.20001", "Today's")],
                                            "cs.AI"))
    arxiv.export_entries = [export_entry("2508.19001", "Missed Monday", categories=("cs.AI",)),
                            export_entry("2508.20001", "Today's", categories=("cs.AI",)),
                            export_entry("2508.19002", "Missed cross", categories=("cs.CV",
                                                                                  "cs.AI"))]
    src = make_source(arxiv, vt)
    recent = await src.fetch(session, NOW, since=NOW - timedelta(hours=2))
    assert arxiv.queries() == [] and len(recent.papers) == 1  # no gap, no back-fill
    result = await src.fetch(session, NOW, since=NOW - timedelta(days=2))
    assert result.status == "ok"
    assert sorted(p.id for p in result.papers) == ["2508.19001", "2508.19002", "2508.20001"]
    assert "back-filled 2 papers since 2025-08-18" in result.note
    # submissions announced in the gap: from 4 days before the last success
    assert "submittedDate:[202508141200 TO 202508201200]" in arxiv.queries()[-1]["search_query"]
    await src.fetch(session, NOW, since=NOW - timedelta(days=60))
    assert "submittedDate:[202508131200 TO" in arxiv.queries()[-1]["search_query"]  # a week
    no_cross = make_source(arxiv, vt, include_cross=False)
    result = await no_cross.fetch(session, NOW, since=NOW - timedelta(days=3))
    assert sorted(p.id for p in result.papers) == ["2508.19001", "2508.20001"]


async def test_a_failed_back_fill_keeps_the_gap_open(arxiv, session, vt):
    arxiv.set_listing("cs.AI", listing_feed([listing_entry("2508.20001", "Today's")], "cs.AI"))
    arxiv.fail("status", times=10, status=503, match={"sortBy": "submittedDate"})
    result = await make_source(arxiv, vt).fetch(session, NOW, since=NOW - timedelta(days=3))
    assert result.status == "error" and len(result.papers) == 1
    assert "back-fill failed: HTTP 503" in result.note
