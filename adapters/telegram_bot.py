"""The Telegram adapter: python-telegram-bot updates <-> Incoming/Reply, and send() for alerts.

Runs inside the bot's one event loop (`await adapter.start()` ... `await adapter.stop()`:
`async with application` + `application.start()` + `updater.start_polling()` or
`start_webhook()`, never `run_polling()`). At start it publishes the core command registry
with setMyCommands, so the menu always matches what the bot understands. Updates are
handled concurrently (`telegram.concurrent_updates` at once), each chat's in arrival order
(`adapters.telegram_updates.PerChatOrder`), so one slow command keeps no one else waiting.

Who is who: a private chat is one person; in a group or supergroup the commands manage the
group's watches and only its admins (getChatMember: creator or administrator, or an
anonymous admin posting as the group) may change them; in a channel the bot is an admin
and commands posted in the channel configure that channel. Inline buttons carry a command
line ("/unwatch #3") as callback_data; pressing one runs it in the button's chat and the
answer comes back through answerCallbackQuery.

Files: a reply's attachments follow its text as documents (sendDocument); a document sent
with the caption /import (at most 64 KB) is downloaded (getFile) and handed to the command.

The bot's own membership updates (`my_chat_member`: blocked or unblocked by a person,
removed from or added to a group) switch the chat off or on in the core at once.

Everything is sent in HTML parse mode with every outside string escaped
(`adapters.telegram_render`); an alert's image is its link preview, shown above the text.
send() maps Telegram's refusals onto the core's send errors (`adapters.telegram_errors`);
it never retries by itself except once as plain text when Telegram cannot parse the HTML.

This module is the adapter's construction and lifecycle (the Application, its handlers,
start/stop, the command menu); the update handlers are `adapters.telegram_inbound`
(`TelegramInbound`), the sending is `adapters.telegram_send` (`TelegramSending`).
Callers import everything from here.
"""

from __future__ import annotations

import logging
import re
import secrets
from contextlib import AsyncExitStack
from datetime import timedelta

from telegram import BotCommand
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from adapters.telegram_inbound import (
    ADMIN_STATUSES,
    IMPORT,
    MAX_ANSWER_CHARS,
    MAX_IMPORT_BYTES,
    NOT_DOWNLOADED,
    PRESENT_STATUSES,
    STAND_IN_USERS,
    TOO_BIG,
    TelegramInbound,
    chat_ref,
)
from adapters.telegram_render import MAX_CHARS, keyboard, measure, render_html, split_body
from adapters.telegram_send import NO_PREVIEW, preview_options
from adapters.telegram_updates import PerChatOrder
from bot.commands.handlers import Commands, CommandSpec
from bot.config import TelegramConfig
from bot.wording import short

__all__ = ["ADMIN_STATUSES", "ALLOWED_UPDATES", "IMPORT", "MAX_ANSWER_CHARS", "MAX_CHARS",
           "MAX_IMPORT_BYTES", "NOT_DOWNLOADED", "NO_PREVIEW", "PRESENT_STATUSES",
           "SECRET_TOKEN", "STAND_IN_USERS", "TOO_BIG", "TelegramAdapter", "chat_ref",
           "keyboard", "measure", "preview_options", "render_html", "split_body"]

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ("message", "channel_post", "callback_query", "my_chat_member")
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class TelegramAdapter(TelegramInbound):
    """One Telegram bot: handlers for commands and buttons, and send() for deliveries."""

    platform = "telegram"
    max_chars = MAX_CHARS

    def __init__(self, config: TelegramConfig, commands: Commands, *,
                 poll_timeout: float = 30.0, request_timeout: float = 20.0) -> None:
        if not config.token:
            raise ValueError("telegram: no token (set PAPERWATCH_TELEGRAM_TOKEN)")
        self.config = config
        self.commands = commands
        self.poll_timeout = poll_timeout
        self.request_timeout = request_timeout
        self.specs: dict[str, CommandSpec] = {spec.name: spec for spec in commands.specs}
        self.webhook_secret = config.webhook_secret
        self.application: Application | None = None
        self._stack: AsyncExitStack | None = None
        self._running = False
        self.receiving = True

    # --- lifecycle ----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Started and receiving updates, or able to send in send-only mode (health)."""
        app = self.application
        if not self.receiving:
            return self._running
        return bool(self._running and app is not None and app.updater is not None
                    and app.updater.running)

    @property
    def username(self) -> str:
        return self.application.bot.username if self.application else ""

    def _build(self) -> Application:
        base = self.config.api_base_url.rstrip("/")
        file_base = base[:-len("/bot")] + "/file/bot" if base.endswith("/bot") else base
        application = (
            Application.builder().token(self.config.token)
            .base_url(base).base_file_url(file_base)
            .connect_timeout(self.request_timeout).read_timeout(self.request_timeout)
            .write_timeout(self.request_timeout).pool_timeout(self.request_timeout)
            .get_updates_read_timeout(self.request_timeout)
            .concurrent_updates(PerChatOrder(self.config.concurrent_updates))
            .build())
        names = list(self.specs)
        where = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        application.add_handler(CommandHandler(names, self._on_command, filters=where))
        # In a private chat anything else gets a hint; in groups other bots' commands and
        # chatter are none of our business.
        application.add_handler(MessageHandler(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT,
            self._on_command))
        application.add_handler(MessageHandler(
            filters.UpdateType.MESSAGE & filters.Document.ALL & filters.CaptionRegex(IMPORT),
            self._on_document))
        application.add_handler(CallbackQueryHandler(self._on_button))
        application.add_handler(ChatMemberHandler(self._on_membership,
                                                  ChatMemberHandler.MY_CHAT_MEMBER))
        application.add_error_handler(self._on_error)
        return application

    async def start(self, receive: bool = True) -> None:
        """Connect (getMe), publish the command menu, start polling or the webhook listener.
        Returns once updates are being received; raises TelegramError if Telegram refuses.
        With receive=False only sending works (worker processes: one poller per bot)."""
        if self._running:
            return
        self.receiving = receive
        if not receive:
            self.application = self._build()
            stack = AsyncExitStack()
            await stack.enter_async_context(self.application)  # initialize(): getMe
            self._stack, self._running = stack, True
            log.info("telegram: @%s ready to send (not receiving)", self.username)
            return
        if self.config.mode == "webhook":
            if not self.webhook_secret:
                # Telegram sends back whatever secret we register, so a fresh one per start
                # works and keeps strangers from posting fake updates.
                self.webhook_secret = secrets.token_urlsafe(32)
                log.info("telegram: no webhook secret configured; using a random one")
            if not SECRET_TOKEN.match(self.webhook_secret):
                raise ValueError("telegram: PAPERWATCH_TELEGRAM_WEBHOOK_SECRET may hold only "
                                 "A-Z, a-z, 0-9, _ and - (1 to 256 characters)")
        self.application = self._build()
        stack = AsyncExitStack()
        try:
            await stack.enter_async_context(self.application)  # initialize(): getMe
            await self._publish_commands()
            await self.application.start()
            stack.push_async_callback(self.application.stop)
            updater = self.application.updater
            assert updater is not None
            if self.config.mode == "webhook":
                await updater.start_webhook(
                    listen=self.config.webhook_listen, port=self.config.webhook_port,
                    url_path=self.config.webhook_path.lstrip("/"),
                    webhook_url=self.config.webhook_url, secret_token=self.webhook_secret,
                    allowed_updates=list(ALLOWED_UPDATES))
            else:
                await updater.start_polling(
                    timeout=timedelta(seconds=self.poll_timeout),
                    allowed_updates=list(ALLOWED_UPDATES), error_callback=self._on_polling_error)
            stack.push_async_callback(updater.stop)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        self._running = True
        log.info("telegram: @%s running (%s)", self.username, self.config.mode)

    async def stop(self) -> None:
        """Stop receiving, let running handlers finish, close the connection pool."""
        if self._stack is None:
            return
        self._running = False
        stack, self._stack = self._stack, None
        await stack.aclose()
        log.info("telegram: stopped")

    async def _publish_commands(self) -> None:
        assert self.application is not None
        menu = [BotCommand(spec.name, short(spec.summary, 256))
                for spec in self.specs.values()]
        await self.application.bot.set_my_commands(menu)

    def _on_polling_error(self, exc: TelegramError) -> None:
        log.warning("telegram: getUpdates failed (%s); retrying", exc)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: handling an update failed", exc_info=context.error)
