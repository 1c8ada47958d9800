"""Telegram rendering: the core's rich text as Telegram HTML (every outside string escaped),
lengths as Telegram counts them, long replies cut into messages, inline keyboards."""

from __future__ import annotations

import html
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.rich_spans import link_runs
from bot.delivery.render import fit
from bot.types import Button, RichText, Span

log = logging.getLogger(__name__)

MAX_CHARS = 4096  # per message, after entity parsing
MAX_CAPTION_CHARS = 1024  # a photo's or document's caption
MAX_CALLBACK_BYTES = 64  # callback_data
LINK_SCHEMES = ("http://", "https://", "tg://")




def _span_html(span: Span) -> str:
    text = html.escape(span.text)
    if span.code:
        text = f"<code>{text}</code>"
    if span.italic:
        text = f"<i>{text}</i>"
    if span.bold:
        text = f"<b>{text}</b>"
    return text


def _safe_link(link: str | None) -> str | None:
    """Only web links (and tg://) become anchors; anything else stays plain text."""
    if link and link.strip().lower().startswith(LINK_SCHEMES):
        return link.strip()
    return None


def render_html(text: RichText) -> str:
    """Rich text as Telegram HTML: every string escaped, a run of spans sharing one link
    wrapped in one <a>."""
    out_lines = []
    for line in text.lines:
        parts: list[str] = []
        for link, spans in link_runs(line, _safe_link):
            inner = "".join(_span_html(span) for span in spans)
            parts.append(f'<a href="{html.escape(link)}">{inner}</a>' if link else inner)
        out_lines.append("".join(parts))
    return "\n".join(out_lines)


def render_plain(text: RichText) -> str:
    """The fallback when Telegram cannot parse our HTML: plain text, links after their text."""
    return text.plain_with_links(" ({})", keep=_safe_link)


def utf16_len(text: str) -> int:
    """Telegram counts message length in UTF-16 code units (an emoji may count two)."""
    return len(text.encode("utf-16-le")) // 2


def measure(text: RichText) -> int:
    """Length of the HTML we would send: escaping and tags included, in UTF-16 units. It
    is never less than what Telegram counts (the text after parsing), so it is a safe bound."""
    return utf16_len(render_html(text))


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """One row of inline buttons; a button whose command exceeds 64 bytes is left out."""
    row = []
    for button in buttons:
        if len(button.command.encode()) > MAX_CALLBACK_BYTES:
            log.warning("button %r left out: its command is over %d bytes", button.label,
                        MAX_CALLBACK_BYTES)
            continue
        row.append(InlineKeyboardButton(button.label[:64], callback_data=button.command))
    return InlineKeyboardMarkup([row]) if row else None


def split_body(body: RichText, limit: int = MAX_CHARS) -> list[RichText]:
    """Cut a long reply into messages of whole lines, each within `limit` once rendered."""
    chunks: list[RichText] = []
    current: list[tuple[Span, ...]] = []
    for line in body.lines:
        candidate = RichText(tuple(current) + (line,))
        if current and measure(candidate) > limit:
            chunks.append(RichText(tuple(current)))
            current = []
        single = RichText((line,))
        if measure(single) > limit:
            single = fit(single, limit, measure)
        current.extend(single.lines)
    if current or not chunks:
        chunks.append(RichText(tuple(current)))
    return [fit(chunk, limit, measure) for chunk in chunks]


