"""Boolean watches in the matching engine: trigger sets and evaluation.

Internal to the engine (`bot.watching.matching.WatchIndex`). A boolean watch is registered
under a "trigger" set of its positive leaves, at least one of which must be present for the
query to hold, and is evaluated only when one of them is found in a paper; `explain` then
says whether the compiled query holds and with which terms, looking leaves up in a `_Truth`
table that computes text leaves on demand from the phrases found.
"""
from __future__ import annotations

from collections.abc import Callable

from bot.watching.index_tables import _AND, _MASK_OF_CODE, _NAMES_OF, _OTHER, Compiled, Terms


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
