"""The watch language's parser: tokens -> query tree, by recursive descent.

Precedence NOT > AND > OR; a run of bare words is one phrase; a term next to a quoted
phrase, a group, a field or an exclusion means AND. Every syntax error raises QueryError
with where it starts and a hint. `Parser.start` remembers where each node began, for the
checks `bot.watching.query.parse` runs on the finished tree.
"""

from __future__ import annotations

import re

from bot.watching.query_lex import Token
from bot.watching.query_tree import And, Category, Node, Not, Or, Phrase, QueryError
from bot.watching.text import normalize_words

MIN_PREFIX_CHARS = 3
_CATEGORY = re.compile(r"[a-z][a-z-]*(\.([a-z][a-z-]*|\*))?")


class Parser:
    """Recursive descent over the tokens: or_expr := and_expr (OR and_expr)*, and so on."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0
        # id(node) -> (node, position): where each node starts, for error reports. The node
        # is kept so that its id cannot be reused while parsing.
        self._starts: dict[int, tuple[Node, int]] = {}
        self.raw: dict[int, str] = {}  # id(phrase) -> the one chunk it came from (for cat:)

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> Token:
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

    def require_operand(self, op: Token) -> None:
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
        name = _field_prefix(tok.text)
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

    def apply_field(self, node: Node, field_tok: Token) -> Node:
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
        run: list[Token] = []
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


def _field_prefix(field: str) -> str:
    """'title' -> 'ti': the short prefix of a field, as error messages write it."""
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
