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
"""

from __future__ import annotations

import logging
import re
import secrets
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from telegram import (
    BotCommand,
    Chat,
    ChatMember,
    InputFile,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from adapters.telegram_errors import is_parse_error, to_send_error
from adapters.telegram_feedback import feedback_keyboard, shown_in_chat
from adapters.telegram_render import (
    MAX_CHARS,
    keyboard,
    measure,
    render_html,
    render_plain,
    split_body,
)
from adapters.telegram_updates import PerChatOrder
from adapters.text import short
from bot.commands.handlers import Commands, CommandSpec, split_command
from bot.config import TelegramConfig
from bot.types import (
    Attachment,
    Button,
    ChatRef,
    Incoming,
    ItemRef,
    OutMessage,
    PermanentSendError,
    Reply,
    RichText,
    SendError,
    TransientSendError,
)

__all__ = ["MAX_CHARS", "TelegramAdapter", "chat_ref", "keyboard", "measure", "render_html",
           "split_body"]

log = logging.getLogger(__name__)

MAX_ANSWER_CHARS = 200  # answerCallbackQuery text
# the users Telegram puts on messages sent as a group (anonymous admin) or as a channel
STAND_IN_USERS = (1087968824, 136817688)
MAX_IMPORT_BYTES = 64 * 1024  # a watch list is a few KB; anything bigger is not one
ALLOWED_UPDATES = ("message", "channel_post", "callback_query", "my_chat_member")
# the bot's own membership: blocked/unblocked by a person, removed from/added to a group
PRESENT_STATUSES = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER)
ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
IMPORT = re.compile(r"^/import(@\w+)?(\s|$)", re.IGNORECASE)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
TOO_BIG = (f"That file is over {MAX_IMPORT_BYTES // 1024} KB; a watch list is one query a "
           "line and much smaller. Nothing was imported.")
NOT_DOWNLOADED = "I couldn't download that file from Telegram. Nothing was imported; try again."


def chat_ref(chat: Chat) -> ChatRef:
    """A Telegram chat as the core sees it."""
    if chat.type == Chat.PRIVATE:
        kind = "user"
    elif chat.type == Chat.CHANNEL:
        kind = "channel"
    else:
        kind = "group"
    return ChatRef("telegram", str(chat.id), kind)


def preview_options(image_url: str | None) -> LinkPreviewOptions:
    """The picture of an alert as a large link preview above its text; else no preview
    (the links in an alert would otherwise preview whichever comes first)."""
    if not image_url or not image_url.startswith(("http://", "https://")):
        return NO_PREVIEW
    return LinkPreviewOptions(url=image_url, show_above_text=True, prefer_large_media=True)


class TelegramAdapter:
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

    # --- sending ------------------------------------------------------------------------

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
            "reply_parameters": (ReplyParameters(reply_to, allow_sending_without_reply=True)
                                 if reply_to is not None else None)}
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

    # --- receiving ----------------------------------------------------------------------

    def _spec(self, text: str) -> CommandSpec | None:
        parts = split_command(text.strip())
        return self.specs.get(parts[0]) if parts else None

    async def _may_configure(self, chat: Chat, user: User | None, sender_chat: Chat | None,
                             text: str) -> bool:
        """Whether the sender may change this chat's watches and settings. Asks Telegram
        only for an admin-only command in a shared chat; raises TelegramError if it can't."""
        if chat.type == Chat.PRIVATE:
            return True
        if sender_chat is not None and sender_chat.id == chat.id:
            return True  # a channel post, or an anonymous group admin posting as the group
        spec = self._spec(text)
        if spec is None or not spec.admin or user is None:
            return False
        member = await chat.get_member(user.id)
        return member.status in ADMIN_STATUSES

    def _incoming(self, chat: Chat, user: User | None, text: str, is_admin: bool,
                  attachment: Attachment | None = None) -> Incoming:
        name = (user.full_name if user else chat.title) or ""
        # an anonymous admin or a post "as a channel" has no person behind it we know of
        person = "" if user is None or user.id in STAND_IN_USERS else str(user.id)
        return Incoming(chat=chat_ref(chat), text=text, user_id=person,
                        user_name=name, is_admin=is_admin, attachment=attachment)

    async def _on_command(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None:
            return
        await self._run(message, message.text)

    async def _on_document(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """A document whose caption is /import: the command with the file attached."""
        message = update.effective_message
        if message is None or message.document is None or message.caption is None:
            return
        document = message.document
        if (document.file_size or 0) > MAX_IMPORT_BYTES:
            await self._reply(message, Reply.text(TOO_BIG, ok=False))
            return
        try:
            file = await document.get_file()
            data = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("telegram: downloading a file in chat %s failed: %s",
                        message.chat.id, exc)
            await self._reply(message, Reply.text(NOT_DOWNLOADED, ok=False))
            return
        if len(data) > MAX_IMPORT_BYTES:
            await self._reply(message, Reply.text(TOO_BIG, ok=False))
            return
        attachment = Attachment(document.file_name or "file.txt", data,
                                document.mime_type or "application/octet-stream")
        await self._run(message, message.caption, attachment)

    async def _run(self, message: Message, text: str,
                   attachment: Attachment | None = None) -> None:
        """Check who may configure the chat, run the command line, answer where it was typed."""
        try:
            is_admin = await self._may_configure(message.chat, message.from_user,
                                                 message.sender_chat, text)
        except TelegramError as exc:
            log.warning("telegram: admin check in chat %s failed: %s", message.chat.id, exc)
            await self._reply(message, Reply.text(
                "I couldn't check whether you are an admin here (Telegram didn't answer). "
                "Nothing was changed; please try again.", ok=False))
            return
        reply = await self.commands.dispatch(
            self._incoming(message.chat, message.from_user, text, is_admin, attachment))
        await self._reply(message, reply)

    async def _reply(self, message: Message, reply: Reply) -> None:
        """Answer a command where it was typed (threaded under it in groups)."""
        chat = message.chat
        reply_to = message.message_id if chat.type in (Chat.GROUP, Chat.SUPERGROUP) else None
        chunks = split_body(reply.body)
        for index, chunk in enumerate(chunks):
            buttons = reply.buttons if index == len(chunks) - 1 else ()
            try:
                await self._send_body(chat.id, chunk, buttons, reply_to=reply_to)
            except SendError as exc:
                log.warning("telegram: reply to chat %s not sent: %s", chat.id, exc.reason)
                return
        for attachment in reply.attachments:
            try:
                await self._send_document(chat.id, attachment, reply_to)
            except SendError as exc:
                log.warning("telegram: file to chat %s not sent: %s", chat.id, exc.reason)
                return

    async def _send_document(self, chat_id: int, attachment: Attachment,
                             reply_to: int | None = None) -> Message:
        assert self.application is not None
        upload = InputFile(attachment.data, filename=attachment.filename, attach=True)
        try:
            return await self.application.bot.send_document(
                chat_id, upload, reply_parameters=(
                    ReplyParameters(reply_to, allow_sending_without_reply=True)
                    if reply_to is not None else None))
        except TelegramError as exc:
            raise to_send_error(exc) from exc

    async def _on_button(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        data = query.data or ""
        message = query.message
        if message is None or not data.startswith("/"):
            await self._answer(query, "This button no longer works.", alert=True)
            return
        chat = message.chat
        try:
            is_admin = await self._may_configure(chat, query.from_user, None, data)
        except TelegramError as exc:
            log.warning("telegram: admin check in chat %s failed: %s", chat.id, exc)
            await self._answer(query, "I couldn't check whether you are an admin here; "
                                      "nothing was changed.", alert=True)
            return
        reply = await self.commands.dispatch(
            self._incoming(chat, query.from_user, data, is_admin))
        if reply.ok and shown_in_chat(data):  # a list: too long for the little answer
            await self._answer(query, reply.body.plain().split("\n", 1)[0])
            await self._reply(message, reply)  # type: ignore[arg-type]
            return
        await self._answer(query, reply.body.plain(), alert=not reply.ok)

    async def _on_membership(self, update: Update,
                             _context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None:
            return
        member = change.new_chat_member
        present = member.status in PRESENT_STATUSES or (
            member.status == ChatMember.RESTRICTED and getattr(member, "is_member", False))
        ref = chat_ref(change.chat)
        reason = ("bot was blocked by the user" if ref.kind == "user"
                  else f"bot was removed from the chat ({member.status})")
        await self.commands.membership_changed(ref, present, reason)

    async def _answer(self, query: Any, text: str, alert: bool = False) -> None:
        try:
            await query.answer(short(text, MAX_ANSWER_CHARS), show_alert=alert)
        except TelegramError as exc:  # a query older than ~15 minutes can't be answered
            log.warning("telegram: answerCallbackQuery failed: %s", exc)
