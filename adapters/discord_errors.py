"""Discord's refusals as the core's send outcomes, and a watch on its 429 answers.

50007 (the member closed DMs or blocked the bot), any other 403 and an unknown channel or
member are permanent: the delivery worker marks the chat blocked with the reason and
never retries (Discord bans bots that keep making 401/403/429 requests). A 400 refuses
this one message only. 5xx and network trouble are transient. 429: discord.py waits out
short limits itself and raises `discord.RateLimited` for longer ones (over
`max_ratelimit_timeout`); `RateLimitWatch` sees every 429 through an aiohttp trace, so the
RateLimited the worker gets says whether the limit was global.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import discord

from bot.types import (
    ChatRef,
    MessageRejected,
    PermanentSendError,
    RateLimited,
    SendError,
    TransientSendError,
)

log = logging.getLogger(__name__)

DMS_CLOSED = ("DMs closed: Discord refuses direct messages from the bot. Allow direct "
              "messages from server members (server menu > Privacy Settings) and don't block "
              "the bot, then run /start")
NO_ACCESS = ("the bot can't post in this channel ({detail}): give it View Channel, Send "
             "Messages and Embed Links there, then run /daily on again")
UNKNOWN_CHANNEL = "this channel no longer exists ({detail})"


class RateLimitWatch:
    """Sees every 429 answer (an aiohttp trace), so a RateLimited says whose limit it was."""

    def __init__(self) -> None:
        self.hits = 0
        self.last_scope = "chat"
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_end.append(self._on_end)

    async def _on_end(self, _session: Any, _ctx: Any,
                      params: aiohttp.TraceRequestEndParams) -> None:
        if params.response.status != 429:
            return
        headers = params.response.headers
        self.hits += 1
        is_global = headers.get("X-RateLimit-Global", "").lower() == "true" or \
            headers.get("X-RateLimit-Scope") == "global"
        self.last_scope = "global" if is_global else "chat"
        log.warning("discord: 429 on %s %s (scope %s, retry after %s s)", params.method,
                    params.url.path, headers.get("X-RateLimit-Scope", "?"),
                    headers.get("Retry-After", "?"))


def to_send_error(exc: discord.HTTPException, chat: ChatRef, scope: str = "chat") -> SendError:
    """Map a Discord refusal onto the core's send outcomes (a 403 is never retried)."""
    detail = f"{exc.text or exc.status} (code {exc.code})" if exc.code else str(exc.status)
    if exc.code == 50007:
        return PermanentSendError(DMS_CLOSED)
    if isinstance(exc, discord.Forbidden):
        if chat.kind == "user":
            return PermanentSendError(f"discord refuses messages to this member: {detail}")
        return PermanentSendError(NO_ACCESS.format(detail=detail))
    if isinstance(exc, discord.NotFound):
        if chat.kind == "user":
            return PermanentSendError(f"discord doesn't know this member: {detail}")
        return PermanentSendError(UNKNOWN_CHANNEL.format(detail=detail))
    if exc.status == 429:  # discord.py retried and gave up
        return RateLimited(_retry_after(exc), scope, reason=f"discord: 429 ({detail})")
    if exc.status >= 500 or exc.status == 401:
        return TransientSendError(f"discord: {detail}")
    return MessageRejected(f"discord refused the message: {detail}")


def _retry_after(exc: discord.HTTPException, default: float = 5.0) -> float:
    headers = exc.response.headers if exc.response is not None else {}
    try:
        return max(0.0, float(headers.get("Retry-After") or default))
    except ValueError:
        return default
