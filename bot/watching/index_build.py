"""Adding and removing watches in the matching engine: symbols, the word trie, leaves.

Internal to the engine (`bot.watching.matching.WatchIndex`, which adds the public
interface). Every distinct normalized word of any watch gets a symbol (a trailing * word a
prefix symbol); each distinct phrase is a path of symbols in the trie, stored once however
many watches use it, with refcounts so that /watch and /unwatch change it in place
(O(phrase length), no rebuild). A query compiles to leaf ids (phrases per field, authors,
categories) in nested tuples; authors and categories are filed in exact-key tables beside
the trie. `_cost` rates how rare a leaf is, for choosing the trigger set of a boolean watch.
"""
from __future__ import annotations

from bot.watching.index_tables import (
    _AND,
    _ANY,
    _CODE_OF_FIELD,
    _LOW,
    _OR,
    _OTHER,
    _SHIFT,
    Compiled,
    IndexTables,
    _add_member,
    _incr,
    _remove_member,
)
from bot.watching.query import And, Category, Node, Not, Phrase
from bot.watching.text import related_forms


class IndexBuilder(IndexTables):
    """The part of WatchIndex that changes the index: acquire and release its parts."""

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
