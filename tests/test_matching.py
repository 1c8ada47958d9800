"""The matching engine: the rules of the watch language on papers, explanations, live
changes, highlighting, and agreement with a one-watch index and the reference on real abstracts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.types import MatchHit, Paper
from bot.watching.highlight import find_spans
from bot.watching.matching import WatchIndex, matching_papers
from bot.watching.query import parse
from tests.reference_matcher import reference_match

ABSTRACTS = Path(__file__).parent.parent / "bench" / "data" / "abstracts.jsonl"


def paper(title: str = "", summary: str = "", **fields) -> Paper:
    return Paper(id=fields.pop("id", "2401.00001"), title=title, summary=summary, **fields)


def hit(query: str, p: Paper) -> MatchHit | None:
    """Match through a one-watch index and through matching_papers; both must agree with
    the reference."""
    index = WatchIndex()
    index.add(7, parse(query))
    hits = index.match(p)
    assert reference_match(parse(query), p) == (hits[0].terms if hits else None)
    assert bool(matching_papers(parse(query), [p])) == bool(hits)
    return hits[0] if hits else None


def matches(query: str, title: str = "", summary: str = "", **fields) -> bool:
    return hit(query, paper(title, summary, **fields)) is not None


# --- the language, as /help watch explains it --------------------------------------------


@pytest.mark.parametrize("title", [
    "Federated Learning for Hospitals", "federated-learning at scale", "FEDERATED LEARNING",
    "On Federated   Learning", "Personalised federated-Learning (pFL)",
])
def test_bare_words_are_one_phrase(title):
    assert matches("federated learning", title)


def test_phrase_words_must_be_consecutive_and_in_order():
    assert not matches("federated learning", "Federated optimization. Learning rates.")
    assert not matches("federated learning", "learning federated")
    assert not matches("federated learning", "federated transfer learning")


@pytest.mark.parametrize("query, text", [
    ("transformer", "Vision Transformers"),
    ("transformers", "a transformer"),
    ("strategy", "three strategies"),
    ("strategies", "one strategy"),
    ("approach", "two approaches"),
    ("analysis", "several analyses"),
    ("matrix", "low-rank matrices"),
    ("index", "inverted indices"),
    ("process", "Gaussian processes"),
    ("large language model", "Large Language Models"),
    ("LLM", "LLMs"),
])
def test_plurals_match(query, text):
    assert matches(query, text)


@pytest.mark.parametrize("query, text", [
    ("learning", "the model learned"),
    ("pooling", "max pool"),
    ("pool", "max pooling"),
    ("new", "breaking news"),
    ("IT", "its weights"),
    ("train", "training"),
])
def test_no_other_stemming(query, text):
    assert not matches(query, text)


@pytest.mark.parametrize("query", ["re-ranking", "re ranking", "reranking", '"re ranking"'])
@pytest.mark.parametrize("text", ["Re-ranking retrieved images", "re ranking retrieved images",
                                  "Reranking retrieved images", "RE-RANKINGS"])
def test_hyphen_space_and_joined_compounds_find_each_other(query, text):
    assert matches(query, text)


@pytest.mark.parametrize("query, text", [
    ("pretraining", "self-supervised pre-training"),
    ("pre-training", "large-scale pretraining"),
    ("pre training objectives", "pretraining objectives"),
    ("mixture of experts", "a Mixture-of-Experts layer"),
    ("non-IID", "non IID data"),
    ("GPT-4", "GPT4 and GPT-4o"),
])
def test_compounds(query, text):
    assert matches(query, text)


@pytest.mark.parametrize("text", [
    "FlowTransformer: A Transformer Framework", "we count FLOPs", "a flow of data",
    "the FLAN collection",
])
def test_whole_words_only(text):
    assert not matches("FL", text)


def test_whole_words_only_matches_the_word():
    assert matches("FL", "Personalized FL (pFL) with non-IID clients")
    assert matches("FL", "FL-based training")


@pytest.mark.parametrize("query, text", [
    ("Jurgen", "Jürgen Schmidhuber"),
    ("Jürgen", "Jurgen Schmidhuber"),
    ("jurgen", "Ju\u0308rgen"),  # decomposed umlaut
    ("strasse", "Straße"),
    ("fine tuning", "ﬁne-tuning"),
    ("LLM", "ＬＬＭ"),
    ("大语言模型", "关于 大语言模型。"),  # a CJK run is one word
    ("ΟΔΟΣ", "οδός"),
])
def test_unicode_folds_on_both_sides(query, text):
    assert matches(query, text)


def test_lowercase_and_or_are_words():
    assert matches("mixture of experts and routers", "a mixture of experts and routers")
    assert not matches("mixture of experts and routers", "mixture of experts, routers")


def test_boolean_operators():
    text = "Diffusion models for video generation"
    assert matches("diffusion AND video", text)
    assert matches("diffusion video", "video via diffusion") is False  # one phrase
    assert matches('"diffusion" video', "video via diffusion")  # AND
    assert matches("audio OR video", text)
    assert not matches("audio OR speech", text)
    assert matches("diffusion -audio", text)
    assert not matches("diffusion -video", text)
    assert not matches("diffusion NOT video", text)
    assert matches("diffusion -(audio OR speech)", text)
    assert not matches("diffusion -(audio OR video)", text)
    assert matches("(audio OR video) AND diffusion", text)


def test_precedence_not_and_or():
    # a OR b NOT c == a OR (b AND NOT c)
    assert matches("alpha OR beta NOT gamma", "alpha gamma")
    assert not matches("alpha OR beta NOT gamma", "beta gamma")
    assert matches("alpha OR beta NOT gamma", "beta")
    # a b OR c == (a b) OR c
    assert matches("alpha beta OR gamma", "gamma")


def test_exclusion_looks_everywhere_a_term_would():
    assert not matches("diffusion -survey", "Diffusion", keywords=("survey",))
    assert not matches("diffusion -survey", "A survey", "on diffusion")


def test_fields():
    p = paper("Diffusion for video", "We use transformers.", keywords=("video generation",))
    assert hit("ti:diffusion", p)
    assert not hit("abs:diffusion", p)
    assert hit("abs:transformer", p)
    assert not hit("ti:transformer", p)
    assert hit("video generation", p).terms == (("keywords", "video generation"),)
    assert not hit("ti:video generation", p)
    assert hit("diffusion -ti:survey", p)


def test_authors_words_in_order_within_one_author():
    p = paper("x", authors=("Yann A. LeCun", "Jürgen Schmidhuber", "Wei Wang"))
    assert hit("au:LeCun", p).terms == (("author", "Yann A. LeCun"),)
    assert hit("au:yann lecun", p)
    assert hit("au:Jurgen Schmidhuber", p).terms == (("author", "Jürgen Schmidhuber"),)
    assert hit("au:schmid*", p)
    assert hit("au:yann lec*", p)
    assert not hit("au:lecun yann", p)  # order matters
    assert not hit("au:yann schmidhuber", p)  # words from two authors
    assert not hit("au:wang wei", p)
    assert not hit("au:lecu", p)  # whole words
    assert not hit("lecun", p)  # authors are not searched without au:


def test_categories_exact_or_archive():
    p = paper("x", categories=("cs.LG", "stat.ML", "hep-th"))
    assert hit("cat:cs.LG", p).terms == (("category", "cs.LG"),)
    assert hit("cat:cs.lg", p)
    assert hit("cat:cs", p).terms == (("category", "cs.LG"),)
    assert hit("cat:stat", p)
    assert hit("cat:hep-th", p)
    assert not hit("cat:cs.CV", p)
    assert not hit("cat:c", p)
    assert not hit("cat:math", p)
    assert hit("x cat:(cs.CV OR stat.ML)", p)


def test_prefix():
    assert matches("quantiz*", "Post-training Quantization")
    assert matches("quantiz*", "quantized weights")
    assert not matches("quantiz*", "quantum computing")
    assert matches("rerank*", "image re-ranking")  # joined compound
    assert matches("vision trans*", "Vision Transformers")
    assert not matches("vision trans*", "transformers for vision")
    assert hit("quantiz*", paper("Quantization")).terms == (("title", "quantiz*"),)


# --- explanations ----------------------------------------------------------------------


def test_explanation_lists_each_phrase_per_field():
    p = paper("Federated Learning with Transformers",
              "We revisit federated learning and differential privacy.")
    assert hit("federated learning", p).terms == (
        ("title", "federated learning"), ("abstract", "federated learning"))
    terms = hit("(federated learning OR gnn) differential privacy -survey", p).terms
    assert terms == (("title", "federated learning"), ("abstract", "federated learning"),
                     ("abstract", "differential privacy"))
    assert hit("Transformer", p).terms == (("title", "transformer"),)
    assert hit("Transformer", p).words() == ("transformer",)


def test_explanation_only_counts_the_parts_that_hold():
    p = paper("alpha beta", "gamma")
    assert hit("(alpha delta) OR gamma", p).terms == (("abstract", "gamma"),)
    assert hit("alpha OR gamma", p).terms == (("title", "alpha"), ("abstract", "gamma"))


# --- the index -------------------------------------------------------------------------


def test_index_add_remove_replace():
    index = WatchIndex()
    p = paper("Federated Learning", "Diffusion models.")
    index.add(1, parse("federated learning"))
    index.add(2, parse("diffusion -survey"))
    index.add(3, parse("gnn"))
    assert len(index) == 3 and 2 in index and 9 not in index
    assert {h.watch_id for h in index.match(p)} == {1, 2}
    index.remove(1)
    assert {h.watch_id for h in index.match(p)} == {2}
    index.add(3, parse("ti:federated"))  # replaces watch 3
    assert {h.watch_id for h in index.match(p)} == {2, 3}
    index.remove(42)  # unknown: no error
    index.remove(2)
    index.remove(3)
    assert len(index) == 0 and index.match(p) == []


def test_one_phrase_many_watches():
    index = WatchIndex()
    for watch_id in range(200):
        index.add(watch_id, parse("Federated Learning" if watch_id % 2 else "federated-learning"))
    assert index.stats()["phrases"] == 1
    p = paper("federated learning")
    assert sorted(h.watch_id for h in index.match(p)) == list(range(200))
    for watch_id in range(0, 200, 2):
        index.remove(watch_id)
    assert sorted(h.watch_id for h in index.match(p)) == list(range(1, 200, 2))


def test_removing_everything_leaves_an_empty_index():
    index = WatchIndex()
    queries = ["federated learning", "quantiz*", "au:yann lecun", "cat:cs", "re ranking",
               "a OR (b -c)", "ti:x abs:y", "au:schmid*", "au:li wei*", "cat:cs.LG diffusion"]
    for round_ in range(2):
        for n, q in enumerate(queries):
            index.add(n + 100 * round_, parse(q))
    for round_ in range(2):
        for n in range(len(queries)):
            index.remove(n + 100 * round_)
    assert all(v == 0 for v in index.stats().values())
    assert not index._edges and not index._forms and not index._prefix_heads
    assert not index._simple and not index._trigger and not index._terminal


def test_changes_are_live_for_the_next_paper():
    index = WatchIndex()
    index.add(1, parse("diffusion"))
    p = paper("Quantized diffusion transformers")
    assert [h.watch_id for h in index.match(p)] == [1]
    index.add(2, parse("quantiz*"))  # a new prefix word
    index.add(3, parse("diffusion transformer"))  # a new word
    assert sorted(h.watch_id for h in index.match(p)) == [1, 2, 3]
    index.remove(2)
    assert sorted(h.watch_id for h in index.match(p)) == [1, 3]


def test_match_many_omits_papers_without_hits():
    index = WatchIndex()
    index.add(1, parse("diffusion"))
    papers = [paper("diffusion", id="a"), paper("nothing", id="b"), paper("Diffusion", id="c")]
    result = index.match_many(papers)
    assert set(result) == {"a", "c"}
    assert result["a"] == [MatchHit(1, (("title", "diffusion"),))]


def test_rejects_a_query_that_only_excludes():
    from bot.watching.query import Not, Phrase, Query
    index = WatchIndex()
    with pytest.raises(ValueError):
        index.add(1, Query("-x", Not(Phrase(("x",)))))
    assert len(index) == 0 and index.stats()["phrases"] == 0


# --- real abstracts ----------------------------------------------------------------------

REAL_QUERIES = [
    "federated learning", "FL", "transformer", "re-ranking", "reranking", "non-IID",
    "mixture of experts", "quantiz*", "global average pooling", "diffusion -video",
    "ti:transformer", "abs:vision transformer", '"image retrieval" OR reranking',
    "token* (pruning OR sparsification)", "pool", "learned", "LLM", "MLLMs",
    "semantic segmentation -medical", "(federated OR distributed) learning",
]


def real_papers() -> list[Paper]:
    rows = [json.loads(line) for line in ABSTRACTS.open(encoding="utf-8")]
    return [Paper(id=f"real-{n}", title=r["title"], summary=r["summary"])
            for n, r in enumerate(rows)]


def alone(query, p: Paper):
    """The terms of one query matched on an index of its own."""
    index = WatchIndex(hit_cache=0)
    index.add(0, query)
    hits = index.match(p)
    return hits[0].terms if hits else None


def test_index_agrees_with_a_one_watch_index_and_reference_on_real_abstracts():
    papers = real_papers()
    index = WatchIndex()
    queries = [parse(q) for q in REAL_QUERIES]
    for n, query in enumerate(queries):
        index.add(n, query)
    results = index.match_many(papers)
    for p in papers:
        got = {h.watch_id: h.terms for h in results.get(p.id, [])}
        for n, query in enumerate(queries):
            expected = reference_match(query, p)
            assert got.get(n) == expected, (REAL_QUERIES[n], p.title)
            assert alone(query, p) == expected
    assert sum(len(h) for h in results.values()) > 50


def test_real_flowtransformer_paper_is_not_an_fl_paper():
    p = next(p for p in real_papers() if p.title.startswith("FlowTransformer"))
    assert not hit("FL", p)
    assert hit("transformer", p)


# --- highlighting ----------------------------------------------------------------------


def test_find_spans_in_the_original_text():
    text = "Federated-Learning with Transformers: strategies for re-ranking (FL)"
    spans = find_spans(text, ["federated learning", "transformer", "reranking", "fl"])
    assert [text[a:b] for a, b in spans] == [
        "Federated-Learning", "Transformers", "re-ranking", "FL"]


def test_find_spans_unicode_offsets():
    text = "Über Ju\u0308rgen’s ﬁne-tuning of ＬＬＭs"
    spans = find_spans(text, ["jurgen", "fine tuning", "llm"])
    assert [text[a:b] for a, b in spans] == ["Ju\u0308rgen", "ﬁne-tuning", "ＬＬＭs"]


def test_find_spans_prefix_and_merging():
    text = "Quantized quantization-aware training"
    assert [text[a:b] for a, b in find_spans(text, ["quantiz*"])] == [
        "Quantized", "quantization"]
    assert find_spans("Image re-ranking", ["rerank*"]) == [(6, 16)]
    assert find_spans("federated learning", ["federated", "learning", "federated learning"]) \
        == [(0, 18)]
    assert find_spans("nothing here", ["absent", ""]) == []
    assert find_spans("", ["x"]) == []


def test_find_spans_whole_words():
    assert find_spans("FlowTransformer FLOPs FL", ["fl"]) == [(22, 24)]


def test_same_boolean_query_is_evaluated_once_for_all_its_watches():
    index = WatchIndex()
    for watch_id in range(5):
        index.add(watch_id, parse("diffusion -survey"))
    index.add(9, parse("(gnn OR diffusion) -survey"))
    assert index.stats()["boolean_queries"] == 2
    p = paper("Diffusion models")
    assert sorted(h.watch_id for h in index.match(p)) == [0, 1, 2, 3, 4, 9]
    index.remove(0)
    index.remove(9)
    assert index.stats()["boolean_queries"] == 1
    assert sorted(h.watch_id for h in index.match(p)) == [1, 2, 3, 4]
    assert index.match(paper("Diffusion: a survey")) == []


@pytest.mark.parametrize("cache", [0, 1, 3, 1000])
def test_reused_hits_stay_right_as_watches_change(cache):
    index = WatchIndex(hit_cache=cache)
    papers = [paper("federated learning", "privacy", id="a"), paper("privacy", id="b"),
              paper("Federated Learning", id="c")]
    for watch_id in range(4):
        index.add(watch_id, parse("federated learning" if watch_id % 2 else "privacy OR gnn"))
    first = index.match_many(papers)
    assert index.match_many(papers) == first
    index.remove(1)
    index.add(7, parse("federated learning"))
    again = index.match_many(papers)
    assert sorted(h.watch_id for h in again["a"]) == [0, 2, 3, 7]
    assert [h.terms for h in again["b"]] == [(("title", "privacy"),)] * 2
    assert sorted(h.watch_id for h in again["c"]) == [3, 7]
