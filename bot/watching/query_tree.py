"""The watch language's query tree, its canonical form, and QueryError.

`bot.watching.query.parse` builds these trees (through `query_lex` and `query_parse`); the
matching engine compiles them (`to_nnf` first). A Query is the text as typed and its tree;
`canonical` gives one string per meaning, to spot two watches that find the same papers.
Import these names from `bot.watching.query`, which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass


class QueryError(ValueError):
    """A query that cannot be stored: what is wrong, where (0-based), and a hint."""

    def __init__(self, message: str, position: int | None = None, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.hint = hint

    def describe(self) -> str:
        where = f" (at character {self.position + 1})" if self.position is not None else ""
        hint = f" {self.hint}" if self.hint else ""
        return f"{self.message}{where}.{hint}"


# --- the tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class Phrase:
    """Consecutive normalized words in one field.

    field is "any" (title, abstract and keywords), "title", "abstract" or "author" (the
    words in order within one author's name). prefix: the last word matches any word
    that starts with it.
    """

    words: tuple[str, ...]
    field: str = "any"
    prefix: bool = False

    @property
    def display(self) -> str:
        return " ".join(self.words) + ("*" if self.prefix else "")


@dataclass(frozen=True)
class Category:
    """An arXiv category, case-folded: exact ("cs.lg") or a whole archive ("cs")."""

    value: str
    archive: bool = False

    @property
    def display(self) -> str:
        return self.value


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


Node = Phrase | Category | Not | And | Or


@dataclass(frozen=True)
class Query:
    """A parsed watch: the text as typed (stripped) and its tree."""

    text: str
    tree: Node

    def __str__(self) -> str:
        return self.text


def iter_terms(node: Node, positive: bool = True):
    """Yield (term, positive) for every Phrase and Category, left to right."""
    if isinstance(node, (Phrase, Category)):
        yield node, positive
    elif isinstance(node, Not):
        yield from iter_terms(node.child, not positive)
    else:
        for child in node.children:
            yield from iter_terms(child, positive)


def to_nnf(node: Node, negate: bool = False) -> Node:
    """The same condition with NOT pushed down to the terms and nested AND/OR flattened."""
    if isinstance(node, Not):
        return to_nnf(node.child, not negate)
    if isinstance(node, (Phrase, Category)):
        return Not(node) if negate else node
    kind = (Or if isinstance(node, And) else And) if negate else type(node)
    children: list[Node] = []
    for child in node.children:
        converted = to_nnf(child, negate)
        if isinstance(converted, kind):
            children.extend(converted.children)
        else:
            children.append(converted)
    return kind(tuple(children))


def canonical(node: Node) -> str:
    """One string per meaning, as the matcher sees it: two watches with the same canonical
    form find the same papers. A phrase's words are joined ("re-ranking", "re ranking" and
    "reranking" are one compound for the matcher), NOT is pushed down to the terms, and
    AND/OR children are sorted (their order does not matter)."""
    return _canonical(to_nnf(node))


def _canonical(node: Node) -> str:
    if isinstance(node, Phrase):
        return f"{node.field}:{''.join(node.words)}{'*' if node.prefix else ''}"
    if isinstance(node, Category):
        return f"cat:{node.value}{'.*' if node.archive else ''}"
    if isinstance(node, Not):
        return f"-{_canonical(node.child)}"
    children = sorted(dict.fromkeys(_canonical(c) for c in node.children))
    if len(children) == 1:
        return children[0]
    joiner = " AND " if isinstance(node, And) else " OR "
    return "(" + joiner.join(children) + ")"
