"""`paperwatch run` and `check-config --online` against fake platforms that refuse: the
token refused, a mistyped api_base_url (404), a server answering 500 or junk, a port in
use. One line, a non-zero exit, and the token nowhere in stdout, stderr or the log file."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

import pytest

from tests.fakes.discord_api import FakeDiscord
from tests.fakes.telegram_api import FakeError, FakeTelegramAPI

WEBHOOK_SECRET = "webhook-secret-value"


async def _paperwatch(*args: str, cwd: Path, env: dict[str, str],
                      timeout: float = 60) -> tuple[int, str, str, str]:
    """Run paperwatch with stderr going to a log file, as a service manager would;
    returns (exit code, stdout, stderr, the log file)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWATCH_")}
    log_path = cwd / "paperwatch.log"
    with open(log_path, "wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, cwd=cwd, env={**environ, **env},
            stdout=asyncio.subprocess.PIPE, stderr=log_file)
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    log = log_path.read_text()
    assert process.returncode is not None
    return process.returncode, out.decode(), log, log


def _config(tmp_path: Path, api_base_url: str, fmt: str = "text", extra: str = "") -> Path:
    path = tmp_path / "paperwatch.toml"
    path.write_text(f"""
[database]
url = "sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
[telegram]
enabled = true
api_base_url = "{api_base_url}"
[sources.hf]
enabled = false
[logging]
format = "{fmt}"
{extra}
""")
    return path


def _problems(log: str) -> list[str]:
    return [line for line in log.splitlines()
            if line.strip() and "level=info" not in line and '"level": "info"' not in line]


def assert_refused(code: int, out: str, log: str, token: str, *expected: str) -> None:
    assert code == 1, log
    everything = out + log
    assert token not in everything and WEBHOOK_SECRET not in everything
    assert "Traceback" not in everything, log
    problems = _problems(log)
    assert 1 <= len(problems) <= 2, log
    for text in expected:
        assert text in problems[-1], problems


def _env(token: str) -> dict[str, str]:
    return {"PAPERWATCH_TELEGRAM_TOKEN": token,
            "PAPERWATCH_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET}


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_refused_telegram_token_is_one_line_and_printed_nowhere(tmp_path, fmt):
    async with FakeTelegramAPI() as fake:
        wrong = "654321:WRONG-token-nobody-gave"
        config = _config(tmp_path, fake.base_url, fmt)
        code, out, err, log = await _paperwatch("run", "--config", str(config), cwd=tmp_path,
                                                env=_env(wrong))
    assert_refused(code, out, log, wrong, "Telegram refused the token",
                   "PAPERWATCH_TELEGRAM_TOKEN")
    if fmt == "json":  # every log line is JSON still
        for line in log.splitlines()[:-1]:
            json.loads(line)


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_a_mistyped_api_base_url_answering_404_is_one_line_without_the_token(
        tmp_path, fmt):
    async with FakeTelegramAPI() as fake:
        base = f"http://{fake.host}:{fake.port}/wrong/bot"
        code, out, err, log = await _paperwatch(
            "run", "--config", str(_config(tmp_path, base, fmt)), cwd=tmp_path,
            env=_env(fake.token))
    assert_refused(code, out, log, fake.token, f"{base} answered 404 Not Found",
                   "telegram.api_base_url")


@pytest.mark.parametrize("answer", ["500 json", "500 html", "200 junk"])
async def test_telegram_answering_500_or_junk_at_start_is_one_line(tmp_path, answer):
    async with FakeTelegramAPI() as fake:
        if answer == "500 json":
            fake.fail("getMe", None, FakeError(500, "Internal Server Error"))
        elif answer == "500 html":
            fake.answer_raw("getMe", 500, f"<html>oops {fake.token}</html>")
        else:
            fake.answer_raw("getMe", 200, "\x00junk{" * 40)
        code, out, err, log = await _paperwatch(
            "run", "--config", str(_config(tmp_path, fake.base_url)), cwd=tmp_path,
            env=_env(fake.token))
    assert_refused(code, out, log, fake.token, "telegram: cannot start",
                   fake.base_url, "try later")


def _taken_port() -> socket.socket:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


async def test_the_http_port_in_use_is_one_line(tmp_path):
    holder = _taken_port()
    port = holder.getsockname()[1]
    try:
        async with FakeTelegramAPI() as fake:
            config = _config(tmp_path, fake.base_url,
                             extra=f'[http]\nenabled = true\nlisten = "127.0.0.1"\nport = {port}')
            code, out, err, log = await _paperwatch("run", "--config", str(config),
                                                    cwd=tmp_path, env=_env(fake.token))
    finally:
        holder.close()
    assert_refused(code, out, log, fake.token, "cannot listen", f"{port}",
                   "set another [http] port")


async def test_the_webhook_port_in_use_is_one_line(tmp_path):
    holder = _taken_port()
    port = holder.getsockname()[1]
    try:
        async with FakeTelegramAPI() as fake:
            config = _config(tmp_path, fake.base_url).read_text().replace(
                "[telegram]\n", f'[telegram]\nmode = "webhook"\nwebhook_listen = "127.0.0.1"\n'
                f'webhook_port = {port}\nwebhook_url = "https://bot.example.org/telegram"\n')
            (tmp_path / "paperwatch.toml").write_text(config)
            code, out, err, log = await _paperwatch(
                "run", "--config", str(tmp_path / "paperwatch.toml"), cwd=tmp_path,
                env=_env(fake.token))
    finally:
        holder.close()
    assert_refused(code, out, log, fake.token, "cannot listen", "telegram.webhook_port")


def _discord_config(tmp_path: Path, fake: FakeDiscord) -> Path:
    path = tmp_path / "discord.toml"
    path.write_text(f"""
[database]
url = "sqlite+aiosqlite:///{tmp_path / 'pw.db'}"
[discord]
enabled = true
api_base_url = "{fake.api_base}"
[sources.hf]
enabled = false
""")
    return path


async def test_a_refused_discord_token_is_one_line_and_printed_nowhere(tmp_path):
    async with FakeDiscord() as fake:
        wrong = "wrong.discord.token-value"
        code, out, err, log = await _paperwatch(
            "run", "--config", str(_discord_config(tmp_path, fake)), cwd=tmp_path,
            env={"PAPERWATCH_DISCORD_TOKEN": wrong})
    assert_refused(code, out, log, wrong, "Discord refused the token",
                   "PAPERWATCH_DISCORD_TOKEN")


# --- check-config --online -----------------------------------------------------------------

async def test_check_config_online_asks_both_platforms_for_the_bot(tmp_path):
    async with FakeTelegramAPI() as telegram, FakeDiscord() as discord:
        config = _config(tmp_path, telegram.base_url, extra=(
            f'[discord]\nenabled = true\napi_base_url = "{discord.api_base}"'))
        env = {**_env(telegram.token), "PAPERWATCH_DISCORD_TOKEN": discord.token}
        code, out, _err, log = await _paperwatch("check-config", "--online", "--config",
                                                 str(config), cwd=tmp_path, env=env)
        assert code == 0, out + log
        assert "telegram: enabled, Telegram knows the bot as @paperwatch_bot" in out
        assert "discord: enabled, Discord knows the bot as paperwatch" in out
        assert "configuration: ok" in out
        assert len(telegram.method_calls("getMe")) == 1
        assert discord.requests("GET", "/users/@me")
        offline = await _paperwatch("check-config", "--config", str(config), cwd=tmp_path,
                                    env=env)
        assert "telegram: enabled (not asked: `paperwatch check-config --online`" in offline[1]
        assert "discord: enabled (not asked" in offline[1]
        assert len(telegram.method_calls("getMe")) == 1  # without --online nobody is asked


async def test_check_config_online_reports_the_refusals(tmp_path):
    async with FakeTelegramAPI() as telegram, FakeDiscord() as discord:
        config = _config(tmp_path, telegram.base_url, extra=(
            f'[discord]\nenabled = true\napi_base_url = "{discord.api_base}"'))
        env = {**_env("654321:WRONG-token-nobody-gave"),
               "PAPERWATCH_DISCORD_TOKEN": "wrong.discord.token-value"}
        code, out, _err, log = await _paperwatch("check-config", "--online", "--config",
                                                 str(config), cwd=tmp_path, env=env)
    assert code == 1
    assert "telegram: refused: Telegram refused the token (401 Unauthorized)" in out
    assert "discord: refused: Discord refused the token (401 Unauthorized)" in out
    assert "configuration: ok" not in out
    assert "WRONG-token" not in out + log and "wrong.discord" not in out + log


async def test_check_config_online_reports_a_404_api_base_url(tmp_path):
    async with FakeTelegramAPI() as telegram:
        base = f"http://{telegram.host}:{telegram.port}/wrong/bot"
        code, out, _err, _log = await _paperwatch(
            "check-config", "--online", "--config", str(_config(tmp_path, base)),
            cwd=tmp_path, env=_env(telegram.token))
    assert code == 1 and f"telegram: refused: {base} answered 404 Not Found" in out
