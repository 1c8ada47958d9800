"""A cheap, safe prefilter for matching one query against many papers (the /watch preview).

The full match maps every distinct token of a paper to its symbols, which is most of the
cost of a preview. Before it, a paper is rejected when its "joined text" (the normalized
words of title, summary and keywords concatenated with no separator, `paper_text`) lacks
strings that any match must leave there. The condition is a conjunction of clauses, each a
set of strings of which at least one must be a substring of the joined text (`Prefilter`).

Why it never rejects a paper the full match keeps (bot.watching.index_scan._scan, with
index_build._symbols_for and _add_joined_prefixes): a text leaf is found only by walking
its whole trie path, so every symbol s_j of its phrase w_1..w_k is consumed at some token t
(or at two adjacent tokens, which are adjacent in the joined text) in one of these ways:
- t is a related form of w_j (`_forms`), or two adjacent tokens joined are: a form of w_j is
  in the text;
- w_j is a prefix word (the last word, `w*`) and t, or two adjacent tokens joined, start
  with it: w_j is in the text;
- w_j and w_{j+1} (or w_{j-1} and w_j) are consumed together: a related form of t is their
  concatenation. Related forms are symmetric (plurals and singulars are exact inverses), so
  t is a related form of w_{j-1}+w_j or of w_j+w_{j+1}.
So the clause of w_j is: the related forms of w_j and of its concatenations with its
neighbours in the phrase (just w_j for a prefix word). A phrase needs all its clauses. Over
the boolean query (the compiled NNF tree): AND needs the clauses of every child; OR needs
one of its children, so one clause per child is merged into one; NOT, authors and
categories need nothing here. A query whose condition is empty is not prefiltered.
"""
from __future__ import annotations

from collections.abc import Iterable

from bot.types import Paper
from bot.watching.index_build import IndexBuilder
from bot.watching.index_tables import _AND, _LOW, _OTHER, _SHIFT, Compiled
from bot.watching.text import normalize_words, related_forms

Clause = frozenset[str]


def paper_text(paper: Paper) -> str:
    """Title, summary and keywords as normalized words joined with no separator."""
    words = normalize_words(paper.title)
    words += normalize_words(paper.summary)
    for keyword in paper.keywords:
        words += normalize_words(keyword)
    return "".join(words)


def same_text(a: Paper, b: Paper) -> bool:
    """Whether two versions of a paper have the same joined text (the fields it reads)."""
    return a.title == b.title and a.summary == b.summary and a.keywords == b.keywords


class Prefilter:
    """The condition a one-query index puts on the joined text of a paper it matches."""

    def __init__(self, clauses: Iterable[Clause]) -> None:
        # Each clause keeps only its minimal strings (a string containing another adds
        # nothing); the most selective clauses (longest shortest string) are tried first.
        minimal = {_minimal(clause) for clause in clauses}
        self.clauses: tuple[tuple[str, ...], ...] = tuple(
            sorted(minimal, key=lambda c: (-len(c[0]), len(c), c)))

    def admits(self, text: str) -> bool:
        """False only when no paper with this joined text can match."""
        for clause in self.clauses:
            for root in clause:
                if root in text:
                    break
            else:
                return False
        return True

    @classmethod
    def of(cls, index: IndexBuilder) -> Prefilter | None:
        """The prefilter of an index holding one watch; None when nothing can be required."""
        if len(index._watches) != 1:
            return None
        (entry,) = index._watches.values()
        compiled: Compiled = entry if entry >= 0 else index._group_query[~entry]
        clauses = _needed(index, compiled)
        return cls(clauses) if clauses else None


def _minimal(clause: Clause) -> tuple[str, ...]:
    kept: list[str] = []
    for root in sorted(clause, key=lambda r: (len(r), r)):
        if not any(k in root for k in kept):
            kept.append(root)
    return tuple(kept)


def _needed(index: IndexBuilder, node: Compiled) -> list[Clause]:
    """Clauses that hold whenever the compiled (sub)query holds; [] for no condition."""
    if isinstance(node, int):
        if node < 0 or node & 3 == _OTHER:  # NOT, or an author/category leaf
            return []
        return _phrase_clauses(index, node >> 2)
    options = [_needed(index, child) for child in node[1:]]
    if node[0] == _AND:
        return [clause for option in options for clause in option]
    if any(not option for option in options):  # OR with a child that needs nothing
        return []
    # One of the children holds, and then each of its clauses does: the union of one clause
    # per child is needed. Take each child's most selective clause.
    merged: set[str] = set()
    for option in options:
        merged |= max(option, key=lambda c: min(len(r) for r in c))
    return [frozenset(merged)]


def _phrase_clauses(index: IndexBuilder, state: int) -> list[Clause]:
    """One clause per word of the phrase ending at this trie state (see the module doc)."""
    words: list[tuple[str, bool]] = []  # (text, is a prefix word), last word first
    while state:
        key = index._parent_key[state]
        symbol = key & _LOW
        words.append((index._symbol_text[symbol], symbol in index._is_prefix))
        state = key >> _SHIFT
    words.reverse()
    clauses: list[Clause] = []
    for j, (word, is_prefix) in enumerate(words):
        if is_prefix:
            clauses.append(frozenset((word,)))
            continue
        roots = set(related_forms(word))
        if j > 0 and not words[j - 1][1]:
            roots.update(related_forms(words[j - 1][0] + word))
        if j + 1 < len(words) and not words[j + 1][1]:
            roots.update(related_forms(word + words[j + 1][0]))
        clauses.append(frozenset(roots))
    return clauses
