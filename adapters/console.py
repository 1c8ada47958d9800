"""The console adapter: one chat on standard input and output, a first-class platform.

Each input line is one message from the console user (platform "console", one fixed chat
id, so every `paperwatch console` run shares its watches through the database). Replies and
alerts are written as plain text; links are shown after their text. A reply's files are
written into the current directory (or the one given) and announced as "Saved FILE";
`/import PATH` hands that file to the command. Tests drive the bot through this adapter:
`await console.push("/watch diffusion")` returns the reply text.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TextIO

from bot.types import Attachment, Button, ChatRef, Incoming, OutMessage, Reply, RichText

CONSOLE_CHAT = ChatRef("console", "console", "user")
CONSOLE_BANNER = ("paperwatch console — one chat on this database. /help lists the commands, "
                  "/quit (or Ctrl-D) leaves.")
# What the console adds to the chat commands, in /help (only those this console has).
CONSOLE_HELP = {
    "/publish": "/publish — release today's sample papers (demo only)",
    "/ingest": "/ingest PATH — read papers from a JSON or JSON Lines file",
    "/quit": "/quit — leave (also Ctrl-D or Ctrl-C)",
}
MAX_IMPORT_BYTES = 64 * 1024  # the same bound as on the chat platforms
BAD_BYTES = "That line is not valid {encoding} text; nothing was changed. Type it again."
_END = object()  # the reader's "end of input"

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
                 after_line: Callable[[], Awaitable[None]] | None = None,
                 banner: str | None = None, files_dir: str | Path | None = None) -> None:
        self.dispatch = dispatch
        self.files_dir = Path(files_dir) if files_dir is not None else None  # None: cwd
        self.banner = banner
        self.out = out or sys.stdout
        self.extra_commands = dict(extra_commands or {})
        self.after_line = after_line
        self.sent: list[OutMessage] = []  # every alert this adapter delivered, in order

    # --- the adapter protocol: nothing to connect, always healthy -----------------------

    async def start(self, receive: bool = True) -> None:
        return None

    async def stop(self) -> None:
        return None

    @property
    def connected(self) -> bool:
        return True

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
        elif name.lower() == "/import" and arg.strip():
            text = await self._import(arg.strip())
        else:
            reply = await self.dispatch(Incoming(chat=CONSOLE_CHAT, text=line, user_id="console",
                                                 user_name="you"))
            text = self._reply_text(reply)
            if name.lower() == "/help" and not arg.strip():
                text += "\n" + self._console_help()
        self._write(text)
        if self.after_line is not None:
            await self.after_line()
        return text

    def _reply_text(self, reply: Reply) -> str:
        text = render_plain(reply.body)
        if reply.buttons:
            text += "\n" + render_buttons(reply.buttons)
        for attachment in reply.attachments:
            text += "\n" + self._save(attachment)
        return text

    def _save(self, attachment: Attachment) -> str:
        """Write a reply's file (never over an existing one); say where it went."""
        folder = self.files_dir or Path.cwd()
        name = Path(attachment.filename).name or "file"  # no directories from the core
        path = folder / name
        stem, suffix = path.stem, path.suffix
        number = 1
        try:
            folder.mkdir(parents=True, exist_ok=True)
            while True:
                try:
                    with open(path, "xb") as fh:
                        fh.write(attachment.data)
                    break
                except FileExistsError:
                    number += 1
                    path = folder / f"{stem}-{number}{suffix}"
        except OSError as exc:
            return f"Could not save {name}: {exc.strerror or exc}"
        return f"Saved {path}"

    async def _import(self, arg: str) -> str:
        """/import PATH: the file's content goes to the command as its attachment."""
        path = Path(arg).expanduser()
        try:
            size = path.stat().st_size
            if size > MAX_IMPORT_BYTES:
                return (f"{path} is over {MAX_IMPORT_BYTES // 1024} KB; a watch list is one "
                        "query a line and much smaller. Nothing was imported.")
            data = path.read_bytes()
        except OSError as exc:
            return f"Can't read {path}: {exc.strerror or exc}"
        mime = mimetypes.guess_type(path.name)[0] or "text/plain"
        reply = await self.dispatch(Incoming(
            chat=CONSOLE_CHAT, text="/import", user_id="console", user_name="you",
            attachment=Attachment(path.name, data, mime)))
        return self._reply_text(reply)

    def _console_help(self) -> str:
        names = [*self.extra_commands, "/quit"]
        return "Console only:\n" + "\n".join(CONSOLE_HELP.get(n, n) for n in names)

    async def run(self, stream: TextIO | None = None, prompt: bool = False) -> None:
        """Read lines until end of input, /quit or Ctrl-C. What the lines queued stays in
        the outbox (the caller flushes it); a line in progress is finished first."""
        stream = stream or sys.stdin
        fd = _fileno(stream)
        lines: asyncio.Queue[object] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        if fd is None:
            reader = _read_text(stream, lines, loop)
        else:
            reader = _read_fd(fd, getattr(stream, "encoding", None) or "utf-8", lines, loop)
        threading.Thread(target=reader, name="console-stdin", daemon=True).start()
        with _interrupts(loop, lines):
            if self.banner:
                self._write(self.banner)
            while True:
                if prompt:
                    self.out.write("> ")
                    self.out.flush()
                line = await lines.get()
                if line is _END:
                    if prompt:  # Ctrl-D or Ctrl-C: the shell prompt starts on its own line
                        self.out.write("\n")
                        self.out.flush()
                    break
                if isinstance(line, bytes):
                    self._write(BAD_BYTES.format(encoding=getattr(stream, "encoding", "UTF-8")))
                    continue
                assert isinstance(line, str)
                if line.strip().lower() in ("/quit", "/exit"):
                    break
                await self.push(line)


def _fileno(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


@contextlib.contextmanager
def _interrupts(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue) -> Iterator[None]:
    """Ctrl-C ends the console at the prompt at once (the reading thread can't be woken)."""
    try:
        loop.add_signal_handler(signal.SIGINT, lines.put_nowait, _END)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _read_text(stream: TextIO, lines: asyncio.Queue, loop: asyncio.AbstractEventLoop
               ) -> Callable[[], None]:
    def read() -> None:
        for line in iter(stream.readline, ""):
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, _END)
    return read


def _read_fd(fd: int, encoding: str, lines: asyncio.Queue, loop: asyncio.AbstractEventLoop
             ) -> Callable[[], None]:
    """Lines read from the file descriptor itself (no Python lock held while blocked, so
    the process can exit under it), decoded here: a line that is not valid text is handed
    over as bytes, to be refused on its own instead of ending the console."""
    def put(item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is listening
            loop.call_soon_threadsafe(lines.put_nowait, item)

    def read() -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                put(_decode(raw + b"\n", encoding))
        if pending:
            put(_decode(pending, encoding))
        put(_END)
    return read


def _decode(raw: bytes, encoding: str) -> str | bytes:
    try:
        return raw.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return raw
