"""Configuration: the example file is valid and complete, bad values are named, secrets
come from the environment only."""

from __future__ import annotations

import tomllib
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, load_config, require_tokens

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"


def _keys(obj: object, prefix: str = "") -> set[str]:
    out = set()
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if is_dataclass(value):
            out |= _keys(value, f"{prefix}{f.name}.")
        elif f.name not in ("token", "webhook_secret"):
            out.add(f"{prefix}{f.name}")
    return out


def _toml_keys(data: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in data.items():
        out |= _toml_keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
    return out


def test_example_documents_every_key_with_its_default():
    data = tomllib.loads(EXAMPLE.read_text())
    assert _toml_keys(data) == _keys(Config())
    assert load_config(EXAMPLE, env={}) == Config()


def test_environment_overrides_and_secrets(tmp_path):
    cfg = load_config(None, env={"PAPERWATCH_DATABASE_URL": "postgresql+asyncpg://u@h/db",
                                 "PAPERWATCH_TELEGRAM_TOKEN": "123:abc",
                                 "PAPERWATCH_DISCORD_TOKEN": "xyz"})
    assert cfg.database.url == "postgresql+asyncpg://u@h/db"
    assert cfg.telegram.token == "123:abc" and cfg.discord.token == "xyz"


@pytest.mark.parametrize("text, message", [
    ("[sources.hf]\npoll_seconds = 'often'", "sources.hf.poll_seconds: expected a whole number"),
    ("[sources.hf]\npoll_seconds = 2", "sources.hf.poll_seconds: must be at least 10"),
    ("[telegram]\nmode = 'carrier-pigeon'", "telegram.mode: expected one of polling, webhook"),
    ("[telegram]\ntoken = 'secret'", "telegram.token: secrets are read from the environment"),
    ("[database]\nurl = 'mysql://x'", "database.url: expected sqlite+aiosqlite"),
    ("[databse]\nurl = 'x'", "databse: unknown setting"),
    ("[discord]\nshard_count = 'many'", "discord.shard_count"),
    ("[sources.arxiv]\ncategories = 'cs.LG'", "sources.arxiv.categories: expected a list"),
    ("[limits]\nmax_watches_per_chat = true", "limits.max_watches_per_chat: expected a whole"),
    ("not toml [", "config file"),
])
def test_bad_values_name_the_key(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert message in str(err.value)


def test_webhook_mode_needs_its_public_url(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[telegram]\nenabled = true\nmode = 'webhook'")
    with pytest.raises(ConfigError, match="telegram.webhook_url: required"):
        load_config(path, env={"PAPERWATCH_TELEGRAM_TOKEN": "1:x"})


@pytest.mark.parametrize("platform", ["telegram", "discord"])
def test_an_enabled_platform_needs_its_token_to_run(tmp_path, platform):
    path = tmp_path / "c.toml"
    path.write_text(f"[{platform}]\nenabled = true")
    cfg = load_config(path, env={})  # fine for ingest, console, db upgrade ...
    with pytest.raises(ConfigError, match=f"PAPERWATCH_{platform.upper()}_TOKEN is not set"):
        require_tokens(cfg)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})


@pytest.mark.parametrize("text, message", [
    ("[http]\nport = 99999\n", "http.port: expected a TCP port from 1 to 65535, got 99999"),
    ("[http]\nport = 0\n", "http.port: expected a TCP port from 1 to 65535, got 0"),
    ("[telegram]\nwebhook_port = 65536\n", "telegram.webhook_port: expected a TCP port"),
])
def test_ports_must_be_tcp_ports(tmp_path, text, message):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={})


def test_a_config_path_that_is_a_directory_or_not_utf8_is_one_config_error(tmp_path):
    with pytest.raises(ConfigError, match="is a directory: give the TOML file itself"):
        load_config(tmp_path, env={})
    latin = tmp_path / "latin1.toml"
    latin.write_bytes("[logging]\nformat = \"text\" # café\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"is not UTF-8 text \(byte \d+\): save it as UTF-8"):
        load_config(latin, env={})
