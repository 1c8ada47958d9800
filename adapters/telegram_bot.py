"""The Telegram adapter: python-telegram-bot updates <-> Incoming/Reply, and send() for alerts.

Runs inside the bot's one event loop (`await adapter.start()` ... `await adapter.stop()`:
`async with application` + `application.start()` + `updater.start_polling()` or
`start_webhook()`, never `run_polling()`). At start it publishes the core command registry
with setMyCommands, so the menu always matches what the bot understands.

Who is who: a private chat is one person; in a group or supergroup the commands manage the
group's watches and only its admins (getChatMember: creator or administrator, or an
anonymous admin posting as the group) may change them; in a channel the bot is an admin
and commands posted in the channel configure that channel. Inline buttons carry a command
line ("/unwatch #3") as callback_data; pressing one runs it in the button's chat and the
answer comes back through answerCallbackQuery.

The bot's own membership updates (`my_chat_member`: blocked or unblocked by a person,
removed from or added to a group) switch the chat off or on in the core at once.

Everything is sent in HTML parse mode with every outside string escaped (`render_html`).
send() maps Telegram's refusals onto the core's send errors; it never retries by itself
except once as plain text when Telegram cannot parse the HTML.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
import warnings
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from telegram import (
    BotCommand,
    Chat,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBDeprecationWarning

from bot.commands.handlers import Commands, CommandSpec, split_command
from bot.config import TelegramConfig
from bot.delivery.render import fit
from bot.types import (
    Button,
    ChatMoved,
    ChatRef,
    Incoming,
    MessageRejected,
    OutMessage,
    PermanentSendError,
    RateLimited,
    Reply,
    RichText,
    SendError,
    Span,
    TransientSendError,
)

log = logging.getLogger(__name__)

MAX_CHARS = 4096  # per message, after entity parsing
MAX_ANSWER_CHARS = 200  # answerCallbackQuery text
MAX_CALLBACK_BYTES = 64  # callback_data
ALLOWED_UPDATES = ("message", "channel_post", "callback_query", "my_chat_member")
# the bot's own membership: blocked/unblocked by a person, removed from/added to a group
PRESENT_STATUSES = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER)
ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
LINK_SCHEMES = ("http://", "https://", "tg://")
SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

# BadRequest descriptions that mean "this chat will not take messages from us", not "this
# message is wrong" (the bot lost its rights in a channel, the chat was deleted ...).
_CHAT_GONE = ("chat not found", "not enough rights", "have no rights", "need administrator",
              "chat_write_forbidden", "bot is not a member", "user is deactivated",
              "peer_id_invalid", "group chat was deactivated", "chat_restricted",
              "chat was deleted", "bot was kicked")
_PARSE_ERROR = "can't parse entities"


# --- rendering -------------------------------------------------------------------------


def _span_html(span: Span) -> str:
    text = html.escape(span.text)
    if span.code:
        text = f"<code>{text}</code>"
    if span.italic:
        text = f"<i>{text}</i>"
    if span.bold:
        text = f"<b>{text}</b>"
    return text


def _merged(spans: tuple[Span, ...]) -> list[Span]:
    """Neighbouring spans with the same style as one (one <b> instead of two in a row)."""
    out: list[Span] = []
    for span in spans:
        last = out[-1] if out else None
        if last and (last.bold, last.italic, last.code) == (span.bold, span.italic, span.code):
            out[-1] = Span(last.text + span.text, span.bold, span.italic, span.code, span.link)
        else:
            out.append(span)
    return out


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
        index = 0
        while index < len(line):
            link = _safe_link(line[index].link)
            end = index + 1
            while end < len(line) and _safe_link(line[end].link) == link:
                end += 1
            inner = "".join(_span_html(span) for span in _merged(line[index:end]))
            parts.append(f'<a href="{html.escape(link)}">{inner}</a>' if link else inner)
            index = end
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


def chat_ref(chat: Chat) -> ChatRef:
    """A Telegram chat as the core sees it."""
    if chat.type == Chat.PRIVATE:
        kind = "user"
    elif chat.type == Chat.CHANNEL:
        kind = "channel"
    else:
        kind = "group"
    return ChatRef("telegram", str(chat.id), kind)


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


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --- the adapter -----------------------------------------------------------------------


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
            .build())
        names = list(self.specs)
        where = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        application.add_handler(CommandHandler(names, self._on_command, filters=where))
        # In a private chat anything else gets a hint; in groups other bots' commands and
        # chatter are none of our business.
        application.add_handler(MessageHandler(
            filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE & filters.TEXT,
            self._on_command))
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
        menu = [BotCommand(spec.name, _short(spec.summary, 256))
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
        buttons = () if chat.kind == "channel" else message.buttons
        await self._send_body(chat_id, message.body, buttons)

    async def _send_body(self, chat_id: int, body: RichText, buttons: tuple[Button, ...] = (),
                         reply_to: int | None = None) -> Message:
        """sendMessage in HTML; once more as plain text if Telegram cannot parse the HTML."""
        assert self.application is not None
        bot = self.application.bot
        common: dict[str, Any] = {
            "reply_markup": keyboard(buttons), "link_preview_options": NO_PREVIEW,
            "reply_parameters": (ReplyParameters(reply_to, allow_sending_without_reply=True)
                                 if reply_to is not None else None)}
        try:
            return await bot.send_message(chat_id, render_html(body), parse_mode=ParseMode.HTML,
                                          **common)
        except BadRequest as exc:
            if _PARSE_ERROR not in exc.message.lower():
                raise to_send_error(exc) from exc
            log.warning("telegram: chat %s refused our HTML (%s); sending plain text",
                        chat_id, exc.message)
        except TelegramError as exc:
            raise to_send_error(exc) from exc
        try:
            return await bot.send_message(chat_id, _short(render_plain(body), MAX_CHARS),
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

    def _incoming(self, chat: Chat, user: User | None, text: str, is_admin: bool) -> Incoming:
        name = (user.full_name if user else chat.title) or ""
        return Incoming(chat=chat_ref(chat), text=text, user_id=str(user.id) if user else "",
                        user_name=name, is_admin=is_admin)

    async def _on_command(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None:
            return
        try:
            is_admin = await self._may_configure(message.chat, message.from_user,
                                                 message.sender_chat, message.text)
        except TelegramError as exc:
            log.warning("telegram: admin check in chat %s failed: %s", message.chat.id, exc)
            await self._reply(message, Reply.text(
                "I couldn't check whether you are an admin here (Telegram didn't answer). "
                "Nothing was changed; please try again.", ok=False))
            return
        reply = await self.commands.dispatch(
            self._incoming(message.chat, message.from_user, message.text, is_admin))
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
            await query.answer(_short(text, MAX_ANSWER_CHARS), show_alert=alert)
        except TelegramError as exc:  # a query older than ~15 minutes can't be answered
            log.warning("telegram: answerCallbackQuery failed: %s", exc)
