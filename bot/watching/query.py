"""The watch language: parse what a person types after /watch into a query tree.

    federated learning            one phrase: the words consecutive, in order
    "graph neural network" OR gnn   quoted phrases, OR, AND (upper case), parentheses
    diffusion -medical            NOT or a leading - excludes the next term
                                  (-medical imaging excludes that phrase)
    ti:diffusion model            fields apply to the next term: ti: title, abs: abstract,
    au:Yann LeCun  cat:cs.LG      au: an author (words in order within one name),
    cat:cs                        cat: an arXiv category or a whole archive
    quantiz*                      a trailing * on the last word of a phrase: any word
                                  starting with it (at least 3 letters)

A run of bare words is ONE phrase; a term next to a quoted phrase, a group, a field or an
exclusion means AND. Precedence: NOT > AND > OR. Lower-case and/or/not are ordinary words.
Everything that cannot be stored raises QueryError saying what is wrong, where, and how to
fix it; no other exception escapes `parse`.

The language is read in parts: `query_lex` (the tokenizer), `query_parse` (the parser) and
`query_tree` (the tree, its canonical form, QueryError); this module checks the whole query
(characters, size, that some term must be present) and is the one to import from.
"""

from __future__ import annotations

import re
import unicodedata

from bot.watching.query_lex import OPERATORS, lex
from bot.watching.query_parse import Parser
from bot.watching.query_tree import (
    And,
    Category,
    Node,
    Not,
    Or,
    Phrase,
    Query,
    QueryError,
    canonical,
    iter_terms,
    to_nnf,
)
from bot.watching.text import normalize_words

__all__ = [
    "MAX_QUERY_CHARS", "MAX_TERMS", "And", "Category", "Node", "Not", "Or", "Phrase", "Query",
    "QueryError", "canonical", "iter_terms", "normalize_words", "parse", "to_nnf",
]

MAX_QUERY_CHARS = 200
MAX_TERMS = 20
_EXAMPLE = "e.g. /watch federated learning"
# Printable ASCII without the syntax characters " ( ) * : and with no chunk starting with
# '-': a single phrase, parsed without the lexer (operator words are checked apart).
_FIRST = r"[\x21\x23-\x27\x2b\x2c\x2e-\x39\x3b-\x7e]"  # not a space, '-' or " ( ) * :
_REST = r"[\x21\x23-\x27\x2b-\x39\x3b-\x7e]*"  # '-' allowed inside a chunk
_SIMPLE = re.compile(f"{_FIRST}{_REST}(?: +{_FIRST}{_REST})*")
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


# --- checks ---------------------------------------------------------------------------


def _check_chars(text: str) -> None:
    m = _BAD_CHAR.search(text)
    if m is None:
        return
    if unicodedata.category(m.group()) == "Cs":
        raise QueryError("The query contains a broken character", m.start(),
                         "Type the query again.")
    raise QueryError("The query contains a control character", m.start(),
                     "Remove it and type the words only.")


def _term_size(term: Phrase | Category) -> int:
    return len(term.words) if isinstance(term, Phrase) else 1


def _count_terms(node: Node, parser: Parser) -> None:
    count = 0
    for term, _ in iter_terms(node):
        count += _term_size(term)
        if count > MAX_TERMS:
            total = sum(_term_size(t) for t, _ in iter_terms(node))
            where = parser.start(term)
            raise QueryError(f"The query has {total} words; the limit is {MAX_TERMS}",
                             where if where >= 0 else None, "Use fewer, more specific words.")


def _excluding_part(node: Node, positive: bool, parser: Parser) -> int | None:
    """Where a part of the query would hold for a paper that has none of its words.

    Returns None when every way to satisfy the query needs some term to be present.
    The start of the offending part is returned, or -1 when it has no known position.
    """
    here = parser.start(node)
    if isinstance(node, (Phrase, Category)):
        return None if positive else here
    if isinstance(node, Not):
        inner = _excluding_part(node.child, not positive, parser)
        return inner if inner is None or here < 0 else here
    all_needed = isinstance(node, And) == positive  # AND (or a negated OR)
    results = [_excluding_part(child, positive, parser) for child in node.children]
    if all_needed:  # satisfied with no words only if every child is
        return None if any(r is None for r in results) else here
    return next((r for r in results if r is not None), None)


def parse(text: str) -> Query:
    """Parse a watch; raise QueryError on anything that cannot be stored."""
    if not isinstance(text, str):
        raise QueryError("The query must be text", None, _EXAMPLE + ".")
    stripped = text.strip()
    if not stripped:
        raise QueryError("The query is empty", None, f"Type the words to watch for, {_EXAMPLE}.")
    if len(stripped) > MAX_QUERY_CHARS:
        raise QueryError(f"The query is {len(stripped)} characters long; the limit is "
                         f"{MAX_QUERY_CHARS}", text.index(stripped[0]) + MAX_QUERY_CHARS,
                         "Shorten it.")
    if _SIMPLE.fullmatch(stripped) and not _has_operator(stripped):
        words = normalize_words(stripped)
        if 0 < len(words) <= MAX_TERMS:
            return Query(text=stripped, tree=Phrase(tuple(words)))
    _check_chars(text)
    tokens = lex(text)
    has_words = any(t.kind in ("word", "quoted") and normalize_words(t.text) for t in tokens)
    if not has_words and all(t.kind in ("word", "quoted", "(", ")") for t in tokens):
        raise QueryError("The query has no letters or digits", None,
                         f"Type the words to watch for, {_EXAMPLE}.")
    parser = Parser(text, tokens)
    tree = parser.parse()
    _count_terms(tree, parser)
    bad = _excluding_part(tree, True, parser)
    if bad is not None:
        raise QueryError("The query only excludes words here, so it would match almost "
                         "every paper", None if bad < 0 else bad,
                         "Add a word that must appear, e.g. federated learning -healthcare.")
    return Query(text=stripped, tree=tree)


def _has_operator(text: str) -> bool:
    return ("AND" in text or "OR" in text or "NOT" in text) and not _OPERATORS_SET.isdisjoint(
        text.split())


_OPERATORS_SET = frozenset(OPERATORS)
