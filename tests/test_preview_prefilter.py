"""The matching prefilter (bot.watching.prefilter) never changes what one query matches, and
really rejects papers; the /watch preview keeps each paper's joined text across reloads.

Papers: the real Hugging Face days and arXiv feeds (tests/data, and the 1,504-item arXiv RSS
of ../shared/data when present), bench.matching's synthetic papers, and hand-made papers
with the forms that test the prefilter's argument (joined words, plurals, non-ASCII).
Queries: hand-written ones on those forms, bench.matching's make_watches, queries cut from
the real papers' own words (so that they match), and random ones (hypothesis).
"""
from __future__ import annotations

import json
import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bench.matching import STOPWORDS, Corpus, PaperMaker, make_papers, make_watches
from bot.sources.arxiv import parse_export, parse_listing
from bot.sources.hf_daily import parse_page
from bot.types import Paper
from bot.watching.matching import WatchIndex, matching_papers
from bot.watching.prefilter import Prefilter, paper_text
from bot.watching.preview import RecentPapers
from bot.watching.query import Query, QueryError, parse
from bot.watching.text import normalize_words, plurals, related_forms, singulars
from storage import repo
from storage.db import create_engine, session_factory, upgrade
from tests.test_matching_properties import SETTINGS, papers, queries_text

DATA = Path(__file__).parent / "data"
SHARED_RSS = (Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
              / "arxiv_rss_all-archives_2024-11-28.xml")

HAND_PAPERS = [
    ("Re-ranking with dense retrievers", "We study re ranking. Rerankers and re-rankings."),
    ("Reranking at scale", "Index construction; the indices of a vector store."),
    ("A case study", "Case studies of analysis and analyses of matrices and a matrix."),
    ("Jürgen's RNN notes", "Schmidhuber-style long short-term memory, naïve Straße test."),
    ("ﬁne-tuning LLMs", "Finetuning and fine tuning large language models (LLMs)."),
    ("Mixture-of-Experts routing", "MoE: mixtureofexperts, non-IID data, i.i.d. samples."),
    ("GPT-4 evaluation", "gpt4 vs GPT 4 on 3D vision; vertices and a vertex."),
    ("Policy approaches", "Policies and approaches for strategies of a strategy."),
    ("Diffusion models for video", "Video diffusion with image priors."),
    ("Graph neural networks", "GNNs and a graph neural network for molecules."),
    ("Unrelated paper", "Nothing here but soil chemistry and ocean tides."),
    ("大语言模型 survey", "A survey of 大语言 models and their biases."),
    # A token that is the plural of two query words joined need not contain either word:
    # "indices" for "inde x" (index), so the prefilter must look for the joined forms.
    ("Indices", ""), ("Matrices", ""), ("Analyses", ""), ("Vertices", ""), ("Studies", ""),
]
HAND_QUERIES = [
    "study", "studies", "case study", "case studies", "index", "indices", "indexes",
    "analysis", "analyses", "matrix", "matrices", "vertex", "vertices", "policy", "policies",
    "approach", "approaches", "strategy", "strategies",
    "re ranking", "reranking", "re-ranking", '"re ranking"', "rerank*", "re rank*",
    "re rankings", "rerankers", "re-ranker*", "dense retriever", "dense retrievers",
    "fine tuning", "finetuning", "fine-tun*", "fine tuning large language model",
    "jürgen", "Jurgen", "jurgen s rnn", "strasse", "straße", "naive", "schmidhuber style",
    "long short term memory", "long shortterm memory", "longshort term",
    "mixture of experts", "mixture-of-experts", "mixtureofexperts", "mixture of expert*",
    "non-iid", "noniid", "non iid", "i.i.d.", "iid", "gpt-4", "gpt4", "gpt 4", "3d", "3d vision",
    "diffusion", "video diffusion", "diffusion -video", "diffusion NOT image", "diffusion model",
    "llm OR \"large language model\"", "ti:transformer OR abs:diffusion", "ti:graph",
    "abs:graph neural networks", "gnn OR gnns", "(diffusion OR flow) (video OR image)",
    "diffusion AND NOT (image OR video)", "graph AND molecules", "molecule AND graph network",
    "au:schmidhuber diffusion", "cat:cs.LG diffusion", "cat:cs.CV", "au:jürgen",
    "cat:cs.LG OR diffusion", "大语言", "大语言 model", "bias", "biases", "soil", "tide*",
    "x", "moe", "vector store", "vectorstore", "construction index",
    "inde x", "matr ix", "analys is", "vert ex", "vertic es", "stud y", "studi es", "ind ices",
]


def _real_papers() -> list[Paper]:
    out: list[Paper] = []
    for path in sorted((DATA / "real_hf").glob("*.json")):
        out += parse_page(json.loads(path.read_text()))[0]
    for line in (DATA / "real_hf" / "daily_papers_page.jsonl").read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            out.append(Paper(id=f"page-{len(out)}", title=item["title"], summary=item["summary"]))
    out += parse_listing((DATA / "arxiv_atom_cs.AI_2025-08-20.xml").read_bytes()).papers
    out += parse_export((DATA / "arxiv_api_query_au_del_maestro.xml").read_bytes()).papers
    if SHARED_RSS.exists():
        listing = parse_listing(SHARED_RSS.read_bytes())
        out += listing.papers + listing.updates
    return out


def _corpus_papers() -> tuple[list[Paper], Corpus]:
    corpus = Corpus()
    hand = [Paper(id=f"hand-{n}", title=t, summary=s, keywords=("re-ranking",) if n == 1 else (),
                  authors=("Jürgen Schmidhuber",) if n == 3 else (),
                  categories=("cs.LG",) if n % 2 else ("cs.CV",))
            for n, (t, s) in enumerate(HAND_PAPERS)]
    every = hand + _real_papers() + make_papers(PaperMaker(corpus, 5), 300)
    unique = list({p.id: p for p in every}.values())  # an id once (the feeds repeat some)
    return unique, corpus


PAPERS, CORPUS = _corpus_papers()
TEXTS = [paper_text(p) for p in PAPERS]
WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")


def _from_real_words(rnd: random.Random, count: int) -> list[str]:
    """Queries cut from the papers' own words, in the variants the prefilter must cover."""
    out = []
    while len(out) < count:
        paper = rnd.choice(PAPERS)
        words = WORD.findall(rnd.choice((paper.title, paper.summary)) or paper.title)
        if len(words) < 3:
            continue
        start = rnd.randrange(len(words) - 2)
        chosen = words[start:start + rnd.choice((1, 1, 2, 2, 3))]
        if any(len(w) < 3 or w.lower() in STOPWORDS for w in (chosen[0], chosen[-1])):
            continue  # a topic, as people watch, not "of the" (which matches every paper)
        last = normalize_words(chosen[-1])[-1:] or ["x"]
        kind = rnd.random()
        if kind < 0.15 and (forms := plurals(last[0]) + singulars(last[0])):
            chosen[-1] = rnd.choice(forms)  # the other number
        elif kind < 0.25 and len(chosen) >= 2:
            chosen[-2:] = [chosen[-2] + chosen[-1]]  # two words joined
        elif kind < 0.35 and len(chosen[-1]) >= 6:
            cut = rnd.randrange(2, len(chosen[-1]) - 2)  # one word split in two
            chosen[-1:] = [chosen[-1][:cut], chosen[-1][cut:]]
        elif kind < 0.45 and len(chosen[-1]) >= 5:
            chosen[-1] = chosen[-1][:rnd.randrange(3, len(chosen[-1]))] + "*"
        text = " ".join(chosen)
        if kind > 0.85:
            other = rnd.choice([w for w in WORD.findall(rnd.choice(PAPERS).title)
                                if w.lower() not in STOPWORDS] or ["x"])
            text = rnd.choice((f'"{text}" OR {other}', f'"{text}" -{other}',
                               f'"{text}" AND "{other}"', f"ti:\"{text}\"", f"abs:\"{text}\""))
        out.append(text)
    return out


def _parsed(texts: list[str]) -> list[Query]:
    out = []
    for text in texts:
        try:
            out.append(parse(text))
        except QueryError:
            continue
    return out


QUERIES = _parsed(HAND_QUERIES + [t for _, t in make_watches(CORPUS, 120, seed=3)]
                  + _from_real_words(random.Random(14), 160))


def _prefilter(query: Query) -> Prefilter | None:
    index = WatchIndex(hit_cache=0)
    index.add(0, query)
    return Prefilter.of(index)


def test_the_prefilter_never_drops_a_paper_the_full_match_keeps():
    assert len(PAPERS) > 500 and len(QUERIES) > 300
    index = WatchIndex()  # every query at once: the full match of all pairs in one pass
    for n, query in enumerate(QUERIES):
        index.add(n, query)
    expected: dict[int, list[str]] = {n: [] for n in range(len(QUERIES))}
    for paper_id, hits in index.match_many(PAPERS).items():
        for hit in hits:
            expected[hit.watch_id].append(paper_id)
    order = {p.id: i for i, p in enumerate(PAPERS)}
    matched = 0
    for n, query in enumerate(QUERIES):
        want = sorted(expected[n], key=order.__getitem__)
        if _prefilter(query) is None:  # matching_papers is the full match alone then
            continue
        assert [p.id for p in matching_papers(query, PAPERS, TEXTS)] == want, query.text
        matched += len(want)
    assert matched > 1000  # the queries really match papers: equality means something


def test_with_and_without_the_prefilter_the_same_papers_one_query_at_a_time():
    # The hand-written queries, against the same function with the prefilter off, on the
    # papers that have the forms they are about plus a sample of the rest.
    sample = PAPERS[:len(HAND_PAPERS)] + random.Random(3).sample(PAPERS, 80)
    texts = [paper_text(p) for p in sample]
    found = 0
    for query in _parsed(HAND_QUERIES):
        full = matching_papers(query, sample, prefilter=False)
        assert matching_papers(query, sample, texts) == full, query.text
        assert matching_papers(query, sample) == full, query.text  # texts made per call
        found += len(full)
    assert found > 100


def test_the_prefilter_rejects_most_pairs():
    pairs = admitted = prefiltered = 0
    for query in QUERIES:
        condition = _prefilter(query)
        if condition is None:
            continue
        prefiltered += 1
        pairs += len(TEXTS)
        admitted += sum(map(condition.admits, TEXTS))
    assert prefiltered > 0.9 * len(QUERIES)  # only author/category-only queries are not
    assert admitted < 0.15 * pairs, (admitted, pairs)


def test_what_the_prefilter_requires():
    def clauses(text: str) -> tuple[tuple[str, ...], ...] | None:
        condition = _prefilter(parse(text))
        return None if condition is None else condition.clauses

    assert clauses("studies") == (("study", "studie", "studiis"),)  # "studies" has "studie"
    assert clauses("index") == (("index", "indices"),)
    assert clauses("reranking") == (("reranking",),)
    assert clauses("re ranking") == (("ranking",), ("re",))  # "reranking" contains both
    assert clauses("rerank*") == (("rerank",),)
    assert clauses("diffusion -video") == (("diffusion",),)
    assert clauses("au:schmidhuber") is None and clauses("cat:cs.LG OR diffusion") is None
    assert clauses("cat:cs.LG diffusion") == (("diffusion",),)
    assert clauses("gnn OR graph*") == (("gnn", "graph"),)
    assert clauses("Jürgen") == (("jurgen",),)
    assert Prefilter([frozenset({"ab"})]).admits("xxabyy")
    assert not Prefilter([frozenset({"ab"}), frozenset({"cd"})]).admits("abdc")


def test_related_forms_are_symmetric_on_real_words():
    # The prefilter's argument for a token that is two query words joined relies on it.
    words = {w for p in PAPERS[:600] for w in normalize_words(p.title + " " + p.summary)}
    words |= {f for w in list(words) for f in related_forms(w)}
    for word in words:
        for form in related_forms(word):
            assert word in related_forms(form), (word, form)


@SETTINGS
@given(st.lists(papers(), min_size=1, max_size=6), st.data())
def test_random_queries_and_papers_agree_with_and_without_the_prefilter(papers_, data):
    papers_ = [replace(p, id=f"p{n}") for n, p in enumerate(papers_)]
    pool = [w for p in papers_ for w in normalize_words(p.title + " " + p.summary)]
    for query in _parsed(data.draw(st.lists(queries_text(pool), min_size=1, max_size=4))):
        full = matching_papers(query, papers_, prefilter=False)
        assert matching_papers(query, papers_) == full, query.text


# --- the preview's joined texts ------------------------------------------------------------


async def test_recent_papers_keep_the_joined_texts_of_unchanged_papers(tmp_path):
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        first = [Paper(id=f"2611.{n:05d}", title=f"Sparse attention {n}", summary="Re-ranking.",
                       keywords=("kw",), upvotes=n) for n in range(5)]
        async with sessions.begin() as session:
            await repo.insert_new_papers(session, first, now - timedelta(hours=2))
        recent = RecentPapers(sessions)
        papers_, texts = await recent.get_with_texts(now)
        assert recent.texts_made == 5 and sorted(texts) == sorted(map(paper_text, first))
        assert await recent.get_with_texts(now) == (papers_, texts)  # nothing reloaded
        assert recent.loads == 1 and recent.texts_made == 5

        newer = replace(first[0], title="Dense retrieval", version=2, upvotes=9)
        upvoted = replace(first[1], upvotes=40)
        async with sessions.begin() as session:
            rows = await repo.papers_by_id(session, [newer.id, upvoted.id])
            repo.refresh_paper_row(rows[newer.id], newer, now - timedelta(hours=1))
            repo.refresh_paper_row(rows[upvoted.id], upvoted, now - timedelta(hours=1))
            await repo.insert_new_papers(session, [Paper(id="2611.09999", title="New one")],
                                         now - timedelta(hours=1))
        papers_, texts = await recent.get_with_texts(now)
        assert recent.loads == 2
        assert recent.texts_made == 5 + 2  # the retitled and the new paper; not the upvoted
        by_id = dict(zip([p.id for p in papers_], texts, strict=True))
        assert by_id[newer.id] == "denseretrieval" + "reranking" + "kw"
        assert by_id["2611.09999"] == "newone"
        assert by_id == {p.id: paper_text(p) for p in papers_}
        assert [p.id for p in matching_papers(parse("dense retrieval"), papers_, texts)] == [newer.id]
    finally:
        await engine.dispose()
