"""The matching engine: every watch in one index, each paper scanned once against all.

Design (measured and argued in the README): a word trie over all watch phrases, held in
plain dicts keyed by integers, in pure Python. This module is the public interface
(`WatchIndex`: add, remove, match; `matching_papers` for one query); the engine's parts are
`index_tables` (the tables and encodings), `index_build` (symbols, trie and leaves as watches
come and go), `index_scan` (one paper against the index) and `index_boolean` (trigger sets,
evaluation of boolean watches).

- Every distinct normalized word of any watch gets a symbol; each distinct phrase is a path
  of symbols in the trie, stored once however many watches use it, with refcounts so that
  /watch and /unwatch change it in place (O(phrase length), no rebuild).
- A paper is normalized once; each text token is mapped to the symbols it can stand for
  (the word itself, its singular/plural, prefix watches it starts with, two query words it
  is the joined form of) through a cache. The scan walks the trie from every position where
  a phrase can start, also trying each pair of adjacent tokens joined ("re-ranking" ->
  "reranking").
- Only watches with a positive hit are evaluated: a watch that is a single term is a hit as
  soon as its phrase is found; a boolean watch is registered under a "trigger" set of terms,
  at least one of which must be present for the query to hold, and is evaluated (NOT and the
  other terms looked up among the phrases found) only when one of them is. Watches with the
  same boolean query share one evaluation.
- Authors and categories are exact-key lookups beside the trie.
- MatchHit objects are immutable: those made for a watch are reused while its terms are the
  same (bounded cache), and the cyclic garbage collector is paused while hits are made.

Matching rules (the same here and in `bot.watching.highlight.find_spans`): words compare after
normalization (bot.watching.text); a word matches its singular and plural; a text word may be two
query words joined ("reranking" for "re ranking") and two adjacent text words may be one
query word joined ("re ranking" or "re-ranking" for "reranking"); a trailing * word matches
any word starting with it (or a joined pair of words).
"""
from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from bot.types import MatchHit, Paper
from bot.watching.index_boolean import _trigger_set, _Truth, explain
from bot.watching.index_build import IndexBuilder
from bot.watching.index_scan import IndexScanner
from bot.watching.index_tables import (
    _ABSTRACT,
    _ANY,
    _KEYWORDS,
    _TITLE,
    Group,
    _add_member,
    _Display,
    _remove_member,
    _SymbolCache,
)
from bot.watching.prefilter import Prefilter, paper_text
from bot.watching.query import Phrase, Query, to_nnf
from bot.watching.text import normalize_words


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while hits are made.

    A day's matching makes hundreds of thousands of small acyclic objects (MatchHit); each
    allocation burst would otherwise trigger collections that walk the whole index, which
    measured 2x slower. Reference counting still frees everything; the previous state of
    the collector is restored.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class WatchIndex(IndexBuilder, IndexScanner):
    """All active watches, by id; match() says which watches a paper hits and why."""

    def __init__(self, hit_cache: int = 500_000) -> None:
        """hit_cache: how many MatchHit objects to keep for reuse (about 100 bytes each)."""
        super().__init__(hit_cache)
        self._display = _Display(self._phrase_text)  # state -> the phrase, as in terms
        self._cache = _SymbolCache(self._symbols_for)

    # --- the public interface ---------------------------------------------------------

    def __len__(self) -> int:
        return len(self._watches)

    def __contains__(self, watch_id: object) -> bool:
        return watch_id in self._watches

    def add(self, watch_id: int, query: Query) -> None:
        """Add a watch, or replace the one with this id. Live for the next match."""
        if watch_id in self._watches:
            self.remove(watch_id)
        tree = query.tree
        if tree.__class__ is not Phrase:
            tree = to_nnf(tree)
        compiled = self._compile(tree)
        if compiled.__class__ is int and compiled >= 0:
            self._register(self._simple, compiled, watch_id)
            self._watches[watch_id] = compiled
            return
        group = self._groups.get(compiled)
        if group is None:
            triggers = _trigger_set(compiled, self._cost)
            if triggers is None:
                self._release(compiled)
                raise ValueError("a query must require at least one term to be present")
            group = self._groups[compiled] = self._next_group
            self._next_group += 1
            self._group_query[group] = compiled
            for leaf in triggers:
                self._register(self._trigger, leaf, group)
        else:  # the same query is already indexed: its leaves are held once per group
            self._release(compiled)
        _add_member(self._group_watchers, group, watch_id)
        self._forget_hits(~group)
        self._watches[watch_id] = ~group

    def remove(self, watch_id: int) -> None:
        """Remove a watch (no error if it is not there)."""
        entry = self._watches.pop(watch_id, None)
        if entry is None:
            return
        if entry >= 0:
            self._unregister(self._simple, entry, watch_id)
            self._release(entry)
            return
        group = ~entry
        _remove_member(self._group_watchers, group, watch_id)
        self._forget_hits(~group)
        if group in self._group_watchers:
            return
        compiled = self._group_query.pop(group)
        del self._groups[compiled]
        for leaf in _trigger_set(compiled, self._cost) or ():  # the same as when added
            self._unregister(self._trigger, leaf, group)
        self._release(compiled)

    def match(self, paper: Paper) -> list[MatchHit]:
        """Every watch the paper satisfies, with the phrases found per field."""
        with collector_paused():
            return self._match(paper)

    def match_many(self, papers: Iterable[Paper]) -> dict[str, list[MatchHit]]:
        """paper id -> hits, for the papers with at least one hit."""
        out: dict[str, list[MatchHit]] = {}
        with collector_paused():
            for paper in papers:
                hits = self._match(paper)
                if hits:
                    out[paper.id] = hits
        return out

    def match_groups(self, paper: Paper) -> list[Group]:
        """The paper's hits as groups: (key, the watches, the terms), the watches of a
        phrase, author or category, or of one boolean query, that hit it the same way.

        The fan-out's form: a day at 1M watches is ~5 M hits in ~1.7 M groups, and one
        MatchHit per hit was most of the matching time. The member lists are the index's
        own: read them before the index changes, and never change them."""
        if self._stale:
            self._cache = _SymbolCache(self._symbols_for)
            self._starters = set()
            self._stale = False
        found: dict[int, int] = {}
        if self._terminal:  # any phrase at all (not only authors and categories)
            in_title: set[int] = set()
            in_abstract: set[int] = set()
            self._scan(normalize_words(paper.title), in_title)
            self._scan(normalize_words(paper.summary), in_abstract)
            found = dict.fromkeys(in_abstract, _ABSTRACT)
            for state in in_title:
                found[state] = found.get(state, 0) | _TITLE
        if paper.keywords and self._terminal:
            in_keywords: set[int] = set()
            for keyword in paper.keywords:
                self._scan(normalize_words(keyword), in_keywords)
            for state in in_keywords:
                found[state] = found.get(state, 0) | _KEYWORDS
        other = self._match_other(paper) if self._other else {}
        groups: list[Group] = []
        candidates: set[int] = set()
        truth = _Truth(found, self._display)
        truth.update(other)
        self._collect_text(found, groups, candidates, truth)
        for leaf, terms in other.items():
            self._collect_leaf(leaf, terms, groups, candidates)
        if candidates:
            queries = self._group_query
            watchers = self._group_watchers
            add_group = groups.append
            for group in candidates:
                query = queries[group]
                assert isinstance(query, tuple)  # a group is a boolean query
                found_terms: list | None
                if query[0] == _ANY:  # triggered by one of its leaves, so true
                    found_terms = []
                    for leaf in query[1:]:
                        present = truth[leaf]
                        if present is not None:
                            found_terms += present
                else:
                    found_terms = explain(query, truth)
                if found_terms is not None:
                    terms = (tuple(dict.fromkeys(found_terms)) if len(found_terms) > 1
                             else tuple(found_terms))
                    add_group((~group, watchers[group], terms))
        return groups

    def _match(self, paper: Paper) -> list[MatchHit]:
        hits: list[MatchHit] = []
        for key, watchers, terms in self.match_groups(paper):
            self._hits(key, watchers, terms, hits)
        return hits

    def stats(self) -> dict[str, int]:
        """Sizes of the index, for logs and the benchmark."""
        return {
            "watches": len(self._watches), "boolean_queries": len(self._group_query),
            "words": len(self._vocab),
            "prefixes": len(self._prefixes), "phrases": len(self._terminal),
            "trie_edges": len(self._edges), "forms": len(self._forms),
            "authors_categories": len(self._other),
        }


# --- one query at a time: the /watch preview and daily topics -----------------------


def matching_papers(query: Query, papers: Iterable[Paper],
                    texts: Iterable[str] | None = None, prefilter: bool = True) -> list[Paper]:
    """The papers one query matches, on an index of its own: safe in a worker thread.

    texts: each paper's `prefilter.paper_text`, in the same order, when the caller keeps
    them (the /watch preview); otherwise they are computed here. A paper whose text lacks
    what any match needs is rejected before the full match (bot.watching.prefilter);
    prefilter=False skips that (for benches and tests that compare the two).
    """
    index = WatchIndex(hit_cache=0)
    index.add(0, query)
    condition = Prefilter.of(index) if prefilter else None
    if condition is None:
        return [paper for paper in papers if index.match_groups(paper)]
    admits = condition.admits
    if texts is None:
        return [paper for paper in papers
                if admits(paper_text(paper)) and index.match_groups(paper)]
    return [paper for paper, text in zip(papers, texts, strict=True)
            if admits(text) and index.match_groups(paper)]
