"""The matching engine's tables: integer encodings, member lists and the hit cache.

Internal to the engine (`bot.watching.matching.WatchIndex`). Everything the index holds is a
plain dict, set or array keyed by integers; `IndexTables` declares it all, empty, and the
other parts of the engine build on it: `index_build` (adding and removing watches: symbols,
the word trie, leaves), `index_scan` (finding the phrases, authors and categories of one
paper) and `index_boolean` (trigger sets and the evaluation of boolean watches).

Encodings: a text leaf is (trie state << 2 | code), code 0 any field, 1 title, 2 abstract;
code 3 marks author/category leaves. A trie edge key is (parent state << 32 | symbol).
Member lists (the watches of a leaf, the groups a leaf triggers) are one int, a list, or a
set once long. MatchHit objects made for a key are kept for reuse while its terms are the
same (bounded).
"""
from __future__ import annotations

from array import array
from collections.abc import Callable

from bot.types import MatchHit

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
Members = int | list[int] | set[int]
# The watches that hit a paper the same way: (leaf id, or ~group id for a boolean query;
# the member list of its watches, as the index holds it; the terms found)
Group = tuple[int, Members, Terms]


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


class IndexTables:
    """Every table of the index, empty, and the cache of MatchHit objects."""

    _display: _Display  # state -> the phrase text (made by WatchIndex, from the trie)
    _cache: _SymbolCache  # token -> its symbols (made by WatchIndex, from the words)

    def __init__(self, hit_cache: int) -> None:
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
        self._starters: set[str] = set()  # tokens with an edge from the root, among cached
        self._stale = False

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
