"""What a paper carries beyond title and abstract, as spans: the TL;DR (Hugging Face's AI
summary), the code repository with its stars, the project page, the organization, and
the arXiv abstract / PDF / Hugging Face links; and the update line of a follow-up.

Only what the sources stored is shown: a missing field leaves its part out, never a
placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.types import Line, Paper, Span

ARXIV_ID = re.compile(r"^(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})$", re.IGNORECASE)
SEPARATOR = " · "
FOLLOW_UP_MARKS = {"code": "↻", "trending": "↑", "revised": "✎"}


def is_arxiv_id(paper_id: str) -> bool:
    return bool(ARXIV_ID.match(paper_id))


def short_url(url: str) -> str:
    """'https://www.github.com/owner/repo/' -> 'github.com/owner/repo'."""
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip(), flags=re.IGNORECASE)
    text = text.removeprefix("www.").rstrip("/")
    return text or url


def stars_text(stars: int) -> str:
    """152 -> '152', 1234 -> '1.2k', 15300 -> '15k'."""
    if stars < 1000:
        return str(stars)
    if stars < 10_000:
        return f"{stars / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    return f"{stars // 1000}k"


def joined(parts: Sequence[Sequence[Span]]) -> Line:
    """Parts of a line, ' · ' between them (empty parts left out)."""
    out: list[Span] = []
    for part in parts:
        if part:
            out += ([Span(SEPARATOR)] if out else []) + list(part)
    return tuple(out)


def tldr_line(paper: Paper) -> Line:
    """'TL;DR: <AI summary>' or nothing."""
    summary = " ".join(paper.ai_summary.split())
    return (Span("TL;DR: ", bold=True), Span(summary)) if summary else ()


def code_part(paper: Paper, label: str = "code: ") -> tuple[Span, ...]:
    """'code: github.com/owner/repo ★ 1.2k' (stars when known), or nothing."""
    if not paper.github_url:
        return ()
    spans = [Span(label), Span(short_url(paper.github_url), link=paper.github_url)]
    if paper.github_stars is not None:
        spans.append(Span(f" ★ {stars_text(paper.github_stars)}"))
    return tuple(spans)


def _arxiv_link(url: str | None) -> bool:
    return bool(url) and "arxiv.org/" in (url or "")


def project_part(paper: Paper) -> tuple[Span, ...]:
    """'project: site.io' (a project page that is only the arXiv page is left out)."""
    if not paper.project_url or _arxiv_link(paper.project_url):
        return ()
    return (Span("project: "), Span(short_url(paper.project_url), link=paper.project_url))


def links_part(paper: Paper) -> tuple[Span, ...]:
    """'arXiv · PDF · Hugging Face' for an arXiv id; nothing otherwise."""
    if not is_arxiv_id(paper.id):
        return ()
    return joined([(Span("arXiv", link=f"https://arxiv.org/abs/{paper.id}"),),
                   (Span("PDF", link=f"https://arxiv.org/pdf/{paper.id}"),),
                   (Span("Hugging Face", link=f"https://huggingface.co/papers/{paper.id}"),)])


def follow_up_text(kind: str, paper: Paper, notes: Sequence[tuple[str, str]]) -> Line:
    """What changed, after the paper's title: 'now has code: github.com/… ★ 152',
    'trending: 73 upvotes', 'new version v2: title changed'."""
    if kind == "code":
        return code_part(paper, "now has code: ") or (Span("now has code"),)
    if kind == "trending":
        if paper.upvotes is None:
            return (Span("trending on Hugging Face"),)
        return (Span(f"trending: {paper.upvotes} upvotes"),)
    if kind == "revised":
        version = f"new version v{paper.version}" if paper.version else "a new version"
        changed = [detail for what, detail in notes if what == "changed"]
        return (Span(f"{version}: {' and '.join(changed)} changed" if changed else version),)
    return (Span(kind),)


def follow_up_line(kind: str, paper: Paper, notes: Sequence[tuple[str, str]],
                   number: int | None = None) -> Line:
    """'↻ Title — now has code: github.com/owner/repo ★ 152' (the title links the paper)."""
    mark = FOLLOW_UP_MARKS.get(kind, "•")
    head = f"{number}. {mark} " if number is not None else f"{mark} "
    return ((Span(head), Span(paper.title, bold=True, link=paper.url), Span(" — "))
            + follow_up_text(kind, paper, notes))
