"""Property-based: the engine, a one-watch index and the plain reference agree on random queries
and papers built from words that exercise unicode folding, hyphens and joined compounds,
plurals, prefixes, fields and negation; also through live additions and removals."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.types import Paper
from bot.watching.highlight import find_spans
from bot.watching.matching import WatchIndex
from bot.watching.query import Phrase, Query, QueryError, iter_terms, parse
from bot.watching.text import normalize_words, word_spans
from tests.reference_matcher import reference_match

# Words chosen to collide: plural pairs, compounds and their parts, look-alike prefixes,
# words that are not plurals of each other (news/new, its/it), accents and foldings.
WORDS = [
    "model", "models", "learning", "learned", "re", "ranking", "rankings", "reranking",
    "strategy", "strategies", "fl", "flops", "flow", "box", "boxes", "analysis", "analyses",
    "index", "indices", "new", "news", "it", "its", "pre", "training", "pretraining",
    "pool", "pooling", "jürgen", "jurgen", "straße", "strasse", "quant", "quantization",
    "quantized", "a", "of", "and", "mixture", "experts", "vision", "transformer",
    "transformers", "大语言", "class", "classes", "bias", "biases", "e", "é", "x", "gpt", "4",
]
SEPARATORS = [" ", " ", " ", "-", " - ", ", ", ". ", "–", "\u00ad", "/", "’s ", "_", "\n"]
NAMES = ["Yann LeCun", "Yann A. LeCun", "Jürgen Schmidhuber", "Wei Wang", "Wang Wei",
         "Jean-Pierre Dupont", "Li Wei Chen"]
CATEGORIES = ["cs.LG", "cs.CV", "stat.ML", "hep-th", "math.OC"]


def cased(word: str, style: int) -> str:
    return (word, word.upper(), word.title())[style]


@st.composite
def texts(draw, max_words: int = 24) -> str:
    words = draw(st.lists(st.sampled_from(WORDS), max_size=max_words))
    out = []
    for word in words:
        out.append(cased(word, draw(st.integers(0, 2))))
        out.append(draw(st.sampled_from(SEPARATORS)))
    return "".join(out)


@st.composite
def papers(draw) -> Paper:
    return Paper(
        id=f"p{draw(st.integers(0, 10**6))}",
        title=draw(texts(max_words=8)),
        summary=draw(texts()),
        keywords=tuple(draw(st.lists(texts(max_words=3), max_size=2))),
        authors=tuple(draw(st.lists(st.sampled_from(NAMES), max_size=3, unique=True))),
        categories=tuple(draw(st.lists(st.sampled_from(CATEGORIES), max_size=2, unique=True))),
    )


@st.composite
def leaf(draw, pool: list[str]) -> str:
    kind = draw(st.sampled_from(["phrase"] * 6 + ["field", "author", "category", "prefix"]))
    if kind == "author":
        name = draw(st.sampled_from(NAMES + ["LeCun", "Wei", "schmid*", "Yann Le*"]))
        return f'au:"{name}"'
    if kind == "category":
        return "cat:" + draw(st.sampled_from(CATEGORIES + ["cs", "stat", "math.*", "cs.RO"]))
    size = draw(st.sampled_from([1, 1, 2, 2, 3]))
    if draw(st.booleans()) and len(pool) >= size:  # words that occur together in a paper
        start = draw(st.integers(0, len(pool) - size))
        words = pool[start:start + size]
    else:
        words = draw(st.lists(st.sampled_from(WORDS), min_size=size, max_size=size))
    joiner = draw(st.sampled_from([" ", "-", ""])) if size == 2 else " "
    text = joiner.join(cased(w, draw(st.integers(0, 2))) for w in words)
    if kind == "prefix":
        text = text[:-1] + "*" if len(text) > 4 and draw(st.booleans()) else text + "*"
    if kind == "field":
        return draw(st.sampled_from(["ti:", "abs:"])) + f'"{text}"'
    return f'"{text}"'


def combine(children):
    def build(pair):
        (left, right), op = pair
        if op == "-":
            return f"({left} -{right})"
        if op == "NOT":
            return f"({left} NOT {right})"
        return f"({left} {op} {right})".replace("  ", " ")
    return st.tuples(st.tuples(children, children),
                     st.sampled_from(["AND", "OR", "", "-", "NOT"])).map(build)


def queries_text(pool: list[str] | None = None):
    return st.recursive(leaf(pool or []), combine, max_leaves=5)


def word_pool(papers_: list[Paper]) -> list[str]:
    return [w for p in papers_ for t in (p.title, p.summary) for w in normalize_words(t)]


def parsed(text: str) -> Query:
    try:
        return parse(text)
    except QueryError:
        assume(False)
        raise


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@SETTINGS
@given(st.lists(papers(), min_size=1, max_size=4), st.data())
def test_engine_agrees_with_reference(papers_, data):
    papers_ = [replace(p, id=f"p{n}") for n, p in enumerate(papers_)]
    texts_ = data.draw(st.lists(queries_text(word_pool(papers_)), min_size=1, max_size=6))
    queries = [q for q in (_try(t) for t in texts_) if q is not None]
    assume(queries)
    index = WatchIndex()
    for n, query in enumerate(queries):
        index.add(n, query)
    results = index.match_many(papers_)
    for paper in papers_:
        got = {h.watch_id: h.terms for h in results.get(paper.id, [])}
        assert len(got) == len(results.get(paper.id, []))  # one hit per watch
        for n, query in enumerate(queries):
            expected = reference_match(query, paper)
            assert got.get(n) == expected, (query.text, paper)
            alone = WatchIndex(hit_cache=0)  # the query on an index of its own
            alone.add(0, query)
            assert [h.terms for h in alone.match(paper)] == ([] if expected is None else [expected])


@SETTINGS
@given(papers(), st.data())
def test_live_changes_agree_with_reference(paper, data):
    texts_ = data.draw(st.lists(queries_text(word_pool([paper])), min_size=2, max_size=8))
    queries = [q for q in (_try(t) for t in texts_) if q is not None]
    assume(len(queries) >= 2)
    index = WatchIndex()
    live: dict[int, Query] = {}
    for n, query in enumerate(queries):
        index.add(n, query)
        live[n] = query
    for _ in range(data.draw(st.integers(1, 6))):
        watch_id = data.draw(st.integers(0, len(queries) + 2))
        if data.draw(st.booleans()) and watch_id in live:
            index.remove(watch_id)
            del live[watch_id]
        else:
            query = data.draw(st.sampled_from(queries))
            index.add(watch_id, query)
            live[watch_id] = query
        got = {h.watch_id: h.terms for h in index.match(paper)}
        expected = {w: t for w, q in live.items() if (t := reference_match(q, paper))}
        assert got == expected
    for watch_id in list(live):
        index.remove(watch_id)
    assert len(index) == 0 and not any(index.stats().values())


@SETTINGS
@given(texts(), st.data())
def test_find_spans_marks_what_matched(title, data):
    query_text = data.draw(queries_text(normalize_words(title)))
    query = _try(query_text)
    assume(query is not None)
    terms = reference_match(query, Paper(id="x", title=title)) or ()
    phrases = [phrase for field, phrase in terms if field == "title"]
    spans = find_spans(title, phrases)
    assert bool(spans) == bool(phrases)
    previous_end = -1
    for start, end in spans:
        assert previous_end < start < end <= len(title)
        assert normalize_words(title[start:end])  # a span covers whole words
        previous_end = end


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_word_spans_are_the_normalized_words(text):
    spans = word_spans(text)
    assert [w for w, _, _ in spans] == normalize_words(text)
    for _, start, end in spans:
        assert 0 <= start < end <= len(text)


@settings(max_examples=200, deadline=None)
@given(texts(max_words=6))
def test_a_text_always_matches_itself_as_a_phrase(text):
    words = normalize_words(text)[:20]
    assume(words)
    query = Query(" ".join(words), Phrase(tuple(words)))
    assert reference_match(query, Paper(id="x", title=text))
    index = WatchIndex()
    index.add(1, query)
    assert index.match(Paper(id="x", title=text))
    assert all(positive for _, positive in iter_terms(query.tree))


def _try(text: str) -> Query | None:
    try:
        return parse(text)
    except QueryError:
        return None
