"""Inbound Telegram: commands, /import documents, button presses and the bot's own
membership changes, turned into the core's Incoming and answered where they came from.

`TelegramInbound` is the receiving half of `adapters.telegram_bot.TelegramAdapter` (whose
Application routes updates to these handlers). Who is who: a private chat is one person;
in a group or supergroup only its admins (getChatMember: creator or administrator, or an
anonymous admin posting as the group) may run admin-only commands; commands posted in a
channel configure that channel. Inline buttons carry a command line as callback_data; a
press runs it in the button's chat and is answered through answerCallbackQuery. A
document sent with the caption /import (at most 64 KB) is downloaded (getFile) and handed
to the command. `my_chat_member` updates switch the chat off or on in the core at once.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from telegram import Chat, ChatMember, MaybeInaccessibleMessage, Message, Update, User
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from adapters.telegram_feedback import shown_in_chat
from adapters.telegram_render import split_body
from adapters.telegram_send import TelegramSending
from bot.commands.handlers import Commands, CommandSpec, split_command
from bot.types import Attachment, ChatRef, Incoming, Reply, SendError
from bot.wording import short

log = logging.getLogger("adapters.telegram_bot")  # one logger for the whole adapter, as before

MAX_ANSWER_CHARS = 200  # answerCallbackQuery text
# the users Telegram puts on messages sent as a group (anonymous admin) or as a channel
STAND_IN_USERS = (1087968824, 136817688)
MAX_IMPORT_BYTES = 64 * 1024  # a watch list is a few KB; anything bigger is not one
# the bot's own membership: blocked/unblocked by a person, removed from/added to a group
PRESENT_STATUSES = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER)
ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
IMPORT = re.compile(r"^/import(@\w+)?(\s|$)", re.IGNORECASE)
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


class TelegramInbound(TelegramSending):
    """The update handlers: run a command line for its sender, answer in its chat."""

    commands: Commands
    specs: dict[str, CommandSpec]

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

    async def _reply(self, message: MaybeInaccessibleMessage, reply: Reply) -> None:
        """Answer a command where it was typed (threaded under it in groups); a button's
        message may be too old for Telegram to show it, but its chat and id are kept."""
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
            await self._reply(message, reply)
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
