"""Rich text cut into what a platform's markup wraps: the runs of a line's spans that share
one link (one anchor around them), each run with neighbouring spans of the same style
merged (one bold tag, not two in a row). Shared by the Telegram HTML and the Discord
markdown renderers; each passes its own check of which links may become anchors."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from bot.types import Line, Span


def merged(spans: tuple[Span, ...]) -> list[Span]:
    """Neighbouring spans with the same style (bold, italic, code) as one."""
    out: list[Span] = []
    for span in spans:
        last = out[-1] if out else None
        if last and (last.bold, last.italic, last.code) == (span.bold, span.italic, span.code):
            out[-1] = Span(last.text + span.text, span.bold, span.italic, span.code, span.link)
        else:
            out.append(span)
    return out


def link_runs(line: Line,
              safe_link: Callable[[str | None], str | None]) -> Iterator[tuple[str | None,
                                                                                list[Span]]]:
    """(link, merged spans) for each run of neighbouring spans whose link, as `safe_link`
    keeps it, is the same; the link is None for a run that is no anchor."""
    index = 0
    while index < len(line):
        link = safe_link(line[index].link)
        end = index + 1
        while end < len(line) and safe_link(line[end].link) == link:
            end += 1
        yield link, merged(line[index:end])
        index = end
