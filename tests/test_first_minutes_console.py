"""The console as a person runs it (issue 12, issue 15): Ctrl-C and Ctrl-D end it at once
and cleanly, nothing waiting is lost, a line of bad bytes is refused on its own, and the
console says what it is and which commands only it has. Real subprocesses of `python -m bot`."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time

from tests.helpers import paper_item, write_jsonl


def _bot(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot", *args], **kwargs)


def _run(*args: str, stdin: bytes = b"", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, capture_output=True,
                          timeout=60, env=env)


def _read_until(fd: int, marker: bytes, timeout: float = 30) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} in {seen!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, f"ended before {marker!r}: {seen!r}"
            seen += chunk
    return seen


def test_ctrl_c_at_the_prompt_ends_the_console_at_once_and_flushes_what_waited(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    assert b"Watching" in _run("console", "--db", url, stdin=b"/watch sparse attention\n").stdout
    papers = write_jsonl(tmp_path / "p.jsonl", [paper_item("2601.01234", "Sparse attention")])
    assert _run("ingest", str(papers), "--db", url).returncode == 0
    console = _bot("console", "--db", url, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE)
    try:
        _read_until(console.stdout.fileno(), b"paperwatch console")  # ready: stdin still open
        started = time.monotonic()
        console.send_signal(signal.SIGINT)
        code = console.wait(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        console.kill()
    out, err = console.stdout.read().decode(), console.stderr.read().decode()
    assert code in (0, 130) and elapsed < 5, (code, elapsed, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "Sparse attention" in out  # the waiting alert was delivered, not lost
    again = _run("console", "--db", url, stdin=b"/watches\n").stdout.decode()
    assert "Sparse attention" not in again and "1 hit" in again  # and only once


def test_ctrl_d_on_a_terminal_ends_with_a_newline(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    master, slave = pty.openpty()
    console = _bot("console", "--db", url, stdin=slave, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    try:
        _read_until(master, b"> ")
        os.write(master, b"/watches\n")
        _read_until(master, b"No watches yet")
        _read_until(master, b"> ")
        os.write(master, b"\x04")  # Ctrl-D at the start of a line: end of input
        code = console.wait(timeout=10)
        rest = b""
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            rest += chunk
    finally:
        console.kill()
        os.close(master)
    assert code == 0, console.stderr.read()
    assert rest.replace(b"\r", b"").endswith(b"\n"), rest  # the shell prompt starts afresh


def test_a_line_of_bad_bytes_on_strict_utf8_stdin_is_refused_alone(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    result = _run("console", "--db", url, env=env,
                  stdin=b"/watch caf\xe9 au lait\n/watch sparse attention\n/watches\n")
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 0 and "Traceback" not in err, err
    assert "That line is not valid utf-8 text; nothing was changed." in out
    assert "Watches (1)" in out and "1. sparse attention" in out


def test_console_starts_with_a_banner_and_help_lists_console_commands(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
    out = _run("console", "--db", url, stdin=b"/help\n").stdout.decode()
    assert out.startswith("paperwatch console — ")
    assert "/ingest PATH — read papers" in out and "/quit — leave" in out
    assert "/publish" not in out  # only the demo has it
    demo = _run("demo", stdin=b"/help\n").stdout.decode()
    assert "/publish — release today's sample papers" in demo
    assert demo.count("paperwatch console — ") == 0  # the demo has its own introduction
