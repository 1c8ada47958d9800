"""Scanning one paper in the matching engine: the phrases, authors and categories it has.

Internal to the engine (`bot.watching.matching.WatchIndex`, which adds the public
interface). A paper is normalized once; each text token is mapped to the symbols it can
stand for (the word itself, its singular/plural, prefix watches it starts with, two query
words it is the joined form of) through a cache. The scan walks the trie from every
position where a phrase can start, also trying each pair of adjacent tokens joined
("re-ranking" -> "reranking"). Single-term watches on the phrases found are hits at once;
boolean watches registered under a leaf found become candidates to evaluate. Authors and
categories are exact-key lookups beside the trie.
"""
from __future__ import annotations

from bot.types import Paper
from bot.watching.highlight import author_has
from bot.watching.index_tables import (
    _CODES_IN,
    _MASK_OF_CODE,
    _NAMES_OF,
    _SHIFT,
    Group,
    IndexTables,
    Terms,
)
from bot.watching.text import normalize_words


class IndexScanner(IndexTables):
    """The part of WatchIndex that reads a paper against the index (changes no watch)."""

    def _scan(self, tokens: list[str], seen: set[int]) -> None:
        """Walk the trie from every position; add every phrase (terminal state) met to seen.

        A position offers its token's symbols (one step each; a joined pair of query words
        is two edges at once) and the forms of the token joined with the next one.
        """
        n = len(tokens)
        if not n:
            return
        cache = self._cache
        steps = [cache[t] for t in tokens]
        joined = list(map(self._forms.get, map(str.__add__, tokens, tokens[1:])))
        joined.append(None)
        if self._prefix_heads:
            self._add_joined_prefixes(tokens, joined)
        # Where a phrase can start: a token with a root edge, or a pair joined into a word.
        starters = self._starters
        starts = [i for i, t in enumerate(tokens) if t in starters]
        pairs = [i for i, p in enumerate(joined) if p is not None]
        if pairs:
            starts = sorted({*starts, *pairs})
        edges_get = self._edges.get
        inner = self._inner
        terminal = self._terminal
        add = seen.add
        low = (1 << _SHIFT) - 1
        stack: list[tuple[int, int]] = []
        push = stack.append
        for i in starts:
            state, j = 0, i  # the root first, then whatever the stack holds
            while True:
                base = state << _SHIFT
                for symbol in steps[j]:
                    if symbol > 0:
                        child = edges_get(base | symbol)
                    else:  # two query words joined in this one token
                        child = edges_get(base | -symbol >> _SHIFT)
                        if child is None:
                            continue
                        child = edges_get(child << _SHIFT | (-symbol & low))
                    if child is not None:
                        if child in terminal:
                            add(child)
                        if child in inner and j + 1 < n:
                            push((child, j + 1))
                pair = joined[j]
                if pair is not None:
                    for symbol in pair:
                        child = edges_get(base | symbol)
                        if child is not None:
                            if child in terminal:
                                add(child)
                            if child in inner and j + 2 < n:
                                push((child, j + 2))
                if not stack:
                    break
                state, j = stack.pop()

    def _add_joined_prefixes(self, tokens: list[str], joined: list) -> None:
        """Prefix words that only a joined pair reaches: rerank* in "re-ranking"."""
        heads = self._prefix_heads
        prefixes = self._prefixes
        for i in [i for i, t in enumerate(tokens[:-1]) if t in heads]:
            if tokens[i + 1][0] not in heads[tokens[i]]:
                continue
            first = tokens[i]
            both = first + tokens[i + 1]
            extra = [prefixes[both[:length]] for length in self._prefix_lengths_sorted
                     if len(first) < length <= len(both) and both[:length] in prefixes]
            if extra:
                joined[i] = (joined[i] or ()) + tuple(extra)

    def _collect_text(self, found: dict[int, int], groups: list[Group],
                      candidates: set[int], truth: dict[int, Terms | None]) -> None:
        """Single-term watches on the phrases found, as groups; boolean ones to evaluate."""
        terminal = self._terminal
        simple_get = self._simple.get
        trigger_get = self._trigger.get
        display = self._display
        add_group = groups.append
        for state, mask in found.items():
            codes = terminal[state] & 7
            if not codes:
                continue
            for code in _CODES_IN[codes]:
                hit_mask = mask & _MASK_OF_CODE[code]
                if not hit_mask:
                    continue
                leaf = state << 2 | code
                text = display[state]
                terms = truth[leaf] = tuple([(name, text) for name in _NAMES_OF[hit_mask]])
                watchers = simple_get(leaf)
                if watchers is not None:
                    add_group((leaf, watchers, terms))
                triggered = trigger_get(leaf)
                if triggered is not None:
                    if isinstance(triggered, int):
                        candidates.add(triggered)
                    else:
                        candidates.update(triggered)

    def _collect_leaf(self, leaf: int, terms: Terms, groups: list[Group],
                      candidates: set[int]) -> None:
        """Single-term watches on an author/category leaf, as a group; groups to evaluate."""
        watchers = self._simple.get(leaf)
        if watchers is not None:
            groups.append((leaf, watchers, terms))
        triggered = self._trigger.get(leaf)
        if triggered is not None:
            if isinstance(triggered, int):
                candidates.add(triggered)
            else:
                candidates.update(triggered)

    def _match_other(self, paper: Paper) -> dict[int, Terms]:
        """Author and category leaves present in the paper, with their terms."""
        out: dict[int, list[tuple[str, str]]] = {}
        if self._author_word or self._author_pair or self._author_first or self._author_prefix:
            for name in paper.authors:
                for leaf in self._author_leaves(name):
                    out.setdefault(leaf, []).append(("author", name))
        for category in paper.categories:
            folded = category.casefold()
            archive = folded.split(".", 1)[0]
            leaves = [*self._cat_exact.get(folded, ()), *self._cat_archive.get(archive, ())]
            for leaf in leaves:
                out.setdefault(leaf, []).append(("category", category))
        return {leaf: tuple(dict.fromkeys(terms)) for leaf, terms in out.items()}

    def _author_leaves(self, name: str) -> set[int]:
        words = self._names.get(name)
        if words is None:
            words = normalize_words(name)
            if len(self._names) > 100_000:
                self._names.clear()
            self._names[name] = words
        found: list[int] = []
        for i, word in enumerate(words):
            found += self._author_word.get(word, ())
            if self._author_pair:
                for last in words[i + 1:]:
                    found += self._author_pair.get(f"{word} {last}", ())
            if self._author_first:
                found += self._author_first.get(word, ())
            for length in self._author_prefix_lengths:
                if length <= len(word):
                    found += self._author_prefix.get(word[:length], ())
        other = self._other
        return {leaf for leaf in found if author_has(words, other[leaf][1], other[leaf][2])}
