"""A fake Discord (REST API + gateway websocket) on 127.0.0.1 for driving the real discord.py.

REST: the routes paperwatch uses (login, application info, /gateway/bot, command sync,
DM channel creation, channel messages, interaction callbacks and follow-ups), recorded
in order, answered the way Discord does (JSON with exactly `application/json`, error
bodies with a `code`, 429 with a `Via` header so discord.py takes it as a rate limit).
It checks what Discord checks on a message: embed limits (title 256, description 4096,
6000 over a message, 10 embeds), button labels and custom ids.

Gateway: HELLO, heartbeat ACK, IDENTIFY -> READY (guilds unavailable) then GUILD_CREATE
for each guild, RESUME -> RESUMED, and `dispatch()` to push any event, e.g.
INTERACTION_CREATE built with `slash()`, `autocomplete()` or `button_press()`.

    async with FakeDiscord() as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", fake.gateway)

Files: a message sent with files (multipart: `payload_json` and `files[n]`) keeps them in
`Posted.files`; `add_attachment()` stores a file a user attached, served at its CDN URL on
this server, for a slash command's attachment option (`slash(..., attachments=...)`).

Tests script failures with `fail(method, path, FakeError...)` and wait for what the bot
did with `await fake.next_callback(interaction_id)` / `await fake.next_message(channel)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yarl
from aiohttp import WSMsgType, web

APP_ID = 1100000000000000001
BOT_ID = 1100000000000000002
OWNER_ID = 1100000000000000003
EPHEMERAL = 64
JOINED = "2025-01-01T00:00:00+00:00"

# permission bits (https://discord.com/developers/docs/topics/permissions)
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
MANAGE_GUILD = 1 << 5
MEMBER = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS


@dataclass
class FakeError:
    """One scripted error answer."""

    status: int
    code: int
    message: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.extra}

    @staticmethod
    def dms_closed() -> FakeError:
        return FakeError(403, 50007, "Cannot send messages to this user")

    @staticmethod
    def missing_access() -> FakeError:
        return FakeError(403, 50001, "Missing Access")

    @staticmethod
    def unknown_channel() -> FakeError:
        return FakeError(404, 10003, "Unknown Channel")

    @staticmethod
    def rate_limited(retry_after: float, scope: str = "user", is_global: bool = False) -> FakeError:
        return FakeError(429, 0, "You are being rate limited.",
                         {"retry_after": retry_after, "global": is_global},
                         {"Via": "1.1 google", "Retry-After": str(max(1, int(retry_after))),
                          "X-RateLimit-Scope": scope,
                          **({"X-RateLimit-Global": "true"} if is_global else {})})

    @staticmethod
    def server_error() -> FakeError:
        return FakeError(503, 0, "Service Unavailable")


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str  # without the /api/v10 prefix
    query: dict[str, str]
    json: Any
    status: int = 200
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (filename, content)


@dataclass
class Posted:
    """A message the bot posted: to a channel, as an interaction response or a follow-up."""

    channel_id: int | None
    payload: dict[str, Any]
    id: int = 0
    interaction_id: int | None = None
    kind: str = "message"  # "message", "callback" or "followup"
    files: list[tuple[str, bytes]] = field(default_factory=list)  # (filename, content)

    @property
    def data(self) -> dict[str, Any]:
        """The message part: a callback's `data`, or the whole payload otherwise."""
        return (self.payload.get("data") or {}) if self.kind == "callback" else self.payload

    @property
    def embeds(self) -> list[dict[str, Any]]:
        return self.data.get("embeds") or []

    @property
    def flags(self) -> int:
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def text(self) -> str:
        """Content, then each embed's title and description, one per line."""
        parts = [self.data.get("content") or ""]
        for embed in self.embeds:
            parts += [embed.get("title") or "", embed.get("description") or ""]
        return "\n".join(p for p in parts if p)

    def selects(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(custom_id, [(label, value), ...]) of every select menu, row by row."""
        rows = self.data.get("components") or []
        return [(c.get("custom_id", ""), [(o["label"], o["value"]) for o in c.get("options", [])])
                for row in rows for c in row.get("components", []) if c.get("type") == 3]

    def buttons(self) -> list[tuple[str, str]]:
        """(label, custom_id) of every button, row by row."""
        rows = self.data.get("components") or []
        return [(b.get("label", ""), b.get("custom_id", "")) for row in rows
                for b in row.get("components", []) if b.get("type") == 2]


def user(user_id: int, name: str = "ann") -> dict[str, Any]:
    return {"id": str(user_id), "username": name, "discriminator": "0", "global_name": name.title(),
            "avatar": None, "bot": False, "public_flags": 0}


def member(user_obj: dict[str, Any], permissions: int = MEMBER) -> dict[str, Any]:
    return {"user": user_obj, "roles": [], "joined_at": JOINED, "deaf": False, "mute": False,
            "flags": 0, "pending": False, "nick": None, "avatar": None,
            "premium_since": None, "communication_disabled_until": None,
            "permissions": str(permissions)}


def text_channel(channel_id: int, guild_id: int, name: str = "general") -> dict[str, Any]:
    return {"id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": name,
            "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None,
            "topic": None, "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}


def guild(guild_id: int, channels: list[int], name: str = "ML lab") -> dict[str, Any]:
    everyone = {"id": str(guild_id), "name": "@everyone", "permissions": str(MEMBER),
                "position": 0, "color": 0, "hoist": False, "managed": False,
                "mentionable": False, "flags": 0}
    return {"id": str(guild_id), "name": name, "icon": None, "owner_id": str(OWNER_ID),
            "roles": [everyone], "emojis": [], "stickers": [], "features": [],
            "channels": [text_channel(c, guild_id, f"chan-{n}") for n, c in enumerate(channels)],
            "members": [], "threads": [], "member_count": 2, "unavailable": False,
            "premium_tier": 0, "preferred_locale": "en-US", "verification_level": 0,
            "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0,
            "nsfw_level": 0, "system_channel_flags": 0, "afk_timeout": 300, "large": False,
            "joined_at": JOINED, "voice_states": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "soundboard_sounds": []}


class _Refused(Exception):
    def __init__(self, error: FakeError) -> None:
        super().__init__(error.message)
        self.error = error


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses JSON only when the content type is exactly application/json
    return web.Response(body=json.dumps(data).encode(), status=status,
                        headers={"Content-Type": "application/json", **(headers or {})})


EMBED_LIMITS = {"title": 256, "description": 4096}


def check_message(data: dict[str, Any]) -> str | None:
    """What Discord would refuse in a message payload (a 50035 reason), or None."""
    embeds = data.get("embeds") or []
    if len(embeds) > 10:
        return "embeds: must be 10 or fewer in length"
    total = 0
    for n, embed in enumerate(embeds):
        for key, limit in EMBED_LIMITS.items():
            value = embed.get(key) or ""
            if len(value) > limit:
                return f"embeds.{n}.{key}: must be {limit} or fewer in length"
            total += len(value)
        footer = (embed.get("footer") or {}).get("text") or ""
        if len(footer) > 2048:
            return f"embeds.{n}.footer.text: must be 2048 or fewer in length"
        total += len(footer)
        url = embed.get("url")
        if url is not None and not re.match(r"^https?://[^\s]+$", url):
            return f"embeds.{n}.url: Not a well formed URL."
    if total > 6000:
        return "embeds: embed size exceeds maximum size of 6000"
    if len(data.get("content") or "") > 2000:
        return "content: must be 2000 or fewer in length"
    if not (data.get("content") or embeds or data.get("components")):
        return "Cannot send an empty message"
    for row in data.get("components") or []:
        for button in row.get("components", []):
            if len(button.get("label", "")) > 80:
                return "components: label must be 80 or fewer in length"
            if len(button.get("custom_id", "")) > 100:
                return "components: custom_id must be 100 or fewer in length"
    return None


class FakeDiscord:
    """The fake server. Start with `async with`, then point discord.py at it."""

    def __init__(self, token: str = "fake.bot.token", guilds: list[dict[str, Any]] | None = None,
                 host: str = "127.0.0.1", recommended_shards: int = 1) -> None:
        self.token = token
        self.host = host
        self.port = 0
        self.guilds = list(guilds or [])
        self.recommended_shards = recommended_shards
        self.calls: list[Call] = []
        self.posted: list[Posted] = []
        self.unknown_routes: list[str] = []
        self.refused: list[tuple[str, str]] = []  # (path, reason) of every payload we refused
        self.identifies: list[dict[str, Any]] = []
        self.heartbeats = 0
        self.resumes = 0
        self.command_sets: dict[str, list[dict[str, Any]]] = {}  # "global" or guild id
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self.failures: dict[tuple[str, str], list[FakeError]] = {}
        self.uploads: dict[int, tuple[dict[str, Any], bytes]] = {}  # attachment id -> file
        self.downloads: list[int] = []  # attachment ids the bot downloaded
        self._sockets: list[tuple[web.WebSocketResponse, list[int]]] = []  # ws, [seq]
        self._ids = itertools.count(1200000000000000000)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None

    # --- lifecycle --------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/api/v10"

    @property
    def gateway(self) -> yarl.URL:
        return yarl.URL(f"ws://{self.host}:{self.port}/gateway")

    async def __aenter__(self) -> FakeDiscord:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        app.router.add_get("/attachments/{id}/{name}", self._attachment)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for ws, _seq in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what tests do ------------------------------------------------------------------

    def fail(self, method: str, path: str, *errors: FakeError) -> None:
        """Answer the next `method path` requests (path as the bot sends it, e.g.
        /channels/123/messages) with these errors, one per request."""
        self.failures.setdefault((method.upper(), path), []).extend(errors)

    def add_attachment(self, filename: str, data: bytes, content_type: str = "text/plain",
                       size: int | None = None) -> dict[str, Any]:
        """A file a user attached to a command; `size` is what Discord announces (default:
        the real size). Returns the attachment object for `slash(attachments=...)`."""
        attachment_id = next(self._ids)
        url = f"http://{self.host}:{self.port}/attachments/{attachment_id}/{filename}"
        obj = {"id": str(attachment_id), "filename": filename, "content_type": content_type,
               "size": len(data) if size is None else size, "url": url, "proxy_url": url}
        self.uploads[attachment_id] = (obj, data)
        return obj

    def dm_channel(self, user_id: int) -> int:
        """The DM channel id Discord gives (or will give) for a user."""
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = next(self._ids)
        return self.dm_channels[user_id]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until predicate() is truthy (checked whenever the fake records something)."""
        async def waiting() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result
        return await asyncio.wait_for(waiting(), timeout)

    async def _changed_now(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def messages(self, channel_id: int | None = None) -> list[Posted]:
        return [p for p in self.posted if p.kind == "message"
                and (channel_id is None or p.channel_id == channel_id)]

    async def next_message(self, channel_id: int, after: int | None = None,
                           timeout: float = 10.0) -> Posted:
        seen = len(self.messages(channel_id)) if after is None else after

        def found() -> Posted | None:
            mine = self.messages(channel_id)
            return mine[seen] if len(mine) > seen else None
        return await self.wait_for(found, timeout)

    def answers(self, interaction_id: int) -> list[Posted]:
        """Callback first, then follow-ups, for one interaction."""
        return [p for p in self.posted if p.interaction_id == interaction_id]

    async def next_callback(self, interaction_id: int, timeout: float = 10.0) -> Posted:
        return await self.wait_for(
            lambda: next((p for p in self.posted if p.interaction_id == interaction_id
                          and p.kind == "callback"), None), timeout)

    def requests(self, method: str, path_pattern: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.fullmatch(path_pattern, c.path)]

    # --- gateway events ---------------------------------------------------------------

    async def wait_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        """Until `count` gateway sessions have been sent READY."""
        await self.wait_for(lambda: len(self.identifies) >= count and len(self._sockets) >= count,
                            timeout)

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send one DISPATCH to every connected session."""
        if not self._sockets:
            raise RuntimeError("no gateway session is connected")
        for ws, seq in list(self._sockets):
            seq[0] += 1
            await ws.send_str(json.dumps({"op": 0, "t": event, "s": seq[0], "d": data}))

    async def drop_connections(self, code: int = 4000) -> None:
        """Close every gateway session the way Discord does when it wants a RESUME."""
        sockets, self._sockets = self._sockets, []
        for ws, _seq in sockets:
            await ws.close(code=code, message=b"Unknown error")

    def _interaction(self, itype: int, data: dict[str, Any], user_obj: dict[str, Any],
                     guild_id: int | None, channel_id: int, permissions: int,
                     message: dict[str, Any] | None = None) -> dict[str, Any]:
        iid = next(self._ids)
        payload: dict[str, Any] = {
            "id": str(iid), "application_id": str(APP_ID), "type": itype, "data": data,
            "token": f"itoken-{iid}", "version": 1, "locale": "en-US", "entitlements": [],
            "attachment_size_limit": 8388608, "channel_id": str(channel_id),
            "app_permissions": str(MEMBER)}
        if guild_id is None:
            payload.update(user=user_obj, context=1,
                           channel={"id": str(channel_id), "type": 1,
                                    "recipients": [user_obj]},
                           authorizing_integration_owners={"0": "0"})
        else:
            payload.update(guild_id=str(guild_id), member=member(user_obj, permissions),
                           guild_locale="en-US", context=0,
                           channel=text_channel(channel_id, guild_id),
                           authorizing_integration_owners={"0": str(guild_id)})
        if message is not None:
            payload["message"] = message
        return payload

    def slash(self, name: str, options: dict[str, Any] | None = None, *,
              user_obj: dict[str, Any], guild_id: int | None = None,
              channel_id: int | None = None, permissions: int = MEMBER,
              channels: dict[str, dict[str, Any]] | None = None,
              attachments: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """An application command interaction (type 2). `channels`: option name -> channel
        payload for channel options, `attachments`: option name -> an `add_attachment()`
        object (both sent as `resolved`)."""
        opts = []
        resolved: dict[str, Any] = {}
        for key, attachment in (attachments or {}).items():
            opts.append({"name": key, "type": 11, "value": attachment["id"]})
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
        for key, value in (options or {}).items():
            if channels and key in channels:
                chan = channels[key]
                opts.append({"name": key, "type": 7, "value": chan["id"]})
                resolved.setdefault("channels", {})[chan["id"]] = {
                    "id": chan["id"], "name": chan.get("name", "chan"), "type": chan["type"],
                    "permissions": str(MEMBER), "guild_id": chan.get("guild_id")}
            elif isinstance(value, bool):
                opts.append({"name": key, "type": 5, "value": value})
            elif isinstance(value, int):
                opts.append({"name": key, "type": 4, "value": value})
            else:
                opts.append({"name": key, "type": 3, "value": value})
        data: dict[str, Any] = {"id": str(next(self._ids)), "name": name, "type": 1,
                                "options": opts}
        if resolved:
            data["resolved"] = resolved
        if channel_id is None:
            channel_id = self.dm_channel(int(user_obj["id"])) if guild_id is None else 1
        return self._interaction(2, data, user_obj, guild_id, channel_id, permissions)

    def autocomplete(self, name: str, option: str, typed: str, *, user_obj: dict[str, Any],
                     guild_id: int | None = None, channel_id: int | None = None,
                     others: dict[str, Any] | None = None) -> dict[str, Any]:
        """An autocomplete interaction (type 4) with `option` focused."""
        payload = self.slash(name, {**(others or {}), option: typed}, user_obj=user_obj,
                             guild_id=guild_id, channel_id=channel_id)
        payload["type"] = 4
        for opt in payload["data"]["options"]:
            if opt["name"] == option:
                opt["focused"] = True
        return payload

    def button_press(self, message: Posted, custom_id: str, *, user_obj: dict[str, Any],
                     guild_id: int | None = None) -> dict[str, Any]:
        """A press on a button (type 3) of a message the bot posted."""
        assert message.channel_id is not None
        data = {"custom_id": custom_id, "component_type": 2}
        return self._interaction(3, data, user_obj, guild_id, message.channel_id, MEMBER,
                                 message=self._message_object(message.channel_id, message.id,
                                                              message.payload))

    def select_press(self, message: Posted, custom_id: str, values: list[str], *,
                     user_obj: dict[str, Any], guild_id: int | None = None) -> dict[str, Any]:
        """A choice in a string select menu (component type 3) of a message the bot posted."""
        assert message.channel_id is not None
        data = {"custom_id": custom_id, "component_type": 3, "values": values}
        return self._interaction(3, data, user_obj, guild_id, message.channel_id, MEMBER,
                                 message=self._message_object(message.channel_id, message.id,
                                                              message.payload))

    async def interact(self, payload: dict[str, Any]) -> int:
        """Dispatch an INTERACTION_CREATE; returns the interaction id."""
        await self.dispatch("INTERACTION_CREATE", payload)
        return int(payload["id"])

    # --- the gateway ------------------------------------------------------------------

    def _ready(self, shard: list[int] | None) -> dict[str, Any]:
        bot = {**user(BOT_ID, "paperwatch"), "bot": True, "verified": True, "mfa_enabled": False,
               "flags": 0}
        data: dict[str, Any] = {
            "v": 10, "user": bot, "session_id": f"session-{len(self.identifies)}",
            "resume_gateway_url": str(self.gateway), "private_channels": [],
            "guilds": [{"id": g["id"], "unavailable": True} for g in self._guilds_of(shard)],
            "application": {"id": str(APP_ID), "flags": 0}}
        if shard is not None:
            data["shard"] = shard
        return data

    def _guilds_of(self, shard: list[int] | None) -> list[dict[str, Any]]:
        if shard is None:
            return self.guilds
        shard_id, count = shard
        return [g for g in self.guilds if (int(g["id"]) >> 22) % count == shard_id]

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        seq = [0]
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                if op == 1:
                    self.heartbeats += 1
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    await self._identify(ws, seq, payload["d"])
                elif op == 6:
                    seq[0] = int(payload["d"].get("seq") or 0) + 1
                    await ws.send_str(json.dumps({"op": 0, "t": "RESUMED", "s": seq[0], "d": {}}))
                    async with self._changed:
                        self.resumes += 1
                        self._sockets.append((ws, seq))
                        self._changed.notify_all()
        finally:
            self._sockets = [(s, q) for s, q in self._sockets if s is not ws]
        return ws

    async def _identify(self, ws: web.WebSocketResponse, seq: list[int],
                        data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard")
        seq[0] += 1
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": seq[0],
                                      "d": self._ready(shard)}))
        if int(data.get("intents", 0)) & 1:  # GUILDS
            for g in self._guilds_of(shard):
                seq[0] += 1
                await ws.send_str(json.dumps({"op": 0, "t": "GUILD_CREATE", "s": seq[0],
                                              "d": g}))
        async with self._changed:
            self.identifies.append(data)
            self._sockets.append((ws, seq))
            self._changed.notify_all()

    # --- REST -------------------------------------------------------------------------

    def _message_object(self, channel_id: int, message_id: int,
                        data: dict[str, Any]) -> dict[str, Any]:
        bot = {**user(BOT_ID, "paperwatch"), "bot": True}
        return {"id": str(message_id), "channel_id": str(channel_id), "type": 0,
                "content": data.get("content") or "", "author": bot,
                "timestamp": "2026-11-24T12:00:00+00:00", "edited_timestamp": None,
                "tts": False, "mention_everyone": False, "mentions": [], "mention_roles": [],
                "attachments": [], "embeds": data.get("embeds") or [], "pinned": False,
                "components": data.get("components") or [], "flags": data.get("flags") or 0}

    async def _attachment(self, request: web.Request) -> web.Response:
        attachment_id = int(request.match_info["id"])
        if attachment_id not in self.uploads:
            return web.Response(status=404)
        self.downloads.append(attachment_id)
        await self._changed_now()
        obj, data = self.uploads[attachment_id]
        return web.Response(body=data, content_type=obj["content_type"])

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["path"]
        body: Any = None
        files: list[tuple[str, bytes]] = []
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            body = json.loads(str(form["payload_json"])) if "payload_json" in form else None
            files = [(part.filename, part.file.read()) for name, part in form.items()
                     if name.startswith("files[") and isinstance(part, web.FileField)]
        elif request.can_read_body:
            raw = await request.read()
            if raw and request.content_type == "application/json":
                body = json.loads(raw)
        call = Call(request.method, path, dict(request.query), body, files=files)
        self.calls.append(call)
        if request.headers.get("Authorization") != f"Bot {self.token}" and \
                not path.startswith("/interactions/") and not path.startswith("/webhooks/"):
            call.status = 401
            await self._changed_now()
            return _json({"code": 0, "message": "401: Unauthorized"}, 401)
        queued = self.failures.get((request.method, path))
        if queued:
            error = queued.pop(0)
            call.status = error.status
            await self._changed_now()
            return _json(error.body(), error.status, error.headers)
        try:
            status, result = await self._route(request.method, path, call)
        except _Refused as exc:
            call.status = exc.error.status
            await self._changed_now()
            return _json(exc.error.body(), exc.error.status)
        call.status = status
        await self._changed_now()
        if status == 204:
            return web.Response(status=204)
        return _json(result, status)

    async def _route(self, method: str, path: str, call: Call) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        body = call.json or {}
        if method == "GET" and path == "/users/@me":
            return 200, {**user(BOT_ID, "paperwatch"), "bot": True, "verified": True,
                         "mfa_enabled": False, "flags": 0}
        if method == "GET" and path == "/oauth2/applications/@me":
            return 200, {"id": str(APP_ID), "name": "paperwatch", "icon": None,
                         "description": "", "bot_public": True, "bot_require_code_grant": False,
                         "owner": user(OWNER_ID, "owner"), "team": None, "verify_key": "ab",
                         "flags": 0, "summary": "", "rpc_origins": []}
        if method == "GET" and path in ("/gateway", "/gateway/bot"):
            return 200, {"url": str(self.gateway), "shards": self.recommended_shards,
                         "session_start_limit": {"total": 1000, "remaining": 999,
                                                 "reset_after": 0, "max_concurrency": 1}}
        if method == "PUT" and parts[:2] == ["applications", str(APP_ID)] and \
                parts[-1] == "commands":
            where = parts[3] if len(parts) == 5 and parts[2] == "guilds" else "global"
            self.command_sets[where] = list(body)
            return 200, [{**cmd, "id": str(next(self._ids)), "application_id": str(APP_ID),
                          "version": "1", **({"guild_id": where} if where != "global" else {})}
                         for cmd in body]
        if method == "POST" and path == "/users/@me/channels":
            recipient = int(body["recipient_id"])
            channel_id = self.dm_channel(recipient)
            return 200, {"id": str(channel_id), "type": 1, "last_message_id": None,
                         "recipients": [user(recipient)], "flags": 0}
        if method == "POST" and len(parts) == 3 and parts[0] == "channels" and \
                parts[2] == "messages":
            return 200, self._post(int(parts[1]), body, "message", None, path, call.files)
        if method == "POST" and len(parts) == 4 and parts[0] == "interactions" and \
                parts[3] == "callback":
            interaction_id = int(parts[1])
            if body.get("type") in (4, 7):
                reason = check_message(body.get("data") or {})
                if reason:
                    self.refused.append((path, reason))
                    raise _Refused(FakeError(400, 50035, f"Invalid Form Body: {reason}"))
            posted = Posted(None, body, next(self._ids), interaction_id, "callback",
                            files=call.files)
            self.posted.append(posted)
            data = body.get("data") or {}
            return 200, {"interaction": {
                "id": str(interaction_id), "type": 2, "response_message_id": str(posted.id),
                "response_message_loading": body.get("type") == 5,
                "response_message_ephemeral": bool(int(data.get("flags") or 0) & EPHEMERAL)}}
        if method == "POST" and len(parts) == 3 and parts[0] == "webhooks":
            interaction_id = int(parts[2].removeprefix("itoken-"))
            message = self._post(None, body, "followup", interaction_id, path, call.files)
            return 200, message
        self.unknown_routes.append(f"{method} {path}")
        raise _Refused(FakeError(404, 0, "404: Not Found"))

    def _post(self, channel_id: int | None, body: dict[str, Any], kind: str,
              interaction_id: int | None, path: str,
              files: list[tuple[str, bytes]] | None = None) -> dict[str, Any]:
        reason = check_message(body)
        if reason:
            self.refused.append((path, reason))
            raise _Refused(FakeError(400, 50035, f"Invalid Form Body: {reason}"))
        posted = Posted(channel_id, body, next(self._ids), interaction_id, kind,
                        files=list(files or []))
        self.posted.append(posted)
        return self._message_object(channel_id or 1, posted.id, body)
