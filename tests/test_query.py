"""The watch language: what parses to what, and every refusal with its position and hint."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.watching.query import (
    MAX_QUERY_CHARS,
    MAX_TERMS,
    And,
    Category,
    Not,
    Or,
    Phrase,
    Query,
    QueryError,
    iter_terms,
    normalize_words,
    parse,
    to_nnf,
)


def P(*words: str, field: str = "any", prefix: bool = False) -> Phrase:
    return Phrase(tuple(words), field, prefix)


# --- normalization ----------------------------------------------------------------------


@pytest.mark.parametrize("text, words", [
    ("Federated Learning", ["federated", "learning"]),
    ("federated-learning", ["federated", "learning"]),
    ("FEDERATED   LEARNING!", ["federated", "learning"]),
    ("Jürgen Schmidhuber", ["jurgen", "schmidhuber"]),
    ("Ｆｕｌｌｗｉｄｔｈ ＬＬＭ", ["fullwidth", "llm"]),
    ("ﬁne-tuning", ["fine", "tuning"]),
    ("Straße", ["strasse"]),
    ("trans\u00adformer", ["transformer"]),  # soft hyphen vanishes
    ("e\u0301cole", ["ecole"]),  # combining accent
    ("snake_case", ["snake", "case"]),
    ("GPT-4o's", ["gpt", "4o", "s"]),
    ("大语言模型 LLM", ["大语言模型", "llm"]),
    ("🔥🔥", []),
    ("", []),
])
def test_normalize_words(text, words):
    assert normalize_words(text) == words


# --- what parses to what ----------------------------------------------------------------


@pytest.mark.parametrize("text, tree", [
    ("federated learning", P("federated", "learning")),
    ("  Federated-Learning  ", P("federated", "learning")),
    ("mixture of experts", P("mixture", "of", "experts")),
    ("LLM and RL", P("llm", "and", "rl")),  # lower-case and/or are words
    ('"federated learning" privacy', And((P("federated", "learning"), P("privacy")))),
    ("federated learning (privacy)", And((P("federated", "learning"), P("privacy")))),
    ("a OR b c", Or((P("a"), P("b", "c")))),
    ("a b OR c AND d", Or((P("a", "b"), And((P("c"), P("d")))))),
    ("a OR b NOT c", Or((P("a"), And((P("b"), Not(P("c"))))))),
    ("(a OR b) c", And((Or((P("a"), P("b"))), P("c")))),
    ("diffusion -medical imaging", And((P("diffusion"), Not(P("medical", "imaging"))))),
    ("diffusion NOT survey", And((P("diffusion"), Not(P("survey"))))),
    ("gnn -(survey OR review)", And((P("gnn"), Not(Or((P("survey"), P("review"))))))),
    ('x -"two words"', And((P("x"), Not(P("two", "words"))))),
    ("ti:diffusion model", P("diffusion", "model", field="title")),
    ("TI:diffusion", P("diffusion", field="title")),
    ("ti: diffusion", P("diffusion", field="title")),
    ("title:diffusion", P("diffusion", field="title")),
    ("abs:privacy", P("privacy", field="abstract")),
    ('ti:"graph neural network"', P("graph", "neural", "network", field="title")),
    ("ti:(a OR b)", Or((P("a", field="title"), P("b", field="title")))),
    ("au:Jürgen Schmidhuber", P("jurgen", "schmidhuber", field="author")),
    ("au:schmid*", P("schmid", field="author", prefix=True)),
    ("cat:cs.LG", Category("cs.lg")),
    ("cat:cs", Category("cs", archive=True)),
    ("cat:cs.*", Category("cs", archive=True)),
    ("cat:hep-th", Category("hep-th", archive=True)),
    ("cat:cond-mat.stat-mech", Category("cond-mat.stat-mech")),
    ('cat:"cs.CV"', Category("cs.cv")),
    ("cat:(cs.LG OR stat.ML) gnn",
     And((Or((Category("cs.lg"), Category("stat.ml"))), P("gnn")))),
    ("cat:cs.LG federated learning", And((Category("cs.lg"), P("federated", "learning")))),
    ("quantiz*", P("quantiz", prefix=True)),
    ('"vision trans*"', P("vision", "trans", prefix=True)),
    ("re-rank*", P("re", "rank", prefix=True)),
    ("“federated learning” OR FL", Or((P("federated", "learning"), P("fl")))),
    ("federated 🔥 learning", P("federated", "learning")),
    ('"federated learning" 🔥', P("federated", "learning")),
    ("Note: transformers", P("note", "transformers")),
    ("NOT (NOT a)", Not(Not(P("a")))),
    ("a\nb", P("a", "b")),
    ("大语言模型", P("大语言模型")),
    ("x" * MAX_QUERY_CHARS, P("x" * MAX_QUERY_CHARS)),
])
def test_parse(text, tree):
    query = parse(text)
    assert query.tree == tree
    assert query.text == text.strip()


def test_query_is_hashable_and_frozen():
    query = parse("a OR (b -c)")
    assert hash(query) == hash(parse("a OR (b -c)"))
    with pytest.raises(AttributeError):
        query.text = "x"  # type: ignore[misc]


def test_to_nnf_pushes_not_down():
    tree = parse("x -(a OR (b -c))").tree
    assert to_nnf(tree) == And((P("x"), Not(P("a")), Or((Not(P("b")), P("c")))))


def test_iter_terms_polarity():
    terms = list(iter_terms(parse("a -(b OR -c) cat:cs").tree))
    assert terms == [(P("a"), True), (P("b"), False), (P("c"), True),
                     (Category("cs", archive=True), True)]


def test_phrase_display():
    assert P("federated", "learning").display == "federated learning"
    assert P("quantiz", prefix=True).display == "quantiz*"


# --- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, message, position", [
    ("", "empty", None),
    ("   ", "empty", None),
    ("🔥🔥", "no letters or digits", None),
    ("!!! ???", "no letters or digits", None),
    ("()", "no letters or digits", None),
    ('"abc', "Unbalanced quote", 0),
    ('federated "learning', "Unbalanced quote", 10),
    ("(a OR b", "never closed", 0),
    ("a OR b)", "without '('", 6),
    ("a (b", "never closed", 2),
    ("(🔥) a", "no letters or digits", 1),
    ("x AND", "AND needs a term on both sides", 2),
    ("AND x", "AND needs a term on both sides", 0),
    ("a OR OR b", "OR needs a term on both sides", 2),
    ("(a OR) b", "OR needs a term on both sides", 3),
    ("a OR 🔥", "no letters or digits", 5),
    ("NOT", "NOT needs a term after it", 0),
    ("a NOT", "NOT needs a term after it", 2),
    ("a - b", "lone '-'", 2),
    ("-", "lone '-'", 0),
    ("--foo", "Two '-'", 0),
    ("foo:bar", "Unknown field 'foo:'", 0),
    ("diffusion xyz:(a)", "Unknown field 'xyz:'", 10),
    ("http://example.com", "Unknown field 'http:'", 0),
    ("ti:", "ti: needs a term after it", 0),
    ("a ti:", "ti: needs a term after it", 2),
    ("ti:-foo", "must be followed by words", 3),
    ("ti:(au:x)", "Fields cannot be nested", 4),
    ("cat:cs..LG", "not an arXiv category", 4),
    ("cat:(cs.LG stat.ML)", "one arXiv category per term", 5),
    ("qu*", "at least 3 letters", 2),
    ("trans* models", "can only end the last word", 5),
    ("-survey", "only excludes", 0),
    ("NOT survey", "only excludes", 0),
    ("a OR -b", "only excludes", 5),
    ("-a -b", "only excludes", 0),
    ("cat:cs OR -cat:cs.LG", "only excludes", 10),
    ("x" * (MAX_QUERY_CHARS + 1), "characters long", MAX_QUERY_CHARS),
    (" ".join(["w"] * (MAX_TERMS + 1)), f"has {MAX_TERMS + 1} words", 0),
    ("a OR " * 10 + "b c d e f g h i j k l", "has 21 words", 50),
    ("a\x00b", "control character", 1),
    ("a\x1b[31mb", "control character", 1),
    ("a\ud800b", "broken character", 1),
    ("'; DROP TABLE watches; --", "lone '-'", 23),
])
def test_refused(text, message, position):
    with pytest.raises(QueryError) as caught:
        parse(text)
    error = caught.value
    assert message in error.message
    if position is not None:
        assert error.position == position
    assert error.hint
    line = error.describe()
    assert line.endswith(".") and "\n" not in line
    if error.position is not None:
        assert f"(at character {error.position + 1})" in line


def test_describe_reads_as_one_line():
    with pytest.raises(QueryError) as caught:
        parse('federated "learning')
    assert caught.value.describe() == (
        "Unbalanced quote (at character 11). Close the quote or remove it.")


def test_term_limit_counts_words_of_every_term():
    parse(" ".join(["w"] * MAX_TERMS))
    with pytest.raises(QueryError):
        parse(" ".join(["w"] * 10) + " OR " + " ".join(["v"] * 11))


def test_position_is_in_the_text_as_given():
    with pytest.raises(QueryError) as caught:
        parse('   a "b')
    assert caught.value.position == 5


# --- anything a chat user types ---------------------------------------------------------

CHAT_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(' "“”()-*:AND OR NOT ti: au: cat:cs.LG abs: x y\n\t')),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=60,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CHAT_TEXT)
def test_parse_never_raises_anything_else(text):
    try:
        query = parse(text)
    except QueryError as error:
        assert error.message and error.hint
        assert error.position is None or 0 <= error.position <= len(text)
        error.describe()
        return
    assert isinstance(query, Query)
    assert query.text == text.strip()
    assert any(positive for _, positive in iter_terms(query.tree))
    total = sum(len(t.words) if isinstance(t, Phrase) else 1 for t, _ in iter_terms(query.tree))
    assert 1 <= total <= MAX_TERMS
    assert parse(query.text) == query  # what is stored parses back the same


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=500))
def test_parse_arbitrary_unicode(text):
    with contextlib.suppress(QueryError):
        parse(text)


def test_huge_input_is_refused_quickly():
    with pytest.raises(QueryError) as caught:
        parse("federated learning " * 100_000)
    assert "characters long" in caught.value.message


def test_non_string_is_a_query_error():
    with pytest.raises(QueryError):
        parse(None)  # type: ignore[arg-type]
