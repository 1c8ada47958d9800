"""Papers, alert batches, digests and the daily trending post -> neutral rich text, cut to
each platform's length limit.

Adapters tell the renderer how long a piece of rich text is in their native form
(`measure`) and their limit; the renderer chooses what to shorten or split so every
message fits. Untrusted text is never escaped here: each adapter escapes at its edge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from bot.delivery.details import (
    code_part,
    follow_up_line,
    joined,
    links_part,
    project_part,
    tldr_line,
)
from bot.ranking.types import FORYOU_KIND
from bot.types import Button, ItemRef, Line, OutMessage, Paper, RichText, Span
from bot.watching.highlight import find_spans
from bot.wording import plural

Measure = Callable[[RichText], int]

FIELD_NAMES = {"title": "title", "abstract": "abstract", "keywords": "keywords",
               "author": "authors", "category": "category"}
EXCERPT_CHARS = 280
MAX_AUTHORS = 3


@dataclass(frozen=True)
class AlertItem:
    """One paper due for one recipient, with why it matched."""

    paper: Paper
    why: tuple[tuple[str, str], ...]  # (field, phrase)
    watch_ids: tuple[int, ...] = ()
    watch_queries: tuple[str, ...] = ()
    watch_numbers: tuple[int, ...] = ()  # as the chat sees them, aligned with watch_ids
    kind: str = "alert"  # or a follow-up: "code", "trending", "revised"; or "foryou"
    star: bool = False  # among the best for the chat's person (their ranking model)
    for_you: tuple[str, ...] = ()  # why it ranks for them: its top words under their model


def plain_length(text: RichText) -> int:
    return len(text.plain())


def highlighted(text: str, phrases: Sequence[str], link: str | None = None,
                bold_all: bool = False) -> Line:
    """Split text into spans, bolding every place a matched phrase occurs."""
    spans: list[Span] = []
    pos = 0
    for start, end in find_spans(text, phrases) if phrases else []:
        if start > pos:
            spans.append(Span(text[pos:start], bold=bold_all, link=link))
        spans.append(Span(text[start:end], bold=True, link=link))
        pos = end
    if pos < len(text) or not spans:
        spans.append(Span(text[pos:], bold=bold_all, link=link))
    return tuple(spans)


def authors_line(authors: Sequence[str]) -> str:
    if not authors:
        return ""
    shown = ", ".join(authors[:MAX_AUTHORS])
    return shown + (" et al." if len(authors) > MAX_AUTHORS else "")


def excerpt(summary: str, phrases: Sequence[str], max_chars: int = EXCERPT_CHARS) -> str:
    """A short window of the abstract, around the first matched phrase when there is one."""
    text = " ".join(summary.split())
    if len(text) <= max_chars:
        return text
    spans = find_spans(text, phrases) if phrases else []
    start = 0
    if spans and spans[0][1] > max_chars - 20:
        start = max(0, spans[0][0] - max_chars // 3)
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < spans[0][0] else start
    cut = text[start:start + max_chars]
    if start + max_chars < len(text):
        space = cut.rfind(" ")
        cut = (cut[:space] if space > max_chars // 2 else cut).rstrip(",;:") + "…"
    return ("…" if start else "") + cut


def _field_texts(paper: Paper, field: str) -> Sequence[str]:
    if field == "title":
        return (paper.title,)
    if field == "abstract":
        return (paper.summary,)
    if field == "keywords":
        return paper.keywords
    if field == "author":
        return paper.authors
    return ()


def as_written(paper: Paper | None, field: str, phrase: str) -> str:
    """The words a matched phrase stands for, as the paper wrote them ("Re-Ranking" for
    the watch phrase "re ranking"); the phrase itself when the text can't be found."""
    if paper is None:
        return phrase
    for text in _field_texts(paper, field):
        spans = find_spans(text, (phrase,))
        if spans:
            start, end = spans[0]
            return " ".join(text[start:end].split())
    return phrase


def why_text(why: Sequence[tuple[str, str]], paper: Paper | None = None) -> str:
    """“federated learning” in title and abstract; “Yann LeCun” in authors. With the paper,
    each phrase is quoted as the paper wrote it (its first field's spelling)."""
    by_phrase: dict[str, tuple[str, list[str]]] = {}
    for field, phrase in why:
        shown, names = by_phrase.setdefault(phrase, (as_written(paper, field, phrase), []))
        name = FIELD_NAMES.get(field, field)
        if name not in names:
            names.append(name)
    return "; ".join(f"“{shown}” in {' and '.join(f)}" for shown, f in by_phrase.values())


def byline(paper: Paper) -> Line:
    """'A, B, C et al. · Organization' (authors in italics), or what of it is known."""
    authors = (Span(authors_line(paper.authors), italic=True),) if paper.authors else ()
    org = (Span(paper.organization),) if paper.organization else ()
    return joined([authors, org])


def alert_body(item: AlertItem, excerpt_chars: int = EXCERPT_CHARS) -> RichText:
    """The full alert for one paper: title, TL;DR, authors and organization, excerpt, why,
    code and project page, upvotes and the arXiv / PDF / Hugging Face links."""
    paper = item.paper
    phrases = [phrase for _, phrase in item.why]
    lines: list[Line] = [highlighted(paper.title, phrases, link=paper.url, bold_all=True)]
    lines += [line for line in (tldr_line(paper), byline(paper)) if line]
    if paper.summary and excerpt_chars > 0:
        lines.append(highlighted(excerpt(paper.summary, phrases, excerpt_chars), phrases))
    lines.append((Span("Why: "), Span(why_text(item.why, paper))))
    upvotes = (Span(f"▲ {paper.upvotes} upvotes"),) if paper.upvotes is not None else ()
    for line in (joined([code_part(paper), project_part(paper)]),
                 joined([upvotes, links_part(paper)])):
        if line:
            lines.append(line)
    return RichText(tuple(lines))


COMPACT_EXCERPT_CHARS = 160


def compact_lines(number: int, item: AlertItem, detail_line: bool = True) -> tuple[Line, ...]:
    """One entry of a coalesced list: number, linked title, why; then (unless the list must
    be short) authors with the TL;DR (or a short excerpt), and the code repository.
    A follow-up is one update line ("↻ Title — now has code: …")."""
    paper = item.paper
    if item.kind == FORYOU_KIND:  # a /foryou pick: why = the words that weighed most
        why = "for you: " + ", ".join(word for _, word in item.why)
        phrases: list[str] = []
    elif item.kind != "alert":
        return (follow_up_line(item.kind, paper, item.why, number),)
    else:
        why = why_text(item.why, paper)
        phrases = [phrase for _, phrase in item.why]
    star = (Span("★ "),) if item.star else ()
    if item.for_you and item.kind == "alert":
        why += " · for you: " + ", ".join(item.for_you)
    lines: list[Line] = [(Span(f"{number}. "), *star,
                          Span(paper.title, bold=True, link=paper.url), Span(f" — {why}"))]
    if not detail_line:
        return tuple(lines)
    detail = authors_line(paper.authors)
    lead = (Span(detail + ". ", italic=True),) if detail else ()
    if paper.ai_summary.strip():
        lines.append(lead + (Span(" ".join(paper.ai_summary.split())),))
    elif paper.summary:
        text = excerpt(paper.summary, phrases, COMPACT_EXCERPT_CHARS)
        lines.append(lead + highlighted(text, phrases))
    elif detail:
        lines.append((Span(detail, italic=True),))
    code = joined([code_part(paper), project_part(paper)])
    if code:
        lines.append(code)
    return tuple(lines)


def alert_buttons(items: Sequence[AlertItem]) -> tuple[Button, ...]:
    """Unwatch (the watch that hit, when it is one) and mute buttons for a single alert."""
    buttons: list[Button] = []
    watch_ids = sorted({w for item in items for w in item.watch_ids})
    numbers = {n for item in items for n in item.watch_numbers if n}
    # The button runs "/unwatch #N" with the number /watches shows; without it, no button
    # (a database id would remove some other watch of the chat).
    if len(watch_ids) == 1 and len(numbers) == 1:
        query = next((q for item in items for q in item.watch_queries), "")
        label = f"Unwatch “{query[:40]}”" if query else "Unwatch"
        buttons.append(Button(label, f"/unwatch #{numbers.pop()}"))
    buttons.append(Button("Mute 24 h", "/mute 24h"))
    return tuple(buttons)


def _truncate_line(line: Line, keep_chars: int) -> Line:
    out: list[Span] = []
    left = keep_chars
    for span in line:
        if left <= 0:
            break
        if len(span.text) > left:
            out.append(Span(span.text[:max(left - 1, 0)] + "…", span.bold, span.italic,
                            span.code, span.link))
            break
        out.append(span)
        left -= len(span.text)
    return tuple(out)


def fit(text: RichText, limit: int, measure: Measure) -> RichText:
    """Shorten the longest line until the text fits (a last resort: callers split first)."""
    while measure(text) > limit and text.lines:
        lines = list(text.lines)
        longest = max(range(len(lines)), key=lambda i: sum(len(s.text) for s in lines[i]))
        size = sum(len(s.text) for s in lines[longest])
        if size <= 1:
            lines.pop(longest)
        else:
            lines[longest] = _truncate_line(lines[longest], size * 2 // 3)
        text = RichText(tuple(lines))
    return text


@dataclass(frozen=True)
class Batch:
    """One message to send and the alert items it carries (marked sent together)."""

    message: OutMessage
    items: tuple[AlertItem, ...]


def alert_messages(items: Sequence[AlertItem], limit: int, measure: Measure = plain_length,
                   heading: str | None = None) -> list[Batch]:
    """One message for one paper; a compact numbered list for several (under `heading`),
    split only where `limit` forces it. A list that needs several messages drops the
    authors and excerpts (title, link, why) when that makes it fewer messages."""
    if not items:
        return []
    # alerts first, then the follow-ups about earlier alerts ("updates")
    items = sorted(items, key=lambda item: item.kind != "alert")
    updates = sum(item.kind != "alert" for item in items)
    if len(items) == 1 and heading is None and not updates:
        body = alert_body(items[0])
        if measure(body) > limit:
            body = alert_body(items[0], excerpt_chars=EXCERPT_CHARS // 3)
        return [Batch(OutMessage(fit(body, limit, measure), alert_buttons(items),
                                 image_url=items[0].paper.thumbnail_url,
                                 items=(ItemRef(1, items[0].paper.id, items[0].paper.title),)),
                      tuple(items))]
    if heading is not None:
        title = heading
    elif updates:
        title = "🔔 " + news_count(len(items) - updates, updates)
    else:
        title = f"{len(items)} new papers match your watches"
    batches = _listing(items, limit, measure, title, detail=True)
    if len(batches) > 1:
        short = _listing(items, limit, measure, title, detail=False)
        if len(short) < len(batches):
            return short
    return batches


def _listing(items: Sequence[AlertItem], limit: int, measure: Measure, title: str,
             detail: bool, buttons: bool = True) -> list[Batch]:
    batches: list[Batch] = []
    current: list[Line] = [(Span(title, bold=True),)]
    carried: list[AlertItem] = []
    refs: list[ItemRef] = []
    for number, item in enumerate(items, start=1):
        entry = RichText(compact_lines(number, item, detail))
        if carried and measure(RichText(tuple(current)) + entry) > limit:
            batches.append(Batch(OutMessage(RichText(tuple(current)), title=title,
                                            items=tuple(refs)), tuple(carried)))
            current, carried, refs = [(Span(f"{title} (continued)", bold=True),)], [], []
        room = limit - measure(RichText(tuple(current))) - 1
        current.extend(fit(entry, room, measure).lines if measure(entry) > room else entry.lines)
        carried.append(item)
        refs.append(ItemRef(number, item.paper.id, item.paper.title))
    batches.append(Batch(OutMessage(RichText(tuple(current)),
                                    alert_buttons(carried) if buttons else (), title=title,
                                    items=tuple(refs)), tuple(carried)))
    return batches


def foryou_messages(items: Sequence[AlertItem], limit: int,
                    measure: Measure = plain_length) -> list[Batch]:
    """A person's /foryou picks (kind "foryou", best first) as one numbered list, each with
    the words that weighed most ("for you: privacy, clients, heterogeneity")."""
    if not items:
        return []
    title = f"✨ For you: {plural(len(items), 'paper')} your watches missed"
    batches = _listing(items, limit, measure, title, detail=True, buttons=False)
    if len(batches) > 1:
        short = _listing(items, limit, measure, title, detail=False, buttons=False)
        if len(short) < len(batches):
            return short
    return batches


def news_count(papers: int, updates: int = 0) -> str:
    """'2 new papers', '2 new papers, 1 update', '1 update'."""
    parts = ([plural(papers, "new paper")] if papers or not updates else []) + (
        [plural(updates, "update")] if updates else [])
    return ", ".join(parts)


def digest_heading(kind: str, count: int, updates: int = 0) -> str | None:
    """The heading of a coalesced delivery (`count` items, `updates` of them follow-ups);
    None for plain instant alerts."""
    papers = news_count(count - updates, updates)
    if kind == "away":
        return f"{papers} while you were away"
    if kind == "daily":
        return f"Your daily digest: {papers}"
    if kind == "weekly":
        return f"Your weekly digest: {papers}"
    return None


# --- the daily trending post ---------------------------------------------------------------

TRENDING_EXCERPT_CHARS = 140


def _day_text(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def trending_lines(number: int, paper: Paper, excerpt_chars: int) -> tuple[Line, ...]:
    """One numbered entry: linked title, upvotes, organization, arXiv / PDF links, code
    with stars, project page; then the TL;DR (or a short excerpt) unless space is short."""
    head: Line = (Span(f"{number}. "), Span(paper.title, bold=True, link=paper.url),
                  Span(f" — ▲ {paper.upvotes or 0}"))
    org = (Span(paper.organization),) if paper.organization else ()
    project = project_part(paper)
    extra = joined([org, links_part(paper)[:3], code_part(paper, "code "),
                    (Span("project", link=project[-1].link),) if project else ()])
    head += ((Span(" · "),) + extra) if extra else ()
    lines: list[Line] = [head]
    if excerpt_chars > 0 and paper.ai_summary.strip():
        lines.append((Span(" ".join(paper.ai_summary.split()), italic=True),))
    elif excerpt_chars > 0 and paper.summary:
        lines.append((Span(excerpt(paper.summary, (), excerpt_chars), italic=True),))
    return tuple(lines)


def trending_post(papers: Sequence[Paper], day: date, limit: int,
                  measure: Measure = plain_length, topic: str | None = None) -> OutMessage:
    """The daily trending post as ONE message within `limit`: numbered, with upvotes and
    links; excerpts go first, then titles are shortened, if it would not fit."""
    title = f"Trending papers — {_day_text(day)}"
    link = f"https://huggingface.co/papers/date/{day.isoformat()}"
    intro: list[Line] = [(Span(title, bold=True, link=link),)]
    if topic:
        intro.append((Span(f"Topic: {topic}", italic=True),))
    body = RichText(tuple(intro))
    for excerpt_chars in (TRENDING_EXCERPT_CHARS, 0):
        entries = [line for number, paper in enumerate(papers, start=1)
                   for line in trending_lines(number, paper, excerpt_chars)]
        body = RichText(tuple(intro) + tuple(entries))
        if measure(body) <= limit:
            break
    return OutMessage(fit(body, limit, measure), title=title,
                      image_url=papers[0].thumbnail_url if papers else None,
                      items=tuple(ItemRef(n, p.id, p.title)
                                  for n, p in enumerate(papers, start=1)))


def no_trending_note(day: date) -> OutMessage:
    text = f"No trending papers on Hugging Face for {_day_text(day)}."
    return OutMessage(RichText.of(text), title="Trending papers")
