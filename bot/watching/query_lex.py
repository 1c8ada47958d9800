"""The watch language's tokenizer: query text -> tokens with their positions.

Words, quoted phrases, parentheses, the operators AND/OR/NOT (upper case only), a leading
- (exclusion) and field prefixes (ti:, abs:, au:, cat: and their long names) become tokens;
an unbalanced quote, a lone or doubled '-' and an unknown field raise QueryError with the
position. Positions are 0-based offsets into the text as typed, for error reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.watching.query_tree import QueryError
from bot.watching.text import normalize_words

FIELDS = {
    "ti": "title", "title": "title",
    "abs": "abstract", "abstract": "abstract",
    "au": "author", "author": "author",
    "cat": "category", "category": "category",
}
FIELD_HINT = "Use ti: (title), abs: (abstract), au: (author) or cat: (arXiv category)."

_QUOTES = "\"“”„‟«»"
_TOKEN = re.compile(
    rf"(?P<space>\s+)|(?P<paren>[()])|(?P<quote>[{_QUOTES}][^{_QUOTES}]*[{_QUOTES}]?)"
    rf"|(?P<chunk>[^\s(){_QUOTES}]+)"
)
_FIELD = re.compile(r"([A-Za-z]+):")
OPERATORS = ("AND", "OR", "NOT")


@dataclass
class Token:
    kind: str  # word, quoted, (, ), AND, OR, NOT, neg, field
    text: str
    pos: int


def lex(text: str) -> list[Token]:
    tokens: list[Token] = []
    for m in _TOKEN.finditer(text):
        kind, value, pos = m.lastgroup, m.group(), m.start()
        if kind == "space":
            continue
        if kind == "paren":
            tokens.append(Token(value, value, pos))
        elif kind == "quote":
            if len(value) < 2 or value[-1] not in _QUOTES:
                raise QueryError("Unbalanced quote", pos, "Close the quote or remove it.")
            tokens.append(Token("quoted", value[1:-1], pos))
        else:
            end = m.end()
            glued = end < len(text) and not text[end].isspace()
            _lex_chunk(value, pos, glued, tokens)
    return tokens


def _lex_chunk(chunk: str, pos: int, glued: bool, out: list[Token]) -> None:
    """Split a chunk into exclusion signs, a field prefix and the word itself.

    glued: the chunk is directly followed by a quote or a parenthesis (no space).
    """
    if chunk in OPERATORS:
        out.append(Token(chunk, chunk, pos))
        return
    if chunk.startswith("-") and not normalize_words(chunk) and not glued:
        raise QueryError("A lone '-'", pos,
                         "Write -word with no space to exclude a word, e.g. -survey.")
    if chunk.startswith("-"):
        if chunk.startswith("--"):
            raise QueryError("Two '-' in a row", pos, "Use a single - to exclude, e.g. -survey.")
        out.append(Token("neg", "-", pos))
        if len(chunk) > 1:
            _lex_chunk(chunk[1:], pos + 1, glued, out)
        return
    m = _FIELD.match(chunk)
    if m:
        name = m.group(1).lower()
        rest = chunk[m.end():]
        if name in FIELDS:
            out.append(Token("field", FIELDS[name], pos))
            if rest:
                _lex_chunk(rest, pos + m.end(), glued, out)
            return
        if rest or glued:
            raise QueryError(f"Unknown field '{m.group(1)}:'", pos, FIELD_HINT)
    out.append(Token("word", chunk, pos))
