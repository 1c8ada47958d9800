"""Logging set-up: key=value or JSON lines on stderr, with secrets scrubbed from every line.

`configure_logging(fmt, level, secrets=[...])` is called by the command line. Every
configured secret (bot tokens, webhook secret, database password) is replaced by `***`
in every part of every record (message, arguments, exception text, stack) and in both
formats; `install_scrubbing(secrets)` also wraps sys.stdout/sys.stderr and the hooks for
uncaught exceptions, so a traceback that escapes everything is scrubbed too
(python-telegram-bot puts the token in `InvalidToken`'s message).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_CHARS = 6  # shorter values would mask ordinary words


class Scrubber:
    """Replaces each secret (and its URL-encoded forms) with `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        variants = set()
        for secret in secrets:
            if secret and len(secret) >= MIN_SECRET_CHARS:
                variants |= {secret, quote(secret, safe=""), quote_plus(secret),
                             json.dumps(secret)[1:-1]}
        # longest first: a secret that contains another is masked whole
        self.secrets = sorted(variants, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __bool__(self) -> bool:
        return bool(self.secrets)


class ScrubSecrets(logging.Filter):
    """Scrubs a record in place: message and arguments (merged), exception text, stack."""

    def __init__(self, secrets: Iterable[str] | Scrubber) -> None:
        super().__init__()
        self.scrub = secrets if isinstance(secrets, Scrubber) else Scrubber(secrets)
        self.secrets = self.scrub.secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.scrub:
            return True
        record.msg, record.args = self.scrub(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _format_exception(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True


def _format_exception(exc_info: Any) -> str:
    return "".join(traceback.format_exception(*exc_info)).rstrip("\n")


class _Formatter(logging.Formatter):
    """Shared part of both formats: the exception and stack text, scrubbed again (a
    formatter may be used without the filter)."""

    def __init__(self, scrub: Scrubber | None = None) -> None:
        super().__init__()
        self.scrub = scrub or Scrubber()

    def _extra(self, record: logging.LogRecord) -> dict[str, str]:
        extra = {}
        exc_text = record.exc_text or (
            self.formatException(record.exc_info) if record.exc_info else "")
        if exc_text:
            extra["exc"] = self.scrub(exc_text)
        if record.stack_info:
            extra["stack"] = self.scrub(record.stack_info)
        return extra

    def _when(self, record: logging.LogRecord) -> datetime:
        return datetime.fromtimestamp(record.created, UTC)


class KeyValueFormatter(_Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = self._when(record).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = (f"ts={when} level={record.levelname.lower()} logger={record.name} "
                f"msg={json.dumps(self.scrub(record.getMessage()), ensure_ascii=False)}")
        for key, value in self._extra(record).items():
            line += f" {key}=" + json.dumps(value)
        return line


class JsonFormatter(_Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": self._when(record).isoformat(),
                 "level": record.levelname.lower(), "logger": record.name,
                 "msg": self.scrub(record.getMessage()), **self._extra(record)}
        return json.dumps(entry, ensure_ascii=False)


class ScrubbingStream:
    """A text stream that scrubs what is written and passes everything else through."""

    def __init__(self, stream: TextIO, scrub: Scrubber) -> None:
        self._stream = stream
        self._scrub = scrub

    def write(self, text: str) -> int:
        self._stream.write(self._scrub(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _unwrapped(stream: TextIO) -> TextIO:
    return stream._stream if isinstance(stream, ScrubbingStream) else stream


def install_scrubbing(secrets: Iterable[str]) -> Scrubber:
    """Scrub every secret from sys.stdout, sys.stderr and uncaught exceptions (the main
    thread's and other threads'); returns the scrubber for the log handler."""
    scrub = Scrubber(secrets)
    sys.stdout = ScrubbingStream(_unwrapped(sys.stdout), scrub)
    sys.stderr = ScrubbingStream(_unwrapped(sys.stderr), scrub)

    def excepthook(kind: type[BaseException], exc: BaseException,
                   tb: TracebackType | None) -> None:
        sys.stderr.write(scrub("".join(traceback.format_exception(kind, exc, tb))))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit and args.exc_value is not None:
            excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = excepthook
    threading.excepthook = thread_hook
    return scrub


def configure_logging(fmt: str = "text", level: str = "INFO",
                      secrets: Iterable[str] = (), stream: TextIO | None = None) -> None:
    scrub = Scrubber(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(scrub) if fmt == "json" else KeyValueFormatter(scrub))
    handler.addFilter(ScrubSecrets(scrub))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.captureWarnings(True)
    # httpx (under python-telegram-bot) logs every request, long polls included, at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # PTB logs a whole traceback (and the body) for every answer that is not JSON; the
    # error it raises says the same in one line, and that is what reaches our logs.
    logging.getLogger("telegram.request").setLevel(logging.CRITICAL)
