"""A fake Telegram Bot API on 127.0.0.1 for driving the real python-telegram-bot in tests.

It speaks the subset paperwatch uses (getMe, setMyCommands, deleteWebhook, getUpdates long
polling, setWebhook, sendMessage, sendDocument, answerCallbackQuery, getChatMember, getFile
and the file download URL), records every call,
and checks what the bot sends the way Telegram does: HTML parse mode must use supported
tags only, escape `<` and `&`, and stay within 4096 characters once parsed. Tests queue
updates (`push_command`, `push_callback`, `push_channel_post`), set who is a group admin
(`set_member`), script failures (`fail("sendMessage", chat_id, FakeError.forbidden())`),
slow a method down (`delay("getChatMember", chat_id, 2.0)`), send the bot a document
(`push_document`), and wait for what the bot sent (`await fake.next_sent(chat_id)`,
`await fake.next_document(chat_id)`).

    async with FakeTelegramAPI() as fake:
        Application.builder().token(fake.token).base_url(fake.base_url) ...
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import ClientSession, web

BOT_ID = 7000001
ALLOWED_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
                "ins": "underline", "s": "strikethrough", "strike": "strikethrough",
                "del": "strikethrough", "a": "text_link", "code": "code", "pre": "pre",
                "tg-spoiler": "spoiler", "blockquote": "blockquote"}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
MAX_TEXT = 4096


class EntityParseError(ValueError):
    """What Telegram answers with 400 "can't parse entities: ..."."""


@dataclass
class Entity:
    type: str
    offset: int
    length: int
    url: str | None = None


class _TelegramHTML(HTMLParser):
    """Parse Telegram-flavoured HTML strictly into text + entities (as the server does)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.text: list[str] = []
        self.stack: list[tuple[str, int, str | None]] = []
        self.entities: list[Entity] = []

    def _pos(self) -> int:
        return sum(len(part) for part in self.text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            raise EntityParseError(f"Unsupported start tag \"{tag}\" at byte offset "
                                   f"{self.getpos()[1]}")
        url = dict(attrs).get("href") if tag == "a" else None
        if tag == "a" and not url:
            raise EntityParseError("Can't find end of the entity starting at byte offset "
                                   f"{self.getpos()[1]}")
        self.stack.append((tag, self._pos(), url))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1][0] != tag:
            raise EntityParseError(f"Can't find end tag corresponding to start tag \"{tag}\"")
        _tag, start, url = self.stack.pop()
        if self._pos() > start:
            self.entities.append(Entity(ALLOWED_TAGS[tag], start, self._pos() - start, url))

    def handle_data(self, data: str) -> None:
        for bad in "<>&":
            if bad in data:
                raise EntityParseError(f"Unescaped {bad!r} in text: {data[:40]!r}")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES:
            raise EntityParseError(f"Unsupported HTML entity \"&{name};\"")
        self.text.append(NAMED_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        code = int(name[1:], 16) if name[:1] in "xX" else int(name)
        self.text.append(chr(code))

    def unknown_decl(self, data: str) -> None:  # pragma: no cover - only for odd input
        raise EntityParseError(f"Unsupported declaration {data[:20]!r}")

    handle_comment = handle_decl = handle_pi = unknown_decl


def parse_html(source: str) -> tuple[str, list[Entity]]:
    """Telegram HTML -> (plain text, entities); raises EntityParseError like the server."""
    parser = _TelegramHTML()
    parser.feed(source)
    parser.close()
    if parser.rawdata:  # HTMLParser keeps an unfinished tag or entity here
        raise EntityParseError(f"Unclosed markup at the end: {parser.rawdata[:40]!r}")
    if parser.stack:
        raise EntityParseError(f"Can't find end tag corresponding to start tag "
                               f"\"{parser.stack[-1][0]}\"")
    entities = sorted(parser.entities, key=lambda e: (e.offset, -e.length))
    return "".join(parser.text), entities


@dataclass
class FakeError:
    """One scripted error answer: HTTP status and the Bot API error body."""

    status: int
    description: str
    parameters: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ok": False, "error_code": self.status,
                               "description": self.description}
        if self.parameters:
            out["parameters"] = self.parameters
        return out

    @staticmethod
    def retry_after(seconds: int) -> FakeError:
        return FakeError(429, f"Too Many Requests: retry after {seconds}",
                         {"retry_after": seconds})

    @staticmethod
    def forbidden(what: str = "bot was blocked by the user") -> FakeError:
        return FakeError(403, f"Forbidden: {what}")

    @staticmethod
    def migrated(new_chat_id: int) -> FakeError:
        return FakeError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                         {"migrate_to_chat_id": new_chat_id})

    @staticmethod
    def bad_request(what: str) -> FakeError:
        return FakeError(400, f"Bad Request: {what}")


@dataclass
class Sent:
    """One sendMessage the fake accepted (or refused: then `error` says why)."""

    chat_id: int
    text: str
    parse_mode: str | None
    reply_markup: dict[str, Any] | None
    params: dict[str, Any]
    plain: str = ""  # the text as a Telegram user sees it
    entities: list[Entity] = field(default_factory=list)
    error: str | None = None

    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of every inline button, row by row."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    def styled(self, kind: str) -> list[str]:
        """The texts covered by entities of one type (bold, italic, text_link ...)."""
        return [self.plain[e.offset:e.offset + e.length] for e in self.entities if e.type == kind]

    def links(self) -> list[tuple[str, str | None]]:
        return [(self.plain[e.offset:e.offset + e.length], e.url)
                for e in self.entities if e.type == "text_link"]


@dataclass
class SentDocument:
    """One sendDocument the fake accepted: the uploaded file and its caption."""

    chat_id: int
    filename: str
    data: bytes
    caption: str
    params: dict[str, Any]


def user(user_id: int, first_name: str = "Ann", username: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username:
        out["username"] = username
    return out


def chat(chat_id: int, kind: str = "private", title: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"id": chat_id, "type": kind}
    if kind != "private":
        out["title"] = title or f"chat {chat_id}"
    else:
        out["first_name"] = title or "Ann"
    return out


class FakeTelegramAPI:
    """The fake server. Start with `async with`, then point the bot at `base_url`."""

    def __init__(self, token: str = "123456:TEST-token", username: str = "paperwatch_bot",
                 host: str = "127.0.0.1") -> None:
        self.token = token
        self.username = username
        self.host = host
        self.port = 0
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[Sent] = []  # every sendMessage, accepted or refused, in order
        self.answers: list[dict[str, Any]] = []  # answerCallbackQuery calls
        self.commands: list[dict[str, str]] | None = None  # from setMyCommands
        self.webhook: dict[str, Any] | None = None  # from setWebhook
        self.members: dict[tuple[int, int], str] = {}  # (chat, user) -> status
        self.chats: dict[int, dict[str, Any]] = {}
        self.failures: dict[tuple[str, int | None], list[FakeError]] = {}
        self.unknown_methods: list[str] = []
        self.raw_answers: dict[str, list[tuple[int, str]]] = {}  # method -> (status, body)
        self.delays: dict[tuple[str, int | None], float] = {}  # (method, chat) -> seconds
        self.documents: list[SentDocument] = []  # every sendDocument accepted, in order
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.downloads: list[str] = []  # file paths the bot downloaded
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._closing = False

    # --- lifecycle --------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What python-telegram-bot takes as base_url (the token is appended to it)."""
        return f"http://{self.host}:{self.port}/bot"

    async def __aenter__(self) -> FakeTelegramAPI:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._closing = True
        async with self._changed:
            self._changed.notify_all()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests do ------------------------------------------------------------------

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        """status: creator, administrator, member, restricted, left or kicked."""
        self.members[(chat_id, user_id)] = status

    def fail(self, method: str, chat_id: int | None, *errors: FakeError) -> None:
        """Answer the next calls of `method` (to `chat_id`, or any chat if None) with errors."""
        self.failures.setdefault((method, chat_id), []).extend(errors)

    def answer_raw(self, method: str, status: int, body: str, times: int = 1000) -> None:
        """Answer the next calls of `method` with this status and body, not the Bot API's
        JSON (a proxy's error page, junk): how the bot copes with a broken server."""
        self.raw_answers.setdefault(method, []).extend([(status, body)] * times)

    def delay(self, method: str, chat_id: int | None, seconds: float) -> None:
        """Answer every later call of `method` (about `chat_id`, or any chat) after a pause."""
        self.delays[(method, chat_id)] = seconds

    def add_file(self, data: bytes) -> str:
        """Store a file as if someone had uploaded it; returns its file_id."""
        file_id = f"file{len(self.files) + 1}"
        self.files[file_id] = (f"documents/{file_id}.txt", data)
        return file_id

    async def push_document(self, chat_obj: dict[str, Any], filename: str, data: bytes,
                            caption: str = "", mime_type: str = "text/plain",
                            sender: dict[str, Any] | None = None,
                            file_size: int | None = None) -> int:
        """A message carrying a document (with `caption`) sent to the bot. `file_size` is
        what Telegram announces (default: the real size)."""
        msg = self._message(chat_obj, "", sender or user(chat_obj["id"]))
        del msg["text"]
        file_id = self.add_file(data)
        msg["document"] = {"file_id": file_id, "file_unique_id": f"u{file_id}",
                           "file_name": filename, "mime_type": mime_type,
                           "file_size": len(data) if file_size is None else file_size}
        if caption:
            msg["caption"] = caption
            if caption.startswith("/"):
                head = caption.split(maxsplit=1)[0]
                msg["caption_entities"] = [{"type": "bot_command", "offset": 0,
                                            "length": len(head)}]
        return await self.push_update({"message": msg})

    async def next_document(self, chat_id: int, after: int = 0,
                            timeout: float = 10.0) -> SentDocument:
        """The first document sent to chat_id beyond the first `after` ones."""
        def found() -> SentDocument | None:
            mine = [d for d in self.documents if d.chat_id == chat_id]
            return mine[after] if len(mine) > after else None
        return await self.wait_for(found, timeout)

    def _message(self, chat_obj: dict[str, Any], text: str,
                 sender: dict[str, Any] | None) -> dict[str, Any]:
        self.chats[chat_obj["id"]] = chat_obj
        msg: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()),
                               "chat": chat_obj, "text": text}
        if sender is not None:
            msg["from"] = sender
        if text.startswith("/"):
            head = text.split(maxsplit=1)[0]
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(head)}]
        return msg

    async def push_update(self, update: dict[str, Any]) -> int:
        """Queue one raw update (its update_id is set here) for getUpdates."""
        update = {"update_id": next(self._update_ids), **update}
        async with self._changed:
            self._updates.append(update)
            self._changed.notify_all()
        return update["update_id"]

    def command_update(self, chat_obj: dict[str, Any], text: str,
                       sender: dict[str, Any] | None = None) -> dict[str, Any]:
        """An update carrying `text` typed by `sender` in `chat_obj` (a channel post if
        the chat is a channel)."""
        if chat_obj["type"] == "channel":
            msg = self._message(chat_obj, text, None)
            msg["sender_chat"] = chat_obj
            return {"channel_post": msg}
        sender = sender or user(chat_obj["id"])
        return {"message": self._message(chat_obj, text, sender)}

    async def push_command(self, chat_obj: dict[str, Any], text: str,
                           sender: dict[str, Any] | None = None) -> int:
        return await self.push_update(self.command_update(chat_obj, text, sender))

    async def push_callback(self, message: Sent, data: str,
                            sender: dict[str, Any] | None = None) -> str:
        """A press on an inline button of a message the bot sent; returns the query id."""
        chat_obj = self.chats.get(message.chat_id) or chat(message.chat_id)
        msg = {"message_id": message.params.get("message_id", 1), "date": int(time.time()),
               "chat": chat_obj, "text": message.plain, "from": self._me()}
        query_id = f"cbq{next(self._update_ids)}"
        await self.push_update({"callback_query": {
            "id": query_id, "chat_instance": f"ci{message.chat_id}", "data": data,
            "from": sender or user(message.chat_id), "message": msg}})
        return query_id

    async def post_webhook(self, update: dict[str, Any], secret: str | None) -> int:
        """POST one update to the bot's webhook as Telegram would; returns the HTTP status."""
        assert self.webhook is not None, "the bot never called setWebhook"
        update = {"update_id": next(self._update_ids), **update}
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        url = self.webhook["local_url"]
        async with ClientSession() as session, session.post(
                url, data=json.dumps(update), headers=headers) as response:
            return response.status

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until predicate() is truthy (checked on every call the bot makes)."""
        async def waiting() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result
        return await asyncio.wait_for(waiting(), timeout)

    async def next_sent(self, chat_id: int, after: int | None = None,
                        timeout: float = 10.0) -> Sent:
        """The first accepted message to chat_id beyond the first `after` ones (default:
        the number already sent there when called)."""
        seen = len(self.accepted(chat_id)) if after is None else after

        def found() -> Sent | None:
            mine = self.accepted(chat_id)
            return mine[seen] if len(mine) > seen else None
        return await self.wait_for(found, timeout)

    async def next_answer(self, query_id: str, timeout: float = 10.0) -> dict[str, Any]:
        return await self.wait_for(
            lambda: next((a for a in self.answers if a.get("callback_query_id") == query_id),
                         None), timeout)

    def accepted(self, chat_id: int | None = None) -> list[Sent]:
        return [s for s in self.sent if s.error is None
                and (chat_id is None or s.chat_id == chat_id)]

    def method_calls(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    # --- the server ---------------------------------------------------------------------

    def _me(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "paperwatch",
                "username": self.username, "can_join_groups": True,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        return dict(await request.post())  # multipart uploads keep their web.FileField

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        for file_path, data in self.files.values():
            if file_path == path:
                async with self._changed:
                    self.downloads.append(path)
                    self._changed.notify_all()
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await self._params(request)
        async with self._changed:
            self.calls.append((method, params))
            self._changed.notify_all()
        raw = self.raw_answers.get(method)
        if raw:
            status, body = raw.pop(0)
            return web.Response(status=status, text=body, content_type="text/html")
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            self.unknown_methods.append(method)
            return web.json_response({"ok": False, "error_code": 404,
                                      "description": "Not Found: method not found"}, status=404)
        chat_id = int(params["chat_id"]) if "chat_id" in params else None
        pause = self.delays.get((method, chat_id), self.delays.get((method, None), 0.0))
        if pause:
            await asyncio.sleep(pause)
        error = self._scripted_error(method, chat_id)
        if error is not None:
            if method == "sendMessage":
                await self._record_sent(params, error=error.description)
            return web.json_response(error.body(), status=error.status)
        try:
            result = await handler(params)
        except _Refused as refused:
            return web.json_response(refused.error.body(), status=refused.error.status)
        return web.json_response({"ok": True, "result": result})

    def _scripted_error(self, method: str, chat_id: int | None) -> FakeError | None:
        for key in ((method, chat_id), (method, None)):
            queue = self.failures.get(key)
            if queue:
                return queue.pop(0)
        return None

    async def _record_sent(self, params: dict[str, Any], error: str | None = None,
                           plain: str = "", entities: list[Entity] | None = None) -> Sent:
        markup = params.get("reply_markup")
        sent = Sent(chat_id=int(params["chat_id"]), text=str(params.get("text", "")),
                    parse_mode=params.get("parse_mode"),
                    reply_markup=json.loads(markup) if isinstance(markup, str) else markup,
                    params=params, plain=plain, entities=entities or [], error=error)
        async with self._changed:
            self.sent.append(sent)
            self._changed.notify_all()
        return sent

    async def _api_getMe(self, _params: dict[str, Any]) -> dict[str, Any]:
        return self._me()

    async def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = params["commands"]
        self.commands = json.loads(commands) if isinstance(commands, str) else commands
        return True

    async def _api_deleteWebhook(self, _params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    async def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = dict(params)
        return True

    def set_webhook_target(self, local_url: str) -> None:
        """Where post_webhook really sends (the public webhook URL is not reachable here)."""
        assert self.webhook is not None
        self.webhook["local_url"] = local_url

    async def _api_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        allowed = params.get("allowed_updates")
        allowed_types = set(json.loads(allowed)) if isinstance(allowed, str) else None

        def pending() -> list[dict[str, Any]]:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            return [u for u in self._updates
                    if allowed_types is None or set(u) - {"update_id"} <= allowed_types]

        async with self._changed:
            if not pending() and timeout > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(
                        lambda: self._closing or bool(pending())), timeout)
            return pending()[:int(params.get("limit") or 100)]

    async def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text = str(params.get("text", ""))
        plain, entities = text, []
        if params.get("parse_mode") == "HTML":
            try:
                plain, entities = parse_html(text)
            except EntityParseError as exc:
                reason = f"Bad Request: can't parse entities: {exc}"
                await self._record_sent(params, error=reason)
                raise _Refused(FakeError(400, reason)) from None
        if not plain.strip():
            await self._record_sent(params, error="Bad Request: message text is empty")
            raise _Refused(FakeError.bad_request("message text is empty"))
        if len(plain.encode("utf-16-le")) // 2 > MAX_TEXT:
            await self._record_sent(params, error="Bad Request: message is too long")
            raise _Refused(FakeError.bad_request("message is too long"))
        markup = params.get("reply_markup")
        if isinstance(markup, str):
            for row in json.loads(markup).get("inline_keyboard", []):
                for button in row:
                    if len(button.get("callback_data", "").encode()) > 64:
                        await self._record_sent(params, error="Bad Request: BUTTON_DATA_INVALID")
                        raise _Refused(FakeError.bad_request("BUTTON_DATA_INVALID"))
        chat_id = int(params["chat_id"])
        message_id = next(self._message_ids)
        params = {**params, "message_id": message_id}
        await self._record_sent(params, plain=plain, entities=entities)
        chat_obj = self.chats.get(chat_id) or chat(chat_id, "private" if chat_id > 0
                                                   else "supergroup")
        return {"message_id": message_id, "date": int(time.time()), "chat": chat_obj,
                "text": plain, "from": self._me()}

    async def _api_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        upload = params.get("document")
        if isinstance(upload, str) and upload.startswith("attach://"):
            upload = params.get(upload.removeprefix("attach://"))  # a named multipart part
        if not isinstance(upload, web.FileField):
            raise _Refused(FakeError.bad_request("there is no document in the request"))
        data = upload.file.read()
        if not data:
            raise _Refused(FakeError.bad_request("file must be non-empty"))
        chat_id = int(params["chat_id"])
        caption = str(params.get("caption", ""))
        document = SentDocument(chat_id, upload.filename, data, caption,
                                {k: v for k, v in params.items()
                                 if not isinstance(v, web.FileField)})
        async with self._changed:
            self.documents.append(document)
            self._changed.notify_all()
        file_id = self.add_file(data)
        chat_obj = self.chats.get(chat_id) or chat(chat_id)
        return {"message_id": next(self._message_ids), "date": int(time.time()),
                "chat": chat_obj, "from": self._me(), "caption": caption,
                "document": {"file_id": file_id, "file_unique_id": f"u{file_id}",
                             "file_name": upload.filename, "file_size": len(data)}}

    async def _api_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise _Refused(FakeError.bad_request("invalid file_id"))
        path, data = self.files[file_id]
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data),
                "file_path": path}

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        async with self._changed:
            self.answers.append(params)
            self._changed.notify_all()
        return True

    async def _api_getChatMember(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        status = self.members.get((chat_id, user_id), "member")
        member: dict[str, Any] = {"status": status, "user": user(user_id)}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update({key: True for key in (
                "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                "can_restrict_members", "can_change_info", "can_invite_users",
                "can_post_stories", "can_edit_stories", "can_delete_stories")})
            member.update(can_be_edited=False, is_anonymous=False, can_promote_members=False)
        elif status == "restricted":
            member.update(is_member=True, until_date=0, **{key: False for key in (
                "can_send_messages", "can_send_audios", "can_send_documents",
                "can_send_photos", "can_send_videos", "can_send_video_notes",
                "can_send_voice_notes", "can_send_polls", "can_send_other_messages",
                "can_add_web_page_previews", "can_change_info", "can_invite_users",
                "can_pin_messages", "can_manage_topics")})
        elif status == "kicked":
            member["until_date"] = 0
        return member


class _Refused(Exception):
    """Raised inside a method handler to answer with an error."""

    def __init__(self, error: FakeError) -> None:
        super().__init__(error.description)
        self.error = error
