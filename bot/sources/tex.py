"""TeX accents and escapes in arXiv titles and author names -> plain Unicode text.

arXiv's listing feed sends metadata as its authors typed it: `Benjamin R\\'emy`,
`Przemys{\\l}aw`, `Schr\\"odinger`, `Young--Fibonacci`. `tex_to_unicode` turns the text parts
into what TeX would print (`Benjamin Rémy`, `Przemysław`, `Schrödinger`, `Young–Fibonacci`)
with pylatexenc's latex2text, and leaves inline maths (`$...$`, `$$...$$`, `\\(...\\)`)
exactly as it was sent. Whitespace folds to single spaces everywhere (maths included, as
titles always were). Text with none of `\\ { } ~ --` is returned unchanged, so Unicode
from the export API passes through untouched.

pylatexenc is given only what it reads the way arXiv's authors mean it: a bare `%` (a TeX
comment: it would drop the rest of the title), `&`, `#`, a lone `$`, quote ligatures
(`` ` ` `` and `''`) and macros latex2text does not know are set aside before the
conversion and put back verbatim after it. Non-breaking spaces (`~`) become plain spaces
and runs of whitespace fold to one space.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text, get_default_latex_context_db

_TRIGGER = re.compile(r"[\\{}~]|--")
# Inline or display maths, never opened by an escaped dollar.
_MATH = re.compile(r"(?<!\\)(\$\$.+?(?<!\\)\$\$|\$.+?(?<!\\)\$|\\\(.+?\\\)|\\\[.+?\\\])", re.S)
# What pylatexenc would misread, in the order it is looked for.
_TOKEN = re.compile(r"\\([A-Za-z]+)((?:\s*\{[^{}]*\})*)|\\.|[%&#$]|``|''", re.S)
_PLACEHOLDER_BASE = 0xE000  # Unicode private use area: never in arXiv metadata


@lru_cache(maxsize=1)
def _converter() -> LatexNodes2Text:
    return LatexNodes2Text(math_mode="verbatim")


def _is_known(name: str) -> bool:
    return get_default_latex_context_db().get_macro_spec(name) is not None


def _protect(text: str) -> tuple[str, list[str]]:
    """Replace what pylatexenc must not interpret with private-use placeholders."""
    kept: list[str] = []

    def hold(piece: str) -> str:
        kept.append(piece)
        return chr(_PLACEHOLDER_BASE + len(kept) - 1)

    def visit(match: re.Match[str]) -> str:
        token = match.group(0)
        name = match.group(1)
        if name is not None:
            return token if _is_known(name) else hold(token)
        if token.startswith("\\"):
            return token  # a control symbol: an accent (\'), or an escape (\&, \%)
        return hold(token)

    return _TOKEN.sub(visit, text), kept


def _restore(text: str, kept: list[str]) -> str:
    for index, piece in enumerate(kept):
        text = text.replace(chr(_PLACEHOLDER_BASE + index), piece)
    return text


def _text_part(text: str) -> str:
    if not _TRIGGER.search(text):
        return text
    protected, kept = _protect(text)
    try:
        converted = _converter().latex_to_text(protected)
    except Exception:  # noqa: BLE001 - pylatexenc on malformed TeX: keep what was sent
        return text
    return _restore(converted.replace("\u00a0", " "), kept)


def tex_to_unicode(text: str) -> str:
    """TeX accents and escapes outside maths -> Unicode, maths verbatim; whitespace folded."""
    if _TRIGGER.search(text):
        parts = _MATH.split(text)
        # re.split with one group: even indexes are text, odd ones the maths kept as sent.
        text = "".join(part if index % 2 else _text_part(part)
                       for index, part in enumerate(parts))
    return " ".join(text.split())
