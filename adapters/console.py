"""The console adapter: one chat on standard input and output, a first-class platform.

Each input line is one message from the console user (platform "console", one fixed chat
id, so every `paperwatch console` run shares its watches through the database). Replies and
alerts are written as plain text; links are shown after their text. Tests drive the bot
through this adapter: `await console.push("/watch diffusion")` returns the reply text.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TextIO

from bot.types import Button, ChatRef, Incoming, OutMessage, Reply, RichText

CONSOLE_CHAT = ChatRef("console", "console", "user")

Dispatch = Callable[[Incoming], Awaitable[Reply]]
ExtraCommand = Callable[[str], Awaitable[str]]


def render_plain(text: RichText) -> str:
    """Rich text as terminal text: a link follows its (possibly multi-span) text in <>."""
    return text.plain_with_links(" <{}>")


def render_buttons(buttons: tuple[Button, ...]) -> str:
    return "  ".join(f"[{b.label}: {b.command}]" for b in buttons)


class ConsoleAdapter:
    """Reads command lines, prints replies, and prints alerts sent to the console chat."""

    platform = "console"
    max_chars = 8000

    def __init__(self, dispatch: Dispatch, out: TextIO | None = None,
                 extra_commands: Mapping[str, ExtraCommand] | None = None,
                 after_line: Callable[[], Awaitable[None]] | None = None) -> None:
        self.dispatch = dispatch
        self.out = out or sys.stdout
        self.extra_commands = dict(extra_commands or {})
        self.after_line = after_line
        self.sent: list[OutMessage] = []  # every alert this adapter delivered, in order

    def measure(self, text: RichText) -> int:
        return len(render_plain(text))

    def _write(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    async def send(self, chat: ChatRef, message: OutMessage) -> None:
        self.sent.append(message)
        block = render_plain(message.body)
        if message.buttons:
            block += "\n" + render_buttons(message.buttons)
        self._write(f"\n🔔 {block}\n")

    async def push(self, line: str) -> str:
        """Handle one input line; return (and print) the reply text."""
        line = line.rstrip("\r\n")
        if not line.strip():
            return ""
        name, _, arg = line.strip().partition(" ")
        extra = self.extra_commands.get(name.lower())
        if extra is not None:
            text = await extra(arg.strip())
        else:
            reply = await self.dispatch(Incoming(chat=CONSOLE_CHAT, text=line, user_id="console",
                                                 user_name="you"))
            text = render_plain(reply.body)
            if reply.buttons:
                text += "\n" + render_buttons(reply.buttons)
        self._write(text)
        if self.after_line is not None:
            await self.after_line()
        return text

    async def run(self, stream: TextIO | None = None, prompt: bool = False) -> None:
        """Read lines until end of input (or /quit)."""
        stream = stream or sys.stdin
        loop = asyncio.get_running_loop()
        while True:
            if prompt:
                self.out.write("> ")
                self.out.flush()
            line = await loop.run_in_executor(None, stream.readline)
            if not line or line.strip().lower() in ("/quit", "/exit"):
                break
            await self.push(line)
