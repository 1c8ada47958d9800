"""Outbound Telegram: alerts and answers sent as HTML messages with their keyboards, and
files sent as documents.

`TelegramSending` is the sending half of `adapters.telegram_bot.TelegramAdapter`: send()
for deliveries, `_send_body` (sendMessage in HTML parse mode with every outside string
escaped, once more as plain text when Telegram cannot parse the HTML) and
`_send_document` (sendDocument). An alert's image is its link preview, shown above the
text. Telegram's refusals map onto the core's send errors (`adapters.telegram_errors`).
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import InputFile, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application

from adapters.telegram_errors import is_parse_error, to_send_error
from adapters.telegram_feedback import feedback_keyboard
from adapters.telegram_render import MAX_CHARS, keyboard, measure, render_html, render_plain
from bot.types import (
    Attachment,
    Button,
    ChatRef,
    ItemRef,
    OutMessage,
    PermanentSendError,
    RichText,
    TransientSendError,
)
from bot.wording import short

log = logging.getLogger("adapters.telegram_bot")  # one logger for the whole adapter, as before

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def preview_options(image_url: str | None) -> LinkPreviewOptions:
    """The picture of an alert as a large link preview above its text; else no preview
    (the links in an alert would otherwise preview whichever comes first)."""
    if not image_url or not image_url.startswith(("http://", "https://")):
        return NO_PREVIEW
    return LinkPreviewOptions(url=image_url, show_above_text=True, prefer_large_media=True)


def reply_parameters(reply_to: int | None) -> ReplyParameters | None:
    """Threaded under message `reply_to` (sent anyway if it is gone), or not threaded."""
    if reply_to is None:
        return None
    return ReplyParameters(reply_to, allow_sending_without_reply=True)


class TelegramSending:
    """send() for deliveries, and the sendMessage / sendDocument calls answers use too."""

    application: Application | None
    _running: bool

    def measure(self, text: RichText) -> int:
        return measure(text)

    async def send(self, chat: ChatRef, message: OutMessage) -> None:
        """Send one alert (the body carries any heading). Raises a SendError subclass."""
        if not self._running or self.application is None:
            raise TransientSendError("telegram adapter is not running")
        try:
            chat_id = int(chat.external_id)
        except ValueError:
            raise PermanentSendError(f"not a Telegram chat id: {chat.external_id[:40]!r}") from None
        # Every subscriber of a channel would see buttons only its admins may use.
        if chat.kind == "channel":
            await self._send_body(chat_id, message.body, image_url=message.image_url)
            return
        await self._send_body(chat_id, message.body, message.buttons,
                              image_url=message.image_url, items=message.items)

    async def _send_body(self, chat_id: int, body: RichText, buttons: tuple[Button, ...] = (),
                         reply_to: int | None = None, image_url: str | None = None,
                         items: tuple[ItemRef, ...] = ()) -> Message:
        """sendMessage in HTML; once more as plain text if Telegram cannot parse the HTML.
        An image is shown as the link preview above the text (no preview otherwise).
        Numbered papers get their feedback buttons above the message's own."""
        assert self.application is not None
        bot = self.application.bot
        common: dict[str, Any] = {
            "reply_markup": feedback_keyboard(items, keyboard(buttons)),
            "link_preview_options": preview_options(image_url),
            "reply_parameters": reply_parameters(reply_to)}
        try:
            return await bot.send_message(chat_id, render_html(body), parse_mode=ParseMode.HTML,
                                          **common)
        except BadRequest as exc:
            if not is_parse_error(exc):
                raise to_send_error(exc) from exc
            log.warning("telegram: chat %s refused our HTML (%s); sending plain text",
                        chat_id, exc.message)
        except TelegramError as exc:
            raise to_send_error(exc) from exc
        try:
            return await bot.send_message(chat_id, short(render_plain(body), MAX_CHARS),
                                          **common)
        except TelegramError as exc:
            raise to_send_error(exc) from exc

    async def _send_document(self, chat_id: int, attachment: Attachment,
                             reply_to: int | None = None) -> Message:
        """sendDocument: one file of a reply, threaded like its text."""
        assert self.application is not None
        upload = InputFile(attachment.data, filename=attachment.filename, attach=True)
        try:
            return await self.application.bot.send_document(
                chat_id, upload, reply_parameters=reply_parameters(reply_to))
        except TelegramError as exc:
            raise to_send_error(exc) from exc
