"""The matching engine: every watch in one index, each paper scanned once against all.

Design (measured and argued in the README): a word trie over all watch phrases, held in
plain dicts keyed by integers, in pure Python.

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
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from bot.types import MatchHit, Paper
from bot.watching.highlight import author_has
from bot.watching.query import And, Category, Node, Not, Phrase, Query, to_nnf
from bot.watching.text import normalize_words, related_forms

_TITLE, _ABSTRACT, _KEYWORDS = 1, 2, 4
_FIELD_NAMES = ((_TITLE, "title"), (_ABSTRACT, "abstract"), (_KEYWORDS, "keywords"))
_NAMES_OF = tuple(tuple(name for bit, name in _FIELD_NAMES if mask & bit) for mask in range(8))
# Text leaves are identified by (trie state << 2 | code); code 3 marks author/category leaves.
_CODE_OF_FIELD = {"any": 0, "title": 1, "abstract": 2}
_MASK_OF_CODE = (_TITLE | _ABSTRACT | _KEYWORDS, _TITLE, _ABSTRACT)
_CODES_IN = tuple(tuple(c for c in range(3) if bits & (1 << c)) for bits in range(8))
_OTHER = 3
_SHIFT = 32  # trie edge key: parent state << _SHIFT | symbol
_LOW = (1 << _SHIFT) - 1
_AND, _OR, _ANY = 0, 1, 2  # _ANY: an OR of positive leaves only (the common boolean watch)
_BIG_LIST = 64  # watcher lists longer than this become sets (O(1) removal)

Terms = tuple[tuple[str, str], ...]
Compiled = int | tuple  # leaf id, ~leaf id (negated), or (_AND | _OR | _ANY, *children)


def _add_member(table: dict, key: int, member: int) -> None:
    """Members are one int (most keys have one), a list, or a set once the list is long."""
    members = table.get(key)
    if members is None:
        table[key] = member
    elif members.__class__ is int:
        table[key] = [members, member]
    elif members.__class__ is list:
        members.append(member)
        if len(members) > _BIG_LIST:
            table[key] = set(members)
    else:
        members.add(member)


def _remove_member(table: dict, key: int, member: int) -> None:
    members = table.get(key)
    if members is None:
        return
    if members.__class__ is int:
        if members == member:
            del table[key]
        return
    if member in members:
        members.remove(member)
    if len(members) == 1:
        table[key] = next(iter(members))
    elif not members:
        del table[key]


def _incr(table: dict, key, by: int = 1) -> int:
    value = table.get(key, 0) + by
    if value:
        table[key] = value
    else:
        table.pop(key, None)
    return value


@contextmanager
def _collector_paused() -> Iterator[None]:
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


class _Display(dict):
    """state -> the phrase text, rebuilt from the trie path when asked (bounded cache)."""

    def __init__(self, compute: Callable[[int], str]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, state: int) -> str:
        if len(self) > 200_000:
            self.clear()
        text = self[state] = self._compute(state)
        return text


class _SymbolCache(dict):
    """token -> the symbols it can stand for; filled on first sight of each token."""

    def __init__(self, compute: Callable[[str], tuple[int, ...]]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, token: str) -> tuple[int, ...]:
        value = self._compute(token)
        if len(self) < 500_000:
            self[token] = value
        return value


class WatchIndex:
    """All active watches, by id; match() says which watches a paper hits and why."""

    def __init__(self, hit_cache: int = 500_000) -> None:
        """hit_cache: how many MatchHit objects to keep for reuse (about 100 bytes each)."""
        self._hit_cache: dict[int, tuple[Terms, list[MatchHit]]] = {}
        self._hit_cache_size = hit_cache
        self._cached_hits = 0
        # symbols: query words and prefix words
        self._vocab: dict[str, int] = {}
        self._prefixes: dict[str, int] = {}
        self._symbol_text: dict[int, str] = {}
        self._symbol_refs: dict[int, int] = {}
        self._is_prefix: set[int] = set()
        self._next_symbol = 1
        self._forms: dict[str, tuple[int, ...]] = {}  # any form of a word -> its symbols
        self._prefix_lengths: dict[int, int] = {}  # length -> how many prefixes have it
        self._prefix_lengths_sorted: tuple[int, ...] = ()
        # Proper beginnings of prefix words -> the characters that follow them there.
        self._prefix_heads: dict[str, dict[str, int]] = {}
        # trie
        self._edges: dict[int, int] = {}
        self._inner: dict[int, int] = {}  # state -> number of child edges
        self._parent_key = array("q", [0])  # state -> key of the edge leading to it
        self._refs = array("q", [0])  # state -> phrases through it
        self._free: list[int] = []
        # state -> (phrases ending there << 3) | a bit per leaf code with watchers
        self._terminal: dict[int, int] = {}
        self._display = _Display(self._phrase_text)  # state -> the phrase, as in terms
        # leaves and watches
        self._simple: dict[int, int | list[int] | set[int]] = {}  # leaf -> its watches
        self._trigger: dict[int, int | list[int] | set[int]] = {}  # leaf -> boolean groups
        # Boolean watches with the same compiled query form one group, evaluated once.
        self._groups: dict[Compiled, int] = {}
        self._group_query: dict[int, Compiled] = {}
        self._group_watchers: dict[int, int | list[int] | set[int]] = {}
        self._next_group = 0
        self._watches: dict[int, int] = {}  # watch -> its leaf, or ~group if boolean
        # authors and categories
        self._other_ids: dict[tuple, int] = {}
        self._other: dict[int, tuple] = {}  # leaf id -> key
        self._other_refs: dict[int, int] = {}
        self._next_other = 1
        # au: leaves by exact keys: one word; "first last" of several (any words between);
        # the first word when the last is a prefix; a lone prefix by itself.
        self._author_word: dict[str, list[int]] = {}
        self._author_pair: dict[str, list[int]] = {}
        self._author_first: dict[str, list[int]] = {}
        self._author_prefix: dict[str, list[int]] = {}
        self._author_prefix_lengths: dict[int, int] = {}
        self._cat_exact: dict[str, list[int]] = {}
        self._cat_archive: dict[str, list[int]] = {}
        self._names: dict[str, list[str]] = {}
        self._cache = _SymbolCache(self._symbols_for)
        self._starters: set[str] = set()  # tokens with an edge from the root, among cached
        self._stale = False

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
        with _collector_paused():
            return self._match(paper)

    def match_many(self, papers: Iterable[Paper]) -> dict[str, list[MatchHit]]:
        """paper id -> hits, for the papers with at least one hit."""
        out: dict[str, list[MatchHit]] = {}
        with _collector_paused():
            for paper in papers:
                hits = self._match(paper)
                if hits:
                    out[paper.id] = hits
        return out

    def _match(self, paper: Paper) -> list[MatchHit]:
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
        hits: list[MatchHit] = []
        candidates: set[int] = set()
        truth = _Truth(found, self._display)
        truth.update(other)
        self._collect_text(found, hits, candidates, truth)
        for leaf, terms in other.items():
            self._collect_leaf(leaf, terms, hits, candidates)
        if candidates:
            queries = self._group_query
            watchers = self._group_watchers
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
                    self._hits(~group, watchers[group], terms, hits)
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

    # --- symbols ----------------------------------------------------------------------

    def _new_symbol(self, text: str) -> int:
        symbol = self._next_symbol
        self._next_symbol += 1
        self._symbol_text[symbol] = text
        self._stale = True  # cached token symbols may now miss this word
        return symbol

    def _acquire_word(self, word: str) -> int:
        symbol = self._vocab.get(word)
        if symbol is None:
            symbol = self._vocab[word] = self._new_symbol(word)
            self._symbol_refs[symbol] = 1
            for form in related_forms(word):
                self._forms[form] = self._forms.get(form, ()) + (symbol,)
        else:
            self._symbol_refs[symbol] += 1
        return symbol

    def _acquire_prefix(self, prefix: str) -> int:
        symbol = self._prefixes.get(prefix)
        if symbol is None:
            symbol = self._prefixes[prefix] = self._new_symbol(prefix)
            self._is_prefix.add(symbol)
            _incr(self._prefix_lengths, len(prefix))
            self._prefix_lengths_sorted = tuple(sorted(self._prefix_lengths))
            for end in range(1, len(prefix)):
                _incr(self._prefix_heads.setdefault(prefix[:end], {}), prefix[end])
        self._symbol_refs[symbol] = self._symbol_refs.get(symbol, 0) + 1
        return symbol

    def _release_symbol(self, symbol: int) -> None:
        if _incr(self._symbol_refs, symbol, -1):
            return
        # Symbols are never reused, so stale cache entries for this one only cost a lookup.
        text = self._symbol_text.pop(symbol)
        if symbol in self._is_prefix:
            self._is_prefix.discard(symbol)
            del self._prefixes[text]
            _incr(self._prefix_lengths, len(text), -1)
            self._prefix_lengths_sorted = tuple(sorted(self._prefix_lengths))
            for end in range(1, len(text)):
                following = self._prefix_heads[text[:end]]
                _incr(following, text[end], -1)
                if not following:
                    del self._prefix_heads[text[:end]]
            return
        del self._vocab[text]
        for form in related_forms(text):
            rest = tuple(s for s in self._forms.get(form, ()) if s != symbol)
            if rest:
                self._forms[form] = rest
            else:
                self._forms.pop(form, None)

    def _symbols_for(self, token: str) -> tuple[int, ...]:
        """Every symbol a text token stands for: words, prefixes, joined word pairs."""
        symbols = list(self._forms.get(token, ()))
        for length in self._prefix_lengths_sorted:
            if length > len(token):
                break
            symbol = self._prefixes.get(token[:length])
            if symbol is not None:
                symbols.append(symbol)
        vocab = self._vocab
        for form in related_forms(token):
            for cut in range(1, len(form)):
                first = vocab.get(form[:cut])
                if first is not None:
                    second = vocab.get(form[cut:])
                    if second is not None:
                        symbols.append(-(first << _SHIFT | second))
        edges = self._edges
        if any((s if s > 0 else -s >> _SHIFT) in edges for s in symbols):
            self._starters.add(token)  # a phrase can start at this token
        return tuple(symbols)

    # --- the trie ---------------------------------------------------------------------

    def _insert(self, symbols: list[int]) -> int:
        edges, refs = self._edges, self._refs
        state = 0
        for symbol in symbols:
            key = state << _SHIFT | symbol
            child = edges.get(key)
            if child is None:
                child = edges[key] = self._new_state(key)
                self._inner[state] = self._inner.get(state, 0) + 1
                if not state:
                    self._stale = True  # a token may now start a phrase
            refs[child] += 1
            state = child
        self._terminal[state] = self._terminal.get(state, 0) + 8
        return state

    def _phrase_text(self, state: int) -> str:
        """The words on the path to a state, as Phrase.display writes them."""
        words = []
        while state:
            key = self._parent_key[state]
            symbol = key & _LOW
            text = self._symbol_text[symbol]
            words.append(text + "*" if symbol in self._is_prefix else text)
            state = key >> _SHIFT
        return " ".join(reversed(words))

    def _new_state(self, key: int) -> int:
        if self._free:
            state = self._free.pop()
            self._parent_key[state] = key
            self._refs[state] = 0
            return state
        self._parent_key.append(key)
        self._refs.append(0)
        return len(self._refs) - 1

    def _delete_path(self, state: int) -> None:
        ends = self._terminal[state] - 8
        if ends >> 3:
            self._terminal[state] = ends
        else:  # its leaves were unregistered first, so no code bits are left
            del self._terminal[state]
            self._display.pop(state, None)
        while state:
            key = self._parent_key[state]
            parent = key >> _SHIFT
            self._refs[state] -= 1
            if not self._refs[state]:
                del self._edges[key]
                _incr(self._inner, parent, -1)
                self._free.append(state)
            self._release_symbol(key & ((1 << _SHIFT) - 1))
            state = parent

    # --- leaves -----------------------------------------------------------------------

    def _compile(self, node: Node) -> Compiled:
        """NNF tree -> leaf ids and tuples, acquiring every leaf."""
        if isinstance(node, Phrase | Category):
            return self._acquire_leaf(node)
        if isinstance(node, Not):
            assert isinstance(node.child, Phrase | Category)  # NNF: NOT only over a leaf
            return ~self._acquire_leaf(node.child)
        children = tuple(self._compile(child) for child in node.children)
        if isinstance(node, And):
            return (_AND, *children)
        if all(c.__class__ is int and c >= 0 for c in children):
            return (_ANY, *children)
        return (_OR, *children)

    def _release(self, compiled: Compiled) -> None:
        if isinstance(compiled, int):
            self._release_leaf(compiled if compiled >= 0 else ~compiled)
        else:
            for child in compiled[1:]:
                self._release(child)

    def _acquire_leaf(self, term: Phrase | Category) -> int:
        if term.__class__ is Phrase and term.field != "author":
            words = term.words
            symbols = [self._acquire_word(w) for w in words[:-1]]
            last = self._acquire_prefix(words[-1]) if term.prefix else self._acquire_word(words[-1])
            symbols.append(last)
            state = self._insert(symbols)
            return state << 2 | _CODE_OF_FIELD[term.field]
        key = (("au", term.words, term.prefix) if isinstance(term, Phrase)
               else ("cat", term.value, term.archive))
        leaf = self._other_ids.get(key)
        if leaf is None:
            leaf = self._other_ids[key] = self._next_other << 2 | _OTHER
            self._next_other += 1
            self._other[leaf] = key
            self._file_other(leaf, key, add=True)
        self._other_refs[leaf] = self._other_refs.get(leaf, 0) + 1
        return leaf

    def _release_leaf(self, leaf: int) -> None:
        if leaf & 3 != _OTHER:
            self._delete_path(leaf >> 2)
            return
        if _incr(self._other_refs, leaf, -1):
            return
        key = self._other.pop(leaf)
        del self._other_ids[key]
        self._file_other(leaf, key, add=False)

    def _file_other(self, leaf: int, key: tuple, add: bool) -> None:
        """Add or remove an author/category leaf in its exact-key table."""
        kind, value, flag = key
        if kind == "cat":
            table, anchor = (self._cat_archive if flag else self._cat_exact), value
        elif len(value) == 1 and flag:  # a lone prefix: au:schmid*
            table, anchor = self._author_prefix, value[0]
            _incr(self._author_prefix_lengths, len(anchor), 1 if add else -1)
        elif len(value) == 1:
            table, anchor = self._author_word, value[0]
        elif flag:
            table, anchor = self._author_first, value[0]
        else:
            table, anchor = self._author_pair, f"{value[0]} {value[-1]}"
        if add:
            table.setdefault(anchor, []).append(leaf)
        else:
            table[anchor].remove(leaf)
            if not table[anchor]:
                del table[anchor]

    def _cost(self, leaf: int) -> float:
        """Rough chance that a leaf is present in a paper: triggers should be rare."""
        if leaf & 3 == _OTHER:
            kind, value, flag = self._other[leaf]
            if kind == "au":
                return 0.001
            return 0.5 if flag else 0.1
        state = leaf >> 2
        depth = 0
        while state:
            depth += 1
            state = self._parent_key[state] >> _SHIFT
        return (0.05 if leaf & 3 == 0 else 0.02) / depth

    def _register(self, table: dict, leaf: int, watch_id: int) -> None:
        _add_member(table, leaf, watch_id)
        if table is self._simple:
            self._forget_hits(leaf)
        if leaf & 3 != _OTHER:
            self._terminal[leaf >> 2] |= 1 << (leaf & 3)

    def _unregister(self, table: dict, leaf: int, watch_id: int) -> None:
        _remove_member(table, leaf, watch_id)
        if table is self._simple:
            self._forget_hits(leaf)
        if leaf & 3 != _OTHER and leaf not in self._simple and leaf not in self._trigger:
            self._terminal[leaf >> 2] &= ~(1 << (leaf & 3))

    # --- matching ---------------------------------------------------------------------

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

    def _collect_text(self, found: dict[int, int], hits: list[MatchHit],
                      candidates: set[int], truth: dict[int, Terms | None]) -> None:
        """Hits of single-term watches on the phrases found; boolean ones to evaluate."""
        terminal = self._terminal
        simple_get = self._simple.get
        trigger_get = self._trigger.get
        display = self._display
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
                    self._hits(leaf, watchers, terms, hits)
                triggered = trigger_get(leaf)
                if triggered is not None:
                    if isinstance(triggered, int):
                        candidates.add(triggered)
                    else:
                        candidates.update(triggered)

    def _collect_leaf(self, leaf: int, terms: Terms, hits: list[MatchHit],
                      candidates: set[int]) -> None:
        """Hits of single-term watches on an author/category leaf; groups to evaluate."""
        watchers = self._simple.get(leaf)
        if watchers is not None:
            self._hits(leaf, watchers, terms, hits)
        triggered = self._trigger.get(leaf)
        if triggered is not None:
            if isinstance(triggered, int):
                candidates.add(triggered)
            else:
                candidates.update(triggered)

    def _hits(self, key: int, watchers: int | list[int] | set[int], terms: Terms,
              hits: list[MatchHit]) -> None:
        """One MatchHit per watcher, reusing those made for the same terms before.

        MatchHit is immutable, so a watch that matches many papers the same way (the
        phrase in the abstract) gets one object, kept in a bounded cache.
        """
        cached = self._hit_cache.get(key)
        if cached is not None and cached[0] == terms:
            hits.extend(cached[1])
            return
        if isinstance(watchers, int):
            made = [MatchHit(watchers, terms)]
        else:
            made = [MatchHit(w, terms) for w in watchers]
        hits.extend(made)
        if cached is not None:
            self._cached_hits -= len(cached[1])
        if self._cached_hits + len(made) > self._hit_cache_size:
            self._hit_cache.clear()
            self._cached_hits = 0
            if len(made) > self._hit_cache_size:
                return
        self._hit_cache[key] = (terms, made)
        self._cached_hits += len(made)

    def _forget_hits(self, key: int) -> None:
        cached = self._hit_cache.pop(key, None)
        if cached is not None:
            self._cached_hits -= len(cached[1])

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

def _trigger_set(compiled: Compiled, cost: Callable[[int], float]) -> tuple[int, ...] | None:
    """Positive leaves of which at least one must be present whenever the query holds.

    None when the query can hold with no term present (it only excludes somewhere).
    """
    best = _triggers(compiled, cost)
    return None if best is None else tuple(dict.fromkeys(best[1]))


def _triggers(node: Compiled, cost: Callable[[int], float]) -> tuple[float, list[int]] | None:
    if isinstance(node, int):
        return (cost(node), [node]) if node >= 0 else None
    options = [_triggers(child, cost) for child in node[1:]]
    if node[0] == _AND:  # any one required child is enough: take the rarest
        present = [o for o in options if o is not None]
        return min(present, key=lambda o: o[0]) if present else None
    present = [o for o in options if o is not None]
    if len(present) < len(options):
        return None
    return (sum(o[0] for o in present), [leaf for o in present for leaf in o[1]])


class _Truth(dict):
    """leaf -> its terms if present in the paper, else None; text leaves computed on demand."""

    def __init__(self, found: dict[int, int], display: dict[int, str]) -> None:
        super().__init__()
        self._found = found
        self._display = display

    def __missing__(self, leaf: int) -> Terms | None:
        terms = None
        if leaf & 3 != _OTHER:
            state = leaf >> 2
            mask = self._found.get(state, 0) & _MASK_OF_CODE[leaf & 3]
            if mask:
                text = self._display[state]
                terms = tuple([(name, text) for name in _NAMES_OF[mask]])
        self[leaf] = terms
        return terms


def explain(node: Compiled, truth: dict[int, Terms | None]) -> list | None:
    """None if the compiled query is false; else the terms of the present positive leaves
    in the parts that make it true (AND: all children; OR: every true child)."""
    if isinstance(node, int):
        if node >= 0:
            terms = truth[node]
            return None if terms is None else list(terms)
        return [] if truth[~node] is None else None
    is_and = node[0] == _AND
    out: list = []
    any_true = False
    for child in node[1:]:
        if isinstance(child, int):
            present = truth[child if child >= 0 else ~child]
            if (present is None) == (child >= 0):  # this child is false
                if is_and:
                    return None
                continue
            if present is not None:  # a true positive child (a true negated one adds none)
                out.extend(present)
        else:
            result = explain(child, truth)
            if result is None:
                if is_and:
                    return None
                continue
            out.extend(result)
        any_true = True
    return out if is_and or any_true else None


# --- one query at a time: the /watch preview and daily topics -----------------------


def matching_papers(query: Query, papers: Iterable[Paper]) -> list[Paper]:
    """The papers one query matches, on an index of its own: safe in a worker thread."""
    index = WatchIndex(hit_cache=0)
    index.add(0, query)
    return [paper for paper in papers if index._match(paper)]
