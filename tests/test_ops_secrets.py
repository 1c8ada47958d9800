"""Secrets never reach the output: log records in both formats (message, arguments,
exception text, stack) and what is written straight to stdout/stderr, uncaught
tracebacks included."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from bot.ops.logs import Scrubber, ScrubbingStream, configure_logging

TOKEN = "123456:ABC-secret-token"
PASSWORD = "p@ss/word%1"


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _log_everything(log: logging.Logger) -> None:
    log.warning("calling %s", f"https://api.telegram.org/bot{TOKEN}/getMe")
    try:
        raise RuntimeError(f"The token `{TOKEN}` was rejected by the server.")
    except RuntimeError:
        log.exception("start failed")
    try:
        try:
            raise ValueError(f"postgresql://u:{PASSWORD}@db/x")
        except ValueError as inner:
            raise KeyError(TOKEN) from inner
    except KeyError:
        log.error("chained", exc_info=True, stack_info=True)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_token_inside_an_exception_appears_nowhere_in_either_format(fmt, restore_logging):
    out = io.StringIO()
    configure_logging(fmt, "INFO", secrets=[TOKEN, PASSWORD], stream=out)
    _log_everything(logging.getLogger("paperwatch.test"))
    text = out.getvalue()
    assert TOKEN not in text and PASSWORD not in text
    assert "RuntimeError" in text and "KeyError" in text and "***" in text
    lines = text.splitlines()
    assert len(lines) == 3  # one line a record, tracebacks included
    if fmt == "json":
        entries = [json.loads(line) for line in lines]
        assert "was rejected" in entries[1]["exc"] and "***" in entries[1]["exc"]
        assert "stack" in entries[2]


def test_the_url_encoded_password_is_scrubbed_too():
    scrub = Scrubber([PASSWORD])
    assert scrub(f"postgresql://u:{'p%40ss%2Fword%251'}@db/x") == "postgresql://u:***@db/x"


def test_a_scrubbing_stream_passes_everything_else_through():
    raw = io.StringIO()
    stream = ScrubbingStream(raw, Scrubber([TOKEN]))
    print(f"token={TOKEN}", file=stream)  # type: ignore[arg-type]
    assert raw.getvalue() == "token=***\n" and stream.getvalue() == "token=***\n"


def test_an_uncaught_exception_is_printed_without_the_secret():
    code = ("from bot.ops.logs import install_scrubbing\n"
            f"install_scrubbing([{TOKEN!r}])\n"
            f"print('stdout has', {TOKEN!r})\n"
            f"raise RuntimeError('The token `{TOKEN}` was rejected')\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "was rejected" in result.stderr
    assert TOKEN not in result.stderr and TOKEN not in result.stdout
    assert "stdout has ***" in result.stdout
