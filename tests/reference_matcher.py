"""A plain reference evaluator for watch queries: the query tree against token lists.

Slow and obvious on purpose: no index, no caches, no symbol tables, every alignment of a
phrase tried at every position. The engine (bot.watching.matching.WatchIndex) must give the same
match sets and the same explanation terms; tests/test_matching_properties.py checks it
on random queries and texts, and bench/matching.py times it as the naive baseline.

The rules, as /help watch states them:
- words are normalized (bot.watching.text.normalize_words: NFKC, case-folded, accents removed);
- a word matches itself, its plural and its singular (regular English suffixes, a few
  words excepted whose plural is another common word: it/its, new/news, us/uses);
- a text word may be two query words written joined, and two adjacent text words may be
  one query word written joined (re-ranking / re ranking / reranking);
- a trailing * on the last query word matches any text word (or joined pair) starting
  with it;
- au: words appear in order within one author's name; cat:cs.LG exact, cat:cs any cs.*.
"""

from __future__ import annotations

from functools import lru_cache

from bot.types import Paper
from bot.watching.query import And, Category, Node, Not, Or, Phrase, Query
from bot.watching.text import normalize_words

EXCEPTIONS = {"it", "us", "new", "ha", "hi", "wa", "thi", "thu", "ye", "do", "go", "no", "so",
              "to"}


@lru_cache(maxsize=4096)
def tokens(text: str) -> list[str]:
    """normalize_words, remembered: the baseline should time matching, not tokenizing."""
    return normalize_words(text)


def plural_forms(word: str) -> set[str]:
    if len(word) < 2 or word in EXCEPTIONS or word[-1] not in "abcdefghijklmnopqrstuvwxyz":
        return set()
    forms = set()
    sibilant = word[-1] in "sxz" or word[-2:] in ("ch", "sh")
    consonant_y = word[-1] == "y" and word[-2] not in "aeiou"
    if sibilant:
        forms.add(word + "es")
    if consonant_y:
        forms.add(word[:-1] + "ies")
    if not sibilant and not consonant_y:
        forms.add(word + "s")
    if word[-1] == "o":
        forms.add(word + "es")
    if len(word) >= 4 and word[-2:] == "is":
        forms.add(word[:-2] + "es")
    if len(word) >= 4 and word[-2:] in ("ix", "ex"):
        forms.add(word[:-2] + "ices")
    return forms


def same(a: str, b: str) -> bool:
    return a == b or a in plural_forms(b) or b in plural_forms(a)


def phrase_in(tokens: list[str], words: tuple[str, ...], prefix: bool) -> bool:
    """Whether the phrase occurs anywhere in the token list."""
    n, m = len(tokens), len(words)

    def from_here(i: int, j: int) -> bool:
        if j == m:
            return True
        if i >= n:
            return False
        word = words[j]
        units = [(tokens[i], i + 1)]
        if i + 1 < n:
            units.append((tokens[i] + tokens[i + 1], i + 2))
        if prefix and j == m - 1:
            return any(text.startswith(word) for text, _ in units)
        for text, after in units:
            if same(text, word) and from_here(after, j + 1):
                return True
        second_is_prefix = prefix and j + 1 == m - 1
        joinable = j + 1 < m and not second_is_prefix
        return joinable and same(tokens[i], word + words[j + 1]) and from_here(i + 1, j + 2)

    return any(from_here(i, 0) for i in range(n))


def in_order(name: list[str], words: tuple[str, ...], prefix: bool) -> bool:
    """The words appear in this order (gaps allowed) in one author's name."""
    positions = range(len(name))

    def from_here(start: int, j: int) -> bool:
        if j == len(words):
            return True
        for k in positions[start:]:
            last = prefix and j == len(words) - 1
            fits = name[k].startswith(words[j]) if last else name[k] == words[j]
            if fits and from_here(k + 1, j + 1):
                return True
        return False

    return from_here(0, 0)


def term_hits(term: Phrase | Category, paper: Paper) -> list[tuple[str, str]]:
    """(field, phrase) for each place the term is present, in field order."""
    if isinstance(term, Category):
        out = []
        for category in paper.categories:
            c = category.casefold()
            if c == term.value or (term.archive and c.split(".")[0] == term.value):
                out.append(("category", category))
        return out
    if term.field == "author":
        return [("author", a) for a in paper.authors
                if in_order(tokens(a), term.words, term.prefix)]
    texts = {"title": [paper.title], "abstract": [paper.summary],
             "keywords": list(paper.keywords)}
    fields = ["title", "abstract", "keywords"] if term.field == "any" else [term.field]
    display = " ".join(term.words) + ("*" if term.prefix else "")
    return [(field, display) for field in fields
            if any(phrase_in(tokens(t), term.words, term.prefix) for t in texts[field])]


def evaluate(node: Node, paper: Paper) -> bool:
    if isinstance(node, (Phrase, Category)):
        return bool(term_hits(node, paper))
    if isinstance(node, Not):
        return not evaluate(node.child, paper)
    if isinstance(node, And):
        return all(evaluate(c, paper) for c in node.children)
    assert isinstance(node, Or)
    return any(evaluate(c, paper) for c in node.children)


def why(node: Node, paper: Paper, want: bool = True) -> list[tuple[str, str]]:
    """Terms of the present terms that make `node` evaluate to `want` (positive ones only)."""
    if isinstance(node, (Phrase, Category)):
        return term_hits(node, paper) if want else []
    if isinstance(node, Not):
        return why(node.child, paper, not want)
    all_count = isinstance(node, And) == want  # AND true / OR false: every child counts
    out: list[tuple[str, str]] = []
    for child in node.children:
        if all_count or evaluate(child, paper) == want:
            out += why(child, paper, want)
    return out


def reference_match(query: Query, paper: Paper) -> tuple[tuple[str, str], ...] | None:
    """None if the query does not match; else the (field, phrase) terms, deduplicated."""
    if not evaluate(query.tree, paper):
        return None
    return tuple(dict.fromkeys(why(query.tree, paper)))
