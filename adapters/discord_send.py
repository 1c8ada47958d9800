"""Outbound Discord: an alert as embeds, to a member by DM or to a server channel.

`DiscordSending` is the sending half of `adapters.discord_bot.DiscordAdapter`: send() for
deliveries. A "user" chat is a member (open the DM channel, then post), a "channel" chat is
a server channel. Alerts are embeds (`adapters.discord_render`) with persistent buttons
under personal ones (the feedback controls of `adapters.discord_feedback`, then the
alert's own `CommandButton`s). Discord's refusals map onto the core's send errors
(`adapters.discord_errors`); a RateLimited from discord.py becomes the core's RateLimited.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import discord

from adapters.discord_commands import CommandButton, custom_id
from adapters.discord_errors import RateLimitWatch, to_send_error
from adapters.discord_feedback import feedback_items
from adapters.discord_render import COLOR_ALERT, embeds_for, group_embeds, measure, safe_url
from bot.types import (
    ChatRef,
    OutMessage,
    PermanentSendError,
    RateLimited,
    RichText,
    TransientSendError,
)


class DiscordSending:
    """send() for deliveries, over the adapter's client."""

    client: discord.Client | None
    rate_limits: RateLimitWatch

    def measure(self, text: RichText) -> int:
        return measure(text)

    async def send(self, chat: ChatRef, message: OutMessage) -> None:
        """One alert as embeds: a DM for a member, a post for a server channel."""
        client = self.client
        if client is None or client.is_closed():
            raise TransientSendError("discord adapter is not running")
        try:
            target = int(chat.external_id)
        except ValueError:
            raise PermanentSendError(f"not a Discord id: {chat.external_id[:40]!r}") from None
        embeds = embeds_for(message.body, COLOR_ALERT, title_line=True, title=message.title)
        if message.image_url and safe_url(message.image_url):
            embeds[0].set_image(url=message.image_url)
        groups = group_embeds(embeds)
        # Under a channel post, anyone could press a button meant for its admins.
        view = _alert_view(message) if chat.kind == "user" else None
        try:
            if chat.kind == "user":
                channel: Any = await client.create_dm(discord.Object(id=target))
            else:
                channel = client.get_partial_messageable(target)
            for index, embeds in enumerate(groups):
                extra = {"view": view} if view is not None and index == len(groups) - 1 else {}
                await channel.send(embeds=embeds, **extra)
        except discord.RateLimited as exc:
            raise RateLimited(exc.retry_after, self.rate_limits.last_scope,
                              reason=f"discord: rate limited for {exc.retry_after:.0f}s") from exc
        except discord.HTTPException as exc:
            raise to_send_error(exc, chat, self.rate_limits.last_scope) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TransientSendError(f"discord: {exc.__class__.__name__}: {exc}") from exc


def _alert_view(message: OutMessage) -> discord.ui.View | None:
    """An alert's persistent components: the feedback controls of its numbered papers,
    then its own buttons."""
    view = discord.ui.View(timeout=None)
    feedback_items(view, message.items)
    for button in message.buttons:
        if custom_id(button.command) is not None and len(view.children) < 25:
            view.add_item(CommandButton(button.command, button.label))
    return view if view.children else None
