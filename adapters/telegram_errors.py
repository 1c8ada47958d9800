"""Telegram's refusals mapped onto the core's send errors (rate limit, moved chat, a chat
that is gone for good, a message Telegram will never take, trouble worth a retry)."""

from __future__ import annotations

import warnings
from datetime import timedelta

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bot.types import (
    ChatMoved,
    MessageRejected,
    PermanentSendError,
    RateLimited,
    SendError,
    TransientSendError,
)

# BadRequest descriptions that mean "this chat will not take messages from us", not "this
# message is wrong" (the bot lost its rights in a channel, the chat was deleted ...).
_CHAT_GONE = ("chat not found", "not enough rights", "have no rights", "need administrator",
              "chat_write_forbidden", "bot is not a member", "user is deactivated",
              "peer_id_invalid", "group chat was deactivated", "chat_restricted",
              "chat was deleted", "bot was kicked")
_PARSE_ERROR = "can't parse entities"


def is_parse_error(exc: BadRequest) -> bool:
    """Telegram could not parse our HTML (worth one more try as plain text)."""
    return _PARSE_ERROR in exc.message.lower()


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the type changes to timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def to_send_error(exc: TelegramError) -> SendError:
    """Map a Telegram failure onto the core's send outcomes."""
    if isinstance(exc, RetryAfter):
        # Telegram does not say whether a 429 is about this chat or the whole bot; treat it
        # as global (as PTB's own rate limiter does): flooding on regardless gets the bot
        # longer bans.
        return RateLimited(_retry_seconds(exc), scope="global", reason=f"telegram: {exc}")
    if isinstance(exc, ChatMigrated):
        return ChatMoved(str(exc.new_chat_id))
    if isinstance(exc, Forbidden):
        return PermanentSendError(f"telegram: {exc.message}")
    if isinstance(exc, BadRequest):
        if any(marker in exc.message.lower() for marker in _CHAT_GONE):
            return PermanentSendError(f"telegram: {exc.message}")
        return MessageRejected(f"telegram refused the message: {exc.message}")
    if isinstance(exc, InvalidToken):
        return TransientSendError(f"telegram: invalid token ({exc.message})")
    if isinstance(exc, TimedOut):
        return TransientSendError(f"telegram: timed out ({exc.message})")
    return TransientSendError(f"telegram: {exc.__class__.__name__}: {exc.message}")


