"""The arXiv source against real captured answers (none written by this team; see
../shared/data/real/README.md): the rss.arxiv.org feed of every archive for 2024-11-28
(1,504 items), an empty and an error feed, three export-API answers, and the two older
samples in ../shared/data/.

For every file the papers and updates the parser returns are counted against the items
counted here with a regular expression over the raw text, and every field of every paper is
compared with a value computed here from the raw text by a small reference of the
documented normalization: entities decoded once (`html.unescape`), the abstract's
"arXiv:... Announce Type: ... Abstract:" prefix cut, whitespace folded, authors cut on
", " / " and " outside parentheses with the parenthesized affiliation dropped, TeX accents
(a table of combining marks here, pylatexenc in the code) turned to Unicode outside `$...$`.
Then the abstracts feedparser mangled and the author lists that split into fake authors,
named one by one.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import aiohttp
import pytest

from bot.config import ArxivSourceConfig, HttpConfig
from bot.sources.arxiv import ArxivExportClient, ArxivSource, parse_export, parse_listing
from bot.sources.http import FetchError
from bot.types import Paper
from bot.watching.matching import matching_papers
from bot.watching.query import parse as parse_query
from storage import repo
from tests.fakes.arxiv_api import FakeArxivAPI, export_entry, listing_entry, listing_feed

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL = SHARED / "real"
ALL_ARCHIVES = REAL / "arxiv_rss_all-archives_2024-11-28.xml"
RSS_FILES = sorted(REAL.glob("arxiv_rss_*.xml"))
LISTING_ATOM = [SHARED / "arxiv_atom_cs.AI_2025-08-20.xml"]
EXPORT_FILES = sorted(REAL.glob("arxiv_api_*.xml")) + [SHARED / "arxiv_api_query_au_del_maestro.xml"]
NOW = datetime(2026, 12, 1, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not ALL_ARCHIVES.exists(), reason="real captures not present")

# --- the reference: the documented normalization, written independently ------------------

_ACCENT = {"'": "\u0301", '"': "\u0308", "`": "\u0300", "^": "\u0302", "~": "\u0303",
           "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b",
           "c": "\u0327", "k": "\u0328", "r": "\u030a", "d": "\u0323", "b": "\u0331"}
_SYMBOL = {"l": "ł", "L": "Ł", "o": "ø", "O": "Ø", "ss": "ß", "ae": "æ", "AE": "Æ",
           "oe": "œ", "OE": "Œ", "aa": "å", "AA": "Å", "i": "ı", "j": "ȷ", "dh": "ð",
           "DH": "Ð", "th": "þ", "Lambda": "Λ", "beta": "β"}
_ACCENT_RE = re.compile(r"""\\(['"`^~=.]|[uvHckrdb](?![A-Za-z]))\s*(\{[^{}]*\}|\\i|[A-Za-z])""")
_SYMBOL_RE = re.compile(r"\\([A-Za-z]+)\s*")
_MATH_RE = re.compile(r"(\$[^$]*\$)")


def _accent(match: re.Match[str]) -> str:
    mark, base = _ACCENT[match.group(1)], match.group(2).strip("{}").replace("\\i", "i")
    return "".join(unicodedata.normalize("NFC", ch + mark) for ch in base)


def ref_tex(text: str) -> str:
    parts = _MATH_RE.split(text)
    for i in range(0, len(parts), 2):
        part = _ACCENT_RE.sub(_accent, parts[i])
        part = _SYMBOL_RE.sub(lambda m: _SYMBOL.get(m.group(1), m.group(0)), part)
        part = re.sub(r"\\([&%$#_])", r"\1", part)
        part = part.replace("---", "\u2014").replace("--", "\u2013").replace("~", " ")
        parts[i] = part.replace("{", "").replace("}", "")
    return " ".join("".join(parts).split())


def ref_authors(creator: str) -> tuple[str, ...]:
    names, current, depth = [], "", 0
    text = creator.replace(", and ", ", ").replace(" and ", ", ")
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            names.append(current)
            current = ""
        elif depth == 0 and ch != ")":
            current += ch
    names.append(current)
    # " and " inside an affiliation was replaced too, but affiliations are dropped anyway.
    return tuple(n for n in (ref_tex(" ".join(n.split())) for n in names) if n)


def fold(text: str) -> str:
    return " ".join(text.split())


def tag(chunk: str, name: str) -> str | None:
    match = re.search(rf"<{name}(?:\s[^>]*)?>(.*?)</{name}>", chunk, re.S)
    return html.unescape(match.group(1)) if match else None


def tags(chunk: str, name: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(rf"<{name}(?:\s[^>]*)?>(.*?)</{name}>",
                                                 chunk, re.S)]


def split_id(raw: str) -> tuple[str, int]:
    match = re.fullmatch(r"(?:oai:arXiv\.org:|https?://arxiv\.org/abs/)(.+)v(\d+)", raw.strip())
    assert match, raw
    return match.group(1), int(match.group(2))


def expected_listing_paper(chunk: str) -> tuple[str, Paper]:
    """One raw <item> or listing <entry> -> (announce type, the Paper it must give)."""
    ident = tag(chunk, "guid") or tag(chunk, "id")
    paper_id, version = split_id(ident)
    description = tag(chunk, "description") or tag(chunk, "summary")
    prefix = re.match(r"arXiv:\S+ Announce Type: \S+ ?\nAbstract: ", description)
    assert prefix, description[:80]
    if "<pubDate>" in chunk:
        published = parsedate_to_datetime(tag(chunk, "pubDate")).astimezone(UTC)
    else:
        published = datetime.fromisoformat(tag(chunk, "published")).astimezone(UTC)
    categories = tags(chunk, "category") or re.findall(r'<category term="([^"]+)"', chunk)
    return tag(chunk, "arxiv:announce_type"), Paper(
        id=paper_id, version=version, source="arxiv", title=ref_tex(fold(tag(chunk, "title"))),
        summary=fold(description[prefix.end():]),
        authors=ref_authors(tag(chunk, "dc:creator")),
        categories=tuple(dict.fromkeys(categories)), published=published)


def expected_export_paper(chunk: str) -> Paper:
    paper_id, version = split_id(tag(chunk, "id"))
    primary = re.findall(r'<arxiv:primary_category[^>]*term="([^"]+)"', chunk)
    terms = re.findall(r'<category term="([^"]+)"', chunk)
    return Paper(
        id=paper_id, version=version, source="arxiv", title=ref_tex(fold(tag(chunk, "title"))),
        summary=fold(tag(chunk, "summary")),
        authors=tuple(fold(n) for n in tags(chunk, "name")),  # Unicode already: untouched
        categories=tuple(dict.fromkeys(primary + terms)),
        published=datetime.fromisoformat(tag(chunk, "published")).astimezone(UTC))


def raw_chunks(path: Path, element: str) -> list[str]:
    return re.findall(rf"<{element}>.*?</{element}>", path.read_text("utf-8"), re.S)


# --- every file, every item, every field ------------------------------------------------


@pytest.mark.parametrize("path", RSS_FILES + LISTING_ATOM, ids=lambda p: p.name)
def test_every_listing_item_read_as_sent(path):
    element = "item" if "<rss" in path.read_text("utf-8")[:500] else "entry"
    expected = [expected_listing_paper(c) for c in raw_chunks(path, element)]
    listing = parse_listing(path.read_bytes(), now=NOW)
    kinds = Counter(kind for kind, _ in expected)
    assert listing.counts == dict(kinds) and listing.skipped == 0 and not listing.malformed
    want_papers = [p for kind, p in expected if kind in ("new", "cross")]
    want_updates = [p for kind, p in expected if kind.startswith("replace")]
    assert len(listing.papers) == len(want_papers) and len(listing.updates) == len(want_updates)
    for got, want in zip(listing.papers + listing.updates, want_papers + want_updates,
                         strict=True):
        assert got == want, got.id


def test_the_all_archives_feed_counts():
    listing = parse_listing(ALL_ARCHIVES.read_bytes(), now=NOW)
    assert listing.counts == {"new": 926, "cross": 9, "replace": 569}
    assert (len(listing.papers), len(listing.updates)) == (935, 569)
    assert str(listing.announced) == "2024-11-28"
    assert len(raw_chunks(ALL_ARCHIVES, "item")) == 1504


def test_the_empty_feed_is_empty_not_an_error():
    listing = parse_listing((REAL / "arxiv_rss_empty_test_2024-11-28.xml").read_bytes())
    assert listing.empty and listing.error is None
    assert listing.papers == [] and listing.updates == [] and listing.counts == {}


def test_the_error_feed_is_a_feed_error():
    listing = parse_listing((REAL / "arxiv_rss_error_bad-archive_2024-11-28.xml").read_bytes())
    assert listing.error is not None and "Feed error for query" in listing.error
    assert not listing.empty and listing.papers == []


@pytest.mark.parametrize("path", [p for p in EXPORT_FILES if "error" not in p.name],
                         ids=lambda p: p.name)
def test_every_export_entry_read_as_sent(path):
    chunks = raw_chunks(path, "entry")
    total = int(re.search(r"<opensearch:totalResults[^>]*>(\d+)<", path.read_text()).group(1))
    page = parse_export(path.read_bytes())
    assert page.skipped == 0 and page.total == total and len(page.papers) == len(chunks)
    for got, chunk in zip(page.papers, chunks, strict=True):
        assert got == expected_export_paper(chunk), got.id


def test_the_export_error_answer_is_an_error():
    with pytest.raises(FetchError, match="export API error: incorrect id format for abc"):
        parse_export((REAL / "arxiv_api_error_id-abc_http400.xml").read_bytes())


def test_export_unicode_authors_are_left_alone():
    page = parse_export((REAL / "arxiv_api_query_all-testing_100.xml").read_bytes())
    names = {n for p in page.papers for n in p.authors}
    non_ascii = {n for n in names if not n.isascii()}
    assert len(non_ascii) >= 3  # the real answer has Unicode names: they come through as sent
    assert not any("\\" in n for n in names)


def test_old_style_id_and_affiliated_export_authors():
    (paper,) = parse_export((REAL / "arxiv_api_id_astro-ph_0601001.xml").read_bytes()).papers
    assert (paper.id, paper.version) == ("astro-ph/0601001", 1)
    assert paper.authors == ("Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski")
    assert "Gould & Morgan (2003)" in paper.summary and "V_max<17.5" in paper.summary


# --- named regressions: what feedparser did to the 2024-11-28 feed ----------------------

ABSTRACT_2411_17730 = (
    "In this paper, we study the almost sure well-posedness theory and orbital stability for "
    "the nonlinear Schr\\\"odinger equation with potential \\begin{equation*} \\left\\{\\begin"
    "{array}{l} i \\partial_t u+\\Delta u-V(x)u+|u|^{2}u=0,\\ (x, t) \\in \\mathbb{R}^4 \\times "
    "\\mathbb{R}, \\\\ \\left.u\\right|_{t=0}=f \\in H ^s(\\mathbb{R}^4), \\end{array}\\right. "
    "\\end{equation*} where $\\frac{1}{3}<s<1$ and $V(x):\\mathbb{R}^4\\rightarrow \\mathbb{R}$ "
    "satisfies appropriate conditions. The main idea in the proofs is based on Strichartz "
    "spaces as well as variants of local smoothing, inhomogeneous local smoothing and maximal "
    "function spaces. To our best knowledge, this is the first almost sure orbital stability "
    "result.")

# (id, announce type, length of the abstract as sent, text feedparser damaged)
MANGLED_ABSTRACTS = [
    ("2411.17730", "new", 692, "where $\\frac{1}{3}<s<1$ and $V(x):"),
    ("2411.17942", "new", 1830, ", Explore and Exploit (E&E) and Target U"),
    ("2411.17951", "new", 1090, "when $2+\\frac{4}{N}<q<p\\leq2^*:="),
    ("2411.18336", "new", 1622, ",c)\\cdot\\nabla c\\big),\\ &x\\in\\Omega,& t>"),
    ("2411.18391", "new", 1819, "hematoxylin and eosin (H&E) stained"),
    ("2411.18458", "new", 988, "uniquely solvable for $$1<p<2+\\varepsilon."),
    ("2411.18550", "new", 1211, "^{\\alpha}\\begin{cases}1,&x<0\\\\ \\beta,&x"),
    ("2103.07442", "replace", 1033, "temperature, $T<T_{RW}$, we find that the cluster"),
    ("2404.05779", "replace", 1048, "of data usage for AI. R&D efforts have"),
    ("2406.13637", "replace", 1536, "pyrrhotite (Fe1-xS, 0<x<0.125), suggest"),
    ("2408.17191", "replace", 1608, "for all $1\\leq i<j\\leq k$. A vertex partition"),
    ("2411.16021", "replace", 1815, "plane($15^{\\circ}<l<125^{\\circ}$, $"),
]


@pytest.fixture(scope="module")
def all_archives() -> dict[str, tuple[str, Paper]]:
    listing = parse_listing(ALL_ARCHIVES.read_bytes(), now=NOW)
    out = {p.id: ("paper", p) for p in listing.papers}
    out.update({p.id: ("update", p) for p in listing.updates})
    return out


@pytest.mark.parametrize(("arxiv_id", "kind", "length", "fragment"), MANGLED_ABSTRACTS,
                         ids=[c[0] for c in MANGLED_ABSTRACTS])
def test_abstracts_feedparser_mangled(all_archives, arxiv_id, kind, length, fragment):
    role, paper = all_archives[arxiv_id]
    # a replace entry refreshes the stored abstract: it must carry the good text too
    assert role == ("update" if kind == "replace" else "paper")
    assert fragment in paper.summary and len(paper.summary) == length
    assert "&amp;" not in paper.summary and "<s>" not in paper.summary


def test_the_named_abstracts_exactly(all_archives):
    assert all_archives["2411.17730"][1].summary == ABSTRACT_2411_17730
    assert "whole-slide hematoxylin and eosin (H&E) stained histological images" in \
        all_archives["2411.18391"][1].summary
    cut = all_archives["2411.17951"][1].summary  # feedparser kept 622 of these characters
    assert len(cut) == 1090 and cut.startswith("We investigate normalized solutions")
    assert cut.endswith("Br\\\'{e}zis-Nirenberg problem, even for the autonomous case of "
                        "$V(x)\\equiv0$.")


AFFILIATED_AUTHORS = [
    ("2411.17753", ("Aleteia Araujo", "Breno Costa", "Joao Bachiega Jr", "Leonardo R. Carvalho",
                    "Rajkumar Buyya")),
    ("2411.17817", ("Tianliang Yan", "Yubao Liu", "Leonid Prokhorov", "Jiri Smetana",
                    "Haixing Miao", "Yiqiu Ma", "Vincent Boyer", "Denis Martynov")),
    ("2411.17935", ("Jadelynn Dao", "Ruixiao Liu", "Sarah Solomon", "Samuel Solomon")),
    ("2411.18171", ("Alexandre Benoist", "Jean Kieffer")),
    ("2411.18176", ("Amina Doumane", "Samuel Humeau", "Damien Pous")),
    ("2411.18183", ("Riad Mokadem", "Abdelkader Hameurlain", "Franck Morvan")),
    ("2411.18351", ("Stefano Noventa", "Roberto Faleh", "Augustin Kelava")),
    ("2411.18420", ("B. Vollmer", "J. Freundlich", "P. Gratier", "Th. Lizee", "M. Lendrin",
                    "J. Braine", "M. Soida")),
    ("2411.18559", ("Xincheng Zhu", "Rui Xu", "Dandan Xu")),
    ("2406.00590", ("Songqing Tang", "Mengjiao Ren", "Zhiheng Li", "Zhiwei Zheng",
                    "Leyong Jiang")),
    ("2406.13637", ("Thomas J Barrett", "James F. J. Bryson", "Kalotina Geraki")),
    ("2408.08887", ("Florian Mouret", "David Morin", "Milena Planells",
                    "Cécile Vincent-Barbaroux")),
    ("2409.13694", ("Shuo Yu", "Mingyue Cheng", "Jiqian Yang", "Jie Ouyang", "Yucong Luo",
                    "Chenyi Lei", "Qi Liu", "Enhong Chen")),
    ("2410.16522", ("Jooyun Woo", "Kaya Mori", "Charles J. Hailey", "Elizabeth Spira-Savett",
                    "Aya Bamba", "Brian W. Grefenstette", "Thomas B. Humensky",
                    "Reshmi Mukherjee", "Samar Safi-Harb", "Tea Temim", "Naomi Tsuji")),
    ("2411.03765", ("Rodolphe Garbit", "Julien-Bilal Zinoune")),
    ("2411.06802", ("Yuxiu Shao", "David Dahmen", "Stefano Recanatesi", "Eric Shea-Brown",
                    "Srdjan Ostojic")),
]


@pytest.mark.parametrize(("arxiv_id", "authors"), AFFILIATED_AUTHORS,
                         ids=[c[0] for c in AFFILIATED_AUTHORS])
def test_affiliations_never_become_authors(all_archives, arxiv_id, authors):
    assert all_archives[arxiv_id][1].authors == authors


def test_the_sixteen_are_all_the_lists_with_separators_in_parentheses():
    found = set()
    for chunk in raw_chunks(ALL_ARCHIVES, "item"):
        creator = tag(chunk, "dc:creator")
        if any("," in a or " and " in a for a in re.findall(r"\(([^()]*)\)", creator)):
            found.add(split_id(tag(chunk, "guid"))[0])
    assert found == {arxiv_id for arxiv_id, _ in AFFILIATED_AUTHORS}


@pytest.mark.parametrize(("arxiv_id", "field", "expected"), [
    ("2411.17748", "authors", ("Mohammed Riadh Berramdane", "Alexandre Battiston",
                               "Michele Bardi", "Nicolas Blet", "Benjamin Rémy",
                               "Matthieu Urbain")),
    ("2411.17730", "title", "Almost sure well-posedness and orbital stability for "
                            "Schrödinger equation with potential"),
    ("2411.17797", "title", "A Precisão da Metrologia Quântica: Limite de Cramér-Rao, "
                            "Informação de Fisher e possíveis Aplicações Tecnológicas"),
    ("2411.17739", "title", "Undecidability of the elementary theory of Young–Fibonacci lattice"),
    ("2411.17875", "title", "On an Erdős-Szekeres Game"),
    ("2411.18574", "title", "Generalized Fast Krasnosel'kiĭ-Mann Method with Preconditioners"),
    ("2411.17813", "title", "New tools for studying planarity in galaxy satellite systems: "
                            "Milky Way satellite planes are consistent with ΛCDM"),
    ("2411.18380", "title", "SoK: Privacy Personalised – Mapping Personal Attributes & "
                            "Preferences of Privacy Mechanisms for Shoulder Surfing"),
    ("2411.00071", "title", "What the %PCSA? Addressing Diversity in Lower-Limb Musculoskeletal "
                            "Models: Age- and Sex-related Differences in PCSA and Muscle Mass"),
    ("2411.17860", "title", "The exotic structure of the spectral $\\zeta$-function for the "
                            "Schrödinger operator with Pöschl–Teller potential"),
    ("2411.18134", "title", "Roles of $f_{0}(500)$ and $f_{0}(980)$ in the "
                            "$D_{(s)}^{+}\\rightarrow\\pi^{+}\\pi^{+}\\pi^{-}$ decays"),
    ("2411.18567", "authors", None),  # Gu{\dh}mundur: checked below
])
def test_tex_in_titles_and_authors(all_archives, arxiv_id, field, expected):
    paper = all_archives[arxiv_id][1]
    if expected is None:
        assert "Guðmundur K. Stefánsson" in paper.authors
    else:
        assert getattr(paper, field) == expected


def test_no_tex_accent_left_in_names_or_titles(all_archives):
    accent = re.compile(r"\\['\"`^~=.]|\\[cuvHl]\b|\{\\")
    for _, paper in all_archives.values():
        outside_math = re.sub(r"\$[^$]*\$", "", paper.title)
        assert not accent.search(outside_math), paper.title
        assert not any("\\" in name or "{" in name for name in paper.authors), paper.authors


# --- through HTTP: the default body cap, the parse off the event loop --------------------


@pytest.fixture
async def arxiv() -> AsyncIterator[FakeArxivAPI]:
    async with FakeArxivAPI() as fake:
        yield fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def source_config(arxiv: FakeArxivAPI, cats: tuple[str, ...]) -> ArxivSourceConfig:
    return ArxivSourceConfig(enabled=True, categories=cats, rss_base_url=arxiv.base_url,
                             api_base_url=arxiv.base_url)


async def test_the_default_body_cap_admits_the_all_archives_feed(arxiv, session):
    assert HttpConfig().max_body_bytes >= 10 * ALL_ARCHIVES.stat().st_size
    arxiv.set_listing("astro-ph+cs", ALL_ARCHIVES.read_bytes())
    source = ArxivSource(source_config(arxiv, ("astro-ph", "cs")), HttpConfig())
    result = await source.fetch(session, NOW)
    assert result.status == "ok", result.note
    assert (len(result.papers), len(result.updates)) == (935, 569)
    assert result.note == "announcement of 2024-11-28: 9 cross, 926 new, 569 replace"


class ThreadLog(logging.Handler):
    """Which threads logged: a skipped entry is logged from inside the parse."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.threads: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "skipped" in record.getMessage():
            self.threads.append(record.thread or 0)


@pytest.fixture
def parse_threads():
    handler = ThreadLog()
    logger = logging.getLogger("bot.sources.arxiv")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.WARNING)
    yield handler.threads
    logger.removeHandler(handler)
    logger.setLevel(old_level)


async def test_the_listing_is_parsed_off_the_event_loop(arxiv, session, parse_threads):
    arxiv.set_listing("cs.AI", listing_feed([listing_entry("2508.20001", "Good"),
                                             listing_entry("not-an-id", "Bad")], "cs.AI"))
    source = ArxivSource(source_config(arxiv, ("cs.AI",)), HttpConfig())
    result = await source.fetch(session, datetime(2025, 8, 20, 12, tzinfo=UTC))
    assert len(result.papers) == 1 and result.skipped == 1
    assert parse_threads and threading.get_ident() not in parse_threads


async def test_export_answers_are_parsed_off_the_event_loop(arxiv, session, parse_threads):
    arxiv.export_entries = [export_entry("2508.19001", "Good"), export_entry("bad-id", "Bad")]
    client = ArxivExportClient(source_config(arxiv, ("cs.AI",)), HttpConfig(), interval=0.0)
    result = await client.submitted_between(session, datetime(2025, 8, 18, tzinfo=UTC),
                                            datetime(2025, 8, 20, tzinfo=UTC), ("cs.AI",))
    assert len(result.papers) == 1 and result.skipped == 1
    assert parse_threads and threading.get_ident() not in parse_threads


@pytest.mark.parametrize(("query", "expected"), [
    ('au:"Rémy"', {"2411.17748", "2411.17391"}),
    ("au:Przemysław", {"2411.17709", "2411.18311"}),
    ("au:Stefánsson", {"2411.18567"}),
])
def test_watches_in_unicode_find_the_tex_authors(all_archives, query, expected):
    papers = [paper for _, paper in all_archives.values()]
    assert {p.id for p in matching_papers(parse_query(query), papers)} >= expected


async def test_replace_entries_store_the_text_as_sent(app):
    """A replace entry refreshes the stored paper: with the real feed, the stored abstract,
    title and authors are the text arXiv sent, not feedparser's damage."""
    listing = parse_listing(ALL_ARCHIVES.read_bytes(), now=NOW)
    earlier = [replace(p, version=1, summary="the v1 abstract", title="v1 title")
               for p in listing.updates]
    await app.pipeline.ingest(earlier, source="arxiv", alert=False)
    result = await app.pipeline.ingest(listing.papers, source="arxiv", alert=False,
                                       updates=listing.updates)
    assert result.new == 935 and result.updated == 569
    want = {p.id: p for p in listing.updates}
    ids = [arxiv_id for arxiv_id, kind, _, _ in MANGLED_ABSTRACTS if kind == "replace"]
    async with app.sessions() as session:
        rows = await repo.papers_by_id(session, ids + ["2406.13637", "2411.17817"])
    for arxiv_id, kind, length, fragment in MANGLED_ABSTRACTS:
        if kind == "replace":
            assert rows[arxiv_id].summary == want[arxiv_id].summary
            assert fragment in rows[arxiv_id].summary and len(rows[arxiv_id].summary) == length
    assert rows["2406.13637"].authors == ["Thomas J Barrett", "James F. J. Bryson",
                                          "Kalotina Geraki"]
