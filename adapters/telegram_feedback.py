"""Telegram's feedback buttons: 👍 / 👎 / More like this under an alert, and a compact
"👍1 👍2 …" / "👎1 👎2 …" keyboard under a numbered list, built from the message's
platform-neutral item refs (`OutMessage.items`). Each button carries its command line as
callback_data; the adapter's CallbackQueryHandler runs it for whoever pressed it (the
mark is that person's, also in a group) and acknowledges with answerCallbackQuery."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.commands.arguments import split_command
from bot.types import ItemRef

MAX_ITEM_BUTTONS = 10  # numbered papers of a list with their own 👍 / 👎 buttons
ITEM_BUTTONS_PER_ROW = 5
SHOWN_IN_CHAT = ("more", "likes")  # buttons whose answer is a list, posted in the chat


def feedback_keyboard(items: tuple[ItemRef, ...],
                      own: InlineKeyboardMarkup | None = None) -> InlineKeyboardMarkup | None:
    """👍 / 👎 / More like this under a single paper; under a numbered list "👍1 👍2 …" and
    "👎1 👎2 …" rows for its first items (compact: two rows of five cover ten papers).
    Each button's callback_data is its command line ("/like 2411.18385", at most 64
    bytes), run for whoever presses it. The message's own buttons follow."""
    rows: list[list[InlineKeyboardButton]] = []
    if len(items) == 1:
        [item] = items
        rows.append([InlineKeyboardButton(label, callback_data=item.command(action))
                     for label, action in (("👍", "like"), ("👎", "dislike"),
                                           ("More like this", "more"))
                     if len(item.command(action).encode()) <= 64])
    elif items:
        shown = [i for i in items[:MAX_ITEM_BUTTONS] if len(i.command("dislike").encode()) <= 64]
        for icon, action in (("👍", "like"), ("👎", "dislike")):
            for start in range(0, len(shown), ITEM_BUTTONS_PER_ROW):
                rows.append([InlineKeyboardButton(f"{icon}{i.number}",
                                                  callback_data=i.command(action))
                             for i in shown[start:start + ITEM_BUTTONS_PER_ROW]])
    rows = [row for row in rows if row]
    if own is not None:
        rows += [list(row) for row in own.inline_keyboard]
    return InlineKeyboardMarkup(rows) if rows else None


def shown_in_chat(data: str) -> bool:
    parts = split_command(data)
    return parts is not None and parts[0] in SHOWN_IN_CHAT
