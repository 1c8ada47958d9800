"""One query's phrases found in one text, under the matching rules of the engine
(`bot.watching.matching`): where they occur (`find_spans`, for bold words in alerts) and
whether a phrase occurs in a token list or an author's name (`phrase_ends`, `author_has`).

The engine matches every watch at once and says which phrases hit; this module finds them
again in the original text, character offsets included, for one alert at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from bot.watching.text import normalize_words, same_word, word_spans


def author_has(name_words: list[str], words: tuple[str, ...], prefix: bool) -> bool:
    """The query words appear in order (not necessarily adjacent) in one author's name."""
    j = 0
    last = len(words) - 1
    for token in name_words:
        word = words[j]
        if token == word or (prefix and j == last and token.startswith(word)):
            j += 1
            if j > last:
                return True
    return False


def phrase_ends(tokens: list[str], words: tuple[str, ...],
                prefix: bool) -> Iterator[tuple[int, int]]:
    """(start, end) token ranges where the phrase occurs, under the matching rules."""
    n, m = len(tokens), len(words)

    def ends(i: int, j: int) -> Iterator[int]:
        if j == m:
            yield i
            return
        if i >= n:
            return
        word = words[j]
        has_next = i + 1 < n
        if prefix and j == m - 1:
            if tokens[i].startswith(word):
                yield i + 1
            if has_next and (tokens[i] + tokens[i + 1]).startswith(word):
                yield i + 2
            return
        if same_word(tokens[i], word):
            yield from ends(i + 1, j + 1)
        if has_next and same_word(tokens[i] + tokens[i + 1], word):
            yield from ends(i + 2, j + 1)
        # Two query words joined, unless the second is the prefix word.
        joinable = j + 1 < m and not (prefix and j + 1 == m - 1)
        if joinable and same_word(tokens[i], word + words[j + 1]):
            yield from ends(i + 1, j + 2)

    for start in range(n):
        for end in ends(start, 0):
            yield start, end


def find_spans(text: str, phrases: Iterable[str]) -> list[tuple[int, int]]:
    """Character ranges of `text` where any phrase matches, sorted and non-overlapping.

    Phrases are written as in a query ("federated learning", "quantiz*"); the renderer
    passes MatchHit.words() to bold the matched words.
    """
    spans = word_spans(text)
    tokens = [word for word, _, _ in spans]
    ranges: list[tuple[int, int]] = []
    for phrase in phrases:
        stripped = phrase.strip()
        prefix = stripped.endswith("*")
        words = tuple(normalize_words(stripped))
        if not words:
            continue
        shortest: dict[int, int] = {}  # "Jürgen’s" also reads as the plural "jurgens"
        for start, end in phrase_ends(tokens, words, prefix):
            shortest[start] = min(end, shortest.get(start, end))
        ranges += [(spans[start][1], spans[end - 1][2]) for start, end in shortest.items()]
    ranges.sort()
    merged: list[tuple[int, int]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
