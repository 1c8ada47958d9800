"""Neutral rich text -> Discord markdown and embeds, within every embed limit.

Every outside string (paper titles, abstracts, authors, user input echoed back) is escaped
with discord.py's `escape_markdown` and `escape_mentions`, and square brackets as well, so
a title holding `**`, `# heading`, `@everyone` or a fake `[link](...)` shows as typed and
breaks nothing. Only http(s) links become masked links. Mentions never ping in any case:
the client is built with `AllowedMentions.none()`; escaping here is for the looks.

`measure` is the length of the description `render_markdown` produces, in UTF-16 units
(what Discord counts), so the core's renderer can split alerts to fit `MAX_DESCRIPTION`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import discord
from discord.utils import escape_markdown, escape_mentions

from adapters.rich_spans import link_runs
from bot.delivery.render import fit
from bot.types import Line, RichText, Span
from bot.wording import short

MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_TOTAL = 6000  # all embeds of one message together
MAX_EMBEDS = 10
MAX_LABEL = 80
MAX_CUSTOM_ID = 100

COLOR_ALERT = 0x5865F2
COLOR_OK = 0x2ECC71
COLOR_ERROR = 0xE74C3C

_BRACKETS = re.compile(r"([\[\]])")
_URL_QUOTE = {"(": "%28", ")": "%29", " ": "%20", "<": "%3C", ">": "%3E", "\"": "%22"}


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Outside text as literal Discord markdown: formatting, brackets and mentions escaped."""
    pieces = _BRACKETS.split(text)
    escaped = "".join("\\" + p if p in ("[", "]") else escape_markdown(p) for p in pieces)
    return escape_mentions(escaped)


def safe_url(link: str | None) -> str | None:
    """A web link fit for a masked link or an embed url; None for anything else."""
    if not link:
        return None
    link = link.strip()
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or any(
            ch in link for ch in "\n\r\t"):
        return None
    return "".join(_URL_QUOTE.get(ch, ch) for ch in link)


def _span_md(span: Span) -> str:
    """One styled run; surrounding spaces stay outside the markers (`** a**` would not bold)."""
    core = span.text.strip()
    if not core:
        return escape(span.text)
    lead = span.text[:len(span.text) - len(span.text.lstrip())]
    trail = span.text[len(span.text.rstrip()):]
    # nothing is escaped inside code
    text = f"`{core}`" if span.code and "`" not in core else escape(core)
    if span.italic:
        text = f"*{text}*"
    if span.bold:
        text = f"**{text}**"
    return lead + text + trail


def _line_md(line: Line) -> str:
    parts: list[str] = []
    for link, spans in link_runs(line, safe_url):
        inner = "".join(_span_md(span) for span in spans)
        parts.append(f"[{inner}]({link})" if link and inner.strip() else inner)
    return "".join(parts)


def render_markdown(text: RichText) -> str:
    """Rich text as Discord markdown (an embed description)."""
    return "\n".join(_line_md(line) for line in text.lines)


def measure(text: RichText) -> int:
    return utf16_len(render_markdown(text))


def plain_title(line: Line, limit: int = MAX_TITLE) -> str:
    """A line as an embed title: escaped plain text, cut with an ellipsis to fit `limit`."""
    raw = "".join(span.text for span in line).strip()
    title = escape(raw)
    cut = len(raw)
    while utf16_len(title) > limit and cut > 0:
        cut -= max(1, (utf16_len(title) - limit) // 2)
        title = escape(raw[:cut].rstrip()) + "…"
    return title


def line_link(line: Line) -> str | None:
    """The one web link the whole line points to, if it has exactly one."""
    links = {safe_url(span.link) for span in line if span.text.strip()}
    return links.pop() if len(links) == 1 else None


def split_description(body: RichText, limit: int = MAX_DESCRIPTION) -> list[str]:
    """Whole lines into descriptions of at most `limit` (a too long line is shortened)."""
    chunks: list[str] = []
    current: list[Line] = []
    for line in body.lines:
        if current and measure(RichText(tuple(current) + (line,))) > limit:
            chunks.append(render_markdown(RichText(tuple(current))))
            current = []
        single = RichText((line,))
        if measure(single) > limit:
            single = fit(single, limit, measure)
        current.extend(single.lines)
    if current:
        chunks.append(render_markdown(RichText(tuple(current))))
    return chunks


def embeds_for(body: RichText, color: int, title_line: bool = False,
               title: str | None = None) -> list[discord.Embed]:
    """Embeds for one body. With `title_line` the first line becomes the (linked) title of
    the first embed; `title` names it when the body has no heading line of its own."""
    lines = body.lines
    heading: str | None = None
    url: str | None = None
    if title_line and len(lines) > 1:
        heading, url = plain_title(lines[0]), line_link(lines[0])
        lines = lines[1:]
    elif title:
        heading = plain_title((Span(title),))
    chunks = split_description(RichText(lines)) or [""]
    embeds = []
    for index, chunk in enumerate(chunks):
        embed = discord.Embed(description=chunk or None, color=color)
        if index == 0 and heading:
            embed.title = heading
            embed.url = url
        embeds.append(embed)
    return embeds


def embed_size(embed: discord.Embed) -> int:
    size = utf16_len(embed.title or "") + utf16_len(embed.description or "")
    if embed.footer.text:
        size += utf16_len(embed.footer.text)
    return size


def group_embeds(embeds: list[discord.Embed]) -> list[list[discord.Embed]]:
    """Embeds into messages of at most 10 embeds and 6000 characters each."""
    messages: list[list[discord.Embed]] = []
    current: list[discord.Embed] = []
    total = 0
    for embed in embeds:
        size = embed_size(embed)
        if current and (len(current) >= MAX_EMBEDS or total + size > MAX_TOTAL):
            messages.append(current)
            current, total = [], 0
        current.append(embed)
        total += size
    if current:
        messages.append(current)
    return messages


def button_label(label: str) -> str:
    return short(label, MAX_LABEL)
