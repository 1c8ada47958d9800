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
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.watching.text import normalize_words

__all__ = [
    "MAX_QUERY_CHARS", "MAX_TERMS", "And", "Category", "Node", "Not", "Or", "Phrase", "Query",
    "QueryError", "canonical", "iter_terms", "normalize_words", "parse", "to_nnf",
]

MAX_QUERY_CHARS = 200
MAX_TERMS = 20
MIN_PREFIX_CHARS = 3

FIELDS = {
    "ti": "title", "title": "title",
    "abs": "abstract", "abstract": "abstract",
    "au": "author", "author": "author",
    "cat": "category", "category": "category",
}
_EXAMPLE = "e.g. /watch federated learning"
_FIELD_HINT = "Use ti: (title), abs: (abstract), au: (author) or cat: (arXiv category)."


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


# --- lexing ---------------------------------------------------------------------------

_QUOTES = "\"“”„‟«»"
_TOKEN = re.compile(
    rf"(?P<space>\s+)|(?P<paren>[()])|(?P<quote>[{_QUOTES}][^{_QUOTES}]*[{_QUOTES}]?)"
    rf"|(?P<chunk>[^\s(){_QUOTES}]+)"
)
_FIELD = re.compile(r"([A-Za-z]+):")
_OPERATORS = ("AND", "OR", "NOT")
_CATEGORY = re.compile(r"[a-z][a-z-]*(\.([a-z][a-z-]*|\*))?")
# Printable ASCII without the syntax characters " ( ) * : and with no chunk starting with
# '-': a single phrase, parsed without the lexer (operator words are checked apart).
_FIRST = r"[\x21\x23-\x27\x2b\x2c\x2e-\x39\x3b-\x7e]"  # not a space, '-' or " ( ) * :
_REST = r"[\x21\x23-\x27\x2b-\x39\x3b-\x7e]*"  # '-' allowed inside a chunk
_SIMPLE = re.compile(f"{_FIRST}{_REST}(?: +{_FIRST}{_REST})*")
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass
class _Tok:
    kind: str  # word, quoted, (, ), AND, OR, NOT, neg, field
    text: str
    pos: int


def _lex(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    for m in _TOKEN.finditer(text):
        kind, value, pos = m.lastgroup, m.group(), m.start()
        if kind == "space":
            continue
        if kind == "paren":
            tokens.append(_Tok(value, value, pos))
        elif kind == "quote":
            if len(value) < 2 or value[-1] not in _QUOTES:
                raise QueryError("Unbalanced quote", pos, "Close the quote or remove it.")
            tokens.append(_Tok("quoted", value[1:-1], pos))
        else:
            end = m.end()
            glued = end < len(text) and not text[end].isspace()
            _lex_chunk(value, pos, glued, tokens)
    return tokens


def _lex_chunk(chunk: str, pos: int, glued: bool, out: list[_Tok]) -> None:
    """Split a chunk into exclusion signs, a field prefix and the word itself.

    glued: the chunk is directly followed by a quote or a parenthesis (no space).
    """
    if chunk in _OPERATORS:
        out.append(_Tok(chunk, chunk, pos))
        return
    if chunk.startswith("-") and not normalize_words(chunk) and not glued:
        raise QueryError("A lone '-'", pos,
                         "Write -word with no space to exclude a word, e.g. -survey.")
    if chunk.startswith("-"):
        if chunk.startswith("--"):
            raise QueryError("Two '-' in a row", pos, "Use a single - to exclude, e.g. -survey.")
        out.append(_Tok("neg", "-", pos))
        if len(chunk) > 1:
            _lex_chunk(chunk[1:], pos + 1, glued, out)
        return
    m = _FIELD.match(chunk)
    if m:
        name = m.group(1).lower()
        rest = chunk[m.end():]
        if name in FIELDS:
            out.append(_Tok("field", FIELDS[name], pos))
            if rest:
                _lex_chunk(rest, pos + m.end(), glued, out)
            return
        if rest or glued:
            raise QueryError(f"Unknown field '{m.group(1)}:'", pos, _FIELD_HINT)
    out.append(_Tok("word", chunk, pos))


# --- parsing --------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the tokens: or_expr := and_expr (OR and_expr)*, and so on."""

    def __init__(self, text: str, tokens: list[_Tok]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0
        # id(node) -> (node, position): where each node starts, for error reports. The node
        # is kept so that its id cannot be reused while parsing.
        self._starts: dict[int, tuple[Node, int]] = {}
        self.raw: dict[int, str] = {}  # id(phrase) -> the one chunk it came from (for cat:)

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def mark(self, node: Node, pos: int) -> Node:
        self._starts[id(node)] = (node, pos)
        return node

    def start(self, node: Node, default: int = -1) -> int:
        entry = self._starts.get(id(node))
        return entry[1] if entry else default

    def parse(self) -> Node:
        node = self.or_expr()
        tok = self.peek()
        if tok is not None:  # only a stray ')' can stop or_expr early
            raise QueryError("Unbalanced parenthesis: ')' without '('", tok.pos,
                             "Remove it or add a '(' before it.")
        return node

    def or_expr(self) -> Node:
        start = self.peek()
        children = [self.and_expr()]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            self.require_operand(tok)
            children.append(self.and_expr())
        if len(children) == 1:
            return children[0]
        return self.mark(Or(tuple(children)), start.pos if start else 0)

    def and_expr(self) -> Node:
        start = self.peek()
        children = [self.unary()]
        while (tok := self.peek()) is not None and tok.kind not in ("OR", ")"):
            if tok.kind == "AND":
                self.take()
                self.require_operand(tok)
            children.append(self.unary())
        kept = [child for child in children if child is not None]
        if not kept:
            raise QueryError("This part has no letters or digits", start.pos if start else None,
                             "Type words to look for.")
        if len(kept) == 1:
            return kept[0]
        return self.mark(And(tuple(kept)), start.pos if start else 0)

    def require_operand(self, op: _Tok) -> None:
        tok = self.peek()
        if tok is None or tok.kind in ("AND", "OR", ")"):
            raise QueryError(f"{op.kind} needs a term on both sides", op.pos,
                             f"Write it between two terms, e.g. a {op.kind} b.")

    def unary(self) -> Node | None:
        """One term, possibly negated or fielded; None for a run of symbols without words."""
        tok = self.peek()
        if tok is None:
            raise QueryError("The query ends too early", len(self.text), "Finish the query.")
        if tok.kind in ("AND", "OR"):
            raise QueryError(f"{tok.kind} needs a term on both sides", tok.pos,
                             f"Write it between two terms, e.g. a {tok.kind} b.")
        if tok.kind in ("NOT", "neg"):
            self.take()
            nxt = self.peek()
            name = "NOT" if tok.kind == "NOT" else "'-'"
            if nxt is None or nxt.kind in ("AND", "OR", ")"):
                raise QueryError(f"{name} needs a term after it", tok.pos,
                                 "Write the word to exclude right after it, e.g. -survey.")
            child = self.unary()
            if child is None:
                raise QueryError(f"{name} needs a term after it", tok.pos,
                                 "Write the word to exclude right after it, e.g. -survey.")
            return self.mark(Not(child), tok.pos)
        if tok.kind == "field":
            return self.fielded()
        return self.primary()

    def fielded(self) -> Node:
        tok = self.take()
        nxt = self.peek()
        name = _short(tok.text)
        example = "E.g. cat:cs.LG." if name == "cat" else f"E.g. {name}:diffusion."
        if nxt is None or nxt.kind in ("AND", "OR", ")"):
            raise QueryError(f"{name}: needs a term after it", tok.pos, example)
        if nxt.kind in ("neg", "NOT", "field"):
            raise QueryError(f"{name}: must be followed by words, a quoted phrase "
                             "or parentheses", nxt.pos,
                             "Put a - before the field to exclude, e.g. -ti:survey.")
        if tok.text == "category" and nxt.kind in ("word", "quoted"):
            self.take()
            return self.mark(_category(nxt.text.strip(), nxt.pos), tok.pos)
        node = self.primary()
        if node is None:
            raise QueryError(f"{name}: needs a term after it", tok.pos, example)
        return self.mark(self.apply_field(node, tok), tok.pos)

    def apply_field(self, node: Node, field_tok: _Tok) -> Node:
        pos = self.start(node, field_tok.pos)
        if isinstance(node, Phrase):
            if node.field != "any":
                raise QueryError("Fields cannot be nested", pos, "Give each term one field.")
            if field_tok.text == "category":
                raw = self.raw.get(id(node))
                if raw is None:
                    raise QueryError("cat: takes one arXiv category per term", pos,
                                     "Join several with OR, e.g. cat:cs.LG OR cat:stat.ML.")
                return self.mark(_category(raw, pos), pos)
            return self.mark(Phrase(node.words, field_tok.text, node.prefix), pos)
        if isinstance(node, Category):
            raise QueryError("Fields cannot be nested", pos, "Give each term one field.")
        if isinstance(node, Not):
            return self.mark(Not(self.apply_field(node.child, field_tok)), pos)
        kids = tuple(self.apply_field(child, field_tok) for child in node.children)
        return self.mark(type(node)(kids), pos)

    def primary(self) -> Node | None:
        tok = self.peek()
        assert tok is not None
        if tok.kind == "(":
            self.take()
            nxt = self.peek()
            if nxt is None:
                raise QueryError("Unbalanced parenthesis: '(' is never closed", tok.pos,
                                 "Close it with ')' or remove it.")
            if nxt.kind == ")":
                raise QueryError("Empty parentheses", tok.pos, "Put words inside or remove them.")
            node = self.or_expr()
            close = self.peek()
            if close is None or close.kind != ")":
                raise QueryError("Unbalanced parenthesis: '(' is never closed", tok.pos,
                                 "Close it with ')' or remove it.")
            self.take()
            if self.start(node) < 0:
                self.mark(node, tok.pos)
            return node
        if tok.kind == ")":
            raise QueryError("Unbalanced parenthesis: ')' without '('", tok.pos,
                             "Remove it or add a '(' before it.")
        if tok.kind == "quoted":
            self.take()
            parts = [(m.group(), tok.pos + 1 + m.start()) for m in re.finditer(r"\S+", tok.text)]
            phrase = _phrase(parts)
            if phrase is None:
                raise QueryError("The quoted phrase has no letters or digits", tok.pos,
                                 "Put words between the quotes.")
            if len(parts) == 1:
                self.raw[id(phrase)] = parts[0][0]
            return self.mark(phrase, tok.pos)
        run: list[_Tok] = []
        while (t := self.peek()) is not None and t.kind == "word":
            run.append(self.take())
        if not run:  # defensive: unary() routes every other kind elsewhere
            raise QueryError("Unexpected text", tok.pos, "Check the query syntax.")
        phrase = _phrase([(t.text, t.pos) for t in run])
        if phrase is None:  # decoration such as emoji between terms: ignored
            return None
        if len(run) == 1:
            self.raw[id(phrase)] = run[0].text
        return self.mark(phrase, run[0].pos)


def _short(field: str) -> str:
    return {"title": "ti", "abstract": "abs", "author": "au", "category": "cat"}[field]


def _phrase(chunks: list[tuple[str, int]]) -> Phrase | None:
    """Normalize a run of (chunk, position) into one phrase; a trailing * marks a prefix."""
    words: list[str] = []
    prefix = False
    star_at = 0
    for chunk, chunk_pos in chunks:
        chunk = chunk.rstrip(",;:.!?")
        if prefix and normalize_words(chunk):
            raise QueryError("A * can only end the last word of a phrase", star_at,
                             "Move the * to the last word, or split the phrase.")
        stripped = chunk.rstrip("*")
        if stripped != chunk and stripped:
            tail = normalize_words(stripped[-1])
            chunk_words = normalize_words(stripped)
            if not tail or not chunk_words:
                raise QueryError("A * must directly follow a word", chunk_pos + len(stripped),
                                 "Write it right after the letters, e.g. quantiz*.")
            if len(chunk_words[-1]) < MIN_PREFIX_CHARS:
                raise QueryError(f"A * needs at least {MIN_PREFIX_CHARS} letters before it",
                                 chunk_pos + len(stripped),
                                 "Write more of the word, e.g. quantiz*.")
            prefix = True
            star_at = chunk_pos + len(stripped)
        words.extend(normalize_words(stripped))
    if not words:
        return None
    return Phrase(tuple(words), "any", prefix)


def _category(raw: str, pos: int) -> Category:
    value = raw.strip(",;").casefold()
    if not _CATEGORY.fullmatch(value):
        raise QueryError(f"'{raw}' is not an arXiv category", pos,
                         "Write it like cat:cs.LG, or cat:cs for every cs category.")
    if value.endswith(".*"):
        return Category(value[:-2], archive=True)
    return Category(value, archive="." not in value)


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


def _count_terms(node: Node, parser: _Parser) -> None:
    count = 0
    for term, _ in iter_terms(node):
        count += _term_size(term)
        if count > MAX_TERMS:
            total = sum(_term_size(t) for t, _ in iter_terms(node))
            where = parser.start(term)
            raise QueryError(f"The query has {total} words; the limit is {MAX_TERMS}",
                             where if where >= 0 else None, "Use fewer, more specific words.")


def _excluding_part(node: Node, positive: bool, parser: _Parser) -> int | None:
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
    tokens = _lex(text)
    has_words = any(t.kind in ("word", "quoted") and normalize_words(t.text) for t in tokens)
    if not has_words and all(t.kind in ("word", "quoted", "(", ")") for t in tokens):
        raise QueryError("The query has no letters or digits", None,
                         f"Type the words to watch for, {_EXAMPLE}.")
    parser = _Parser(text, tokens)
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


_OPERATORS_SET = frozenset(_OPERATORS)
