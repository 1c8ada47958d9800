"""Configuration: TOML file + environment variables, validated into frozen dataclasses.

Every key is documented in `config.example.toml`. Secrets (bot tokens, webhook secret,
database URL with a password) come from the environment only. Loading fails with one
`ConfigError` line naming the key that is wrong.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

ENV_DATABASE_URL = "PAPERWATCH_DATABASE_URL"
ENV_TELEGRAM_TOKEN = "PAPERWATCH_TELEGRAM_TOKEN"
ENV_TELEGRAM_WEBHOOK_SECRET = "PAPERWATCH_TELEGRAM_WEBHOOK_SECRET"
ENV_DISCORD_TOKEN = "PAPERWATCH_DISCORD_TOKEN"


Role = Literal["all", "gateway", "worker", "scheduler"]
ROLES: tuple[str, ...] = get_args(Role)  # `paperwatch run --role`: what one process does
TelegramMode = Literal["polling", "webhook"]
LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Matching = Literal["auto", "thread", "process"]


class ConfigError(ValueError):
    """A configuration problem, phrased as one line that names the key."""


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = "sqlite+aiosqlite:///paperwatch.db"
    auto_upgrade: bool = True  # run Alembic migrations at start


@dataclass(frozen=True)
class TelegramConfig:
    enabled: bool = False
    api_base_url: str = "https://api.telegram.org/bot"
    mode: TelegramMode = "polling"
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_path: str = "/telegram"
    webhook_url: str = ""  # the public URL Telegram posts to (webhook mode)
    token: str = ""  # from PAPERWATCH_TELEGRAM_TOKEN only
    webhook_secret: str = ""  # from PAPERWATCH_TELEGRAM_WEBHOOK_SECRET only
    concurrent_updates: int = 32  # updates handled at once (each chat's still in order)


@dataclass(frozen=True)
class DiscordConfig:
    enabled: bool = False
    guild_ids: tuple[int, ...] = ()  # sync commands to these guilds only (development)
    shard_count: str = ""  # "" = no sharding, "auto", or a number
    api_base_url: str = "https://discord.com/api/v10"  # REST API (tests point it at a fake)
    token: str = ""  # from PAPERWATCH_DISCORD_TOKEN only


@dataclass(frozen=True)
class HFSourceConfig:
    enabled: bool = True
    base_url: str = "https://huggingface.co"
    poll_seconds: int = 1800
    page_limit: int = 50
    backfill_days: int = 7  # days of the list fetched again after downtime


@dataclass(frozen=True)
class ArxivSourceConfig:
    enabled: bool = False
    categories: tuple[str, ...] = ("cs.LG", "cs.CL")
    rss_base_url: str = "https://rss.arxiv.org"
    api_base_url: str = "https://export.arxiv.org"
    poll_seconds: int = 3600
    include_cross: bool = True
    backfill_days: int = 7  # after downtime, fill the gap through the export API (0 = off)
    backfill_max_papers: int = 2000


@dataclass(frozen=True)
class HttpConfig:
    timeout_seconds: float = 30.0
    max_retries: int = 4
    max_body_bytes: int = 32_000_000  # the all-archives arXiv feed is ~2.8 MB
    backoff_base_seconds: float = 1.0
    max_retry_after_seconds: float = 300.0  # a longer Retry-After waits for the next cycle


@dataclass(frozen=True)
class SourcesConfig:
    hf: HFSourceConfig = field(default_factory=HFSourceConfig)
    arxiv: ArxivSourceConfig = field(default_factory=ArxivSourceConfig)
    http: HttpConfig = field(default_factory=HttpConfig)


@dataclass(frozen=True)
class LimitsConfig:
    max_watches_per_chat: int = 50
    max_query_chars: int = 200


@dataclass(frozen=True)
class PlatformPacing:
    """One platform's send limits for the whole bot (0 = no limit). Several worker
    processes split per_second among them by themselves (a heartbeat row each)."""

    per_second: float = 0.0  # messages per second over all chats
    chat_per_second: float = 0.0  # messages per second to one chat
    group_per_minute: float = 0.0  # messages per minute to one group or channel


@dataclass(frozen=True)
class PacingConfig:
    """Defaults are the platforms' published limits. Discord's per-route buckets are left
    to discord.py."""

    telegram: PlatformPacing = field(default_factory=lambda: PlatformPacing(
        per_second=30.0, chat_per_second=1.0, group_per_minute=20.0))
    discord: PlatformPacing = field(default_factory=lambda: PlatformPacing(per_second=50.0))


@dataclass(frozen=True)
class DeliveryConfig:
    poll_seconds: float = 2.0  # how often the worker looks for due rows when not woken
    batch_size: int = 200  # chats claimed per round
    max_attempts: int = 8
    retry_base_seconds: float = 30.0
    retry_max_seconds: float = 6 * 3600.0  # the longest backoff between two attempts
    lease_seconds: float = 120.0
    concurrency: int = 8  # sends in flight per worker: the bound on duplicates after a crash
    max_messages_per_hour: int = 20  # per chat; the rest waits and goes out coalesced
    daily_check_seconds: float = 300.0  # the daily-post loop re-reads the settings this often
    daily_retry_seconds: float = 300.0  # a daily post that failed is retried after this
    keep_days: int = 30  # sent and failed deliveries older than this are pruned
    pacing: PacingConfig = field(default_factory=PacingConfig)


@dataclass(frozen=True)
class HttpServerConfig:
    enabled: bool = False  # the /healthz and /metrics endpoint
    listen: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True)
class LoggingConfig:
    format: LogFormat = "text"  # key=value lines or JSON
    level: LogLevel = "INFO"


@dataclass(frozen=True)
class RunConfig:
    role: Role = "all"
    stop_seconds: float = 10.0  # after SIGINT/SIGTERM everything stops within this
    # where the watch index lives: a worker thread of this process, or a child process of
    # its own (bot/watching/matcher_process.py); "auto": the process from this many watches
    matching: Matching = "auto"
    matching_process_above: int = 20_000


@dataclass(frozen=True)
class FollowUpsConfig:
    upvotes: int = 50  # a paper alerted about "starts trending" when HF upvotes cross this
    stars: int = 100  # and "gets code" when a repository appears or its stars cross this


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    http: HttpServerConfig = field(default_factory=HttpServerConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    run: RunConfig = field(default_factory=RunConfig)
    followups: FollowUpsConfig = field(default_factory=FollowUpsConfig)


_ENV_ONLY = {"token", "webhook_secret"}


def _convert(key: str, value: Any, hint: Any) -> Any:
    """Check one value against its annotated type; raise ConfigError naming the key."""
    origin = get_origin(hint)
    if origin is Literal:
        choices = get_args(hint)
        if value not in choices:
            raise ConfigError(f"{key}: expected one of {', '.join(choices)}, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected a whole number, got {value!r}")
        if value < 0:
            raise ConfigError(f"{key}: must not be negative, got {value}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if value < 0:
            raise ConfigError(f"{key}: must not be negative, got {value}")
        return float(value)
    if hint is str:
        if key == "discord.shard_count" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    if origin is tuple:
        (item_hint, _ellipsis) = hint.__args__
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return tuple(_convert(f"{key}[{i}]", v, item_hint) for i, v in enumerate(value))
    raise ConfigError(f"{key}: unsupported setting")  # pragma: no cover - programming error


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown setting")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        key = f"{prefix}{f.name}"
        raw = data[f.name]
        hint = hints[f.name]
        if isinstance(hint, type) and is_dataclass(hint):
            if not isinstance(raw, dict):
                raise ConfigError(f"{key}: expected a [{key}] table")
            values[f.name] = _build(hint, raw, f"{key}.")
            continue
        if f.name in _ENV_ONLY:
            raise ConfigError(f"{key}: secrets are read from the environment, not the file")
        values[f.name] = _convert(key, raw, hint)
    return cls(**values)


def _validate(cfg: Config) -> None:
    url = cfg.database.url
    if not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError("database.url: expected sqlite+aiosqlite://... or "
                          "postgresql+asyncpg://...")
    shards = cfg.discord.shard_count
    if shards and shards != "auto" and not (shards.isdigit() and int(shards) > 0):
        raise ConfigError("discord.shard_count: expected \"auto\" or a positive number, "
                          f"got {shards!r}")
    for name, seconds in (("sources.hf.poll_seconds", cfg.sources.hf.poll_seconds),
                          ("sources.arxiv.poll_seconds", cfg.sources.arxiv.poll_seconds)):
        if seconds < 10:
            raise ConfigError(f"{name}: must be at least 10 seconds, got {seconds}")
    if cfg.telegram.concurrent_updates < 1:
        raise ConfigError("telegram.concurrent_updates: must be at least 1, got "
                          f"{cfg.telegram.concurrent_updates}")
    if cfg.telegram.mode == "webhook" and cfg.telegram.enabled and not cfg.telegram.webhook_url:
        raise ConfigError("telegram.webhook_url: required when telegram.mode is \"webhook\"")
    for name, port in (("http.port", cfg.http.port),
                       ("telegram.webhook_port", cfg.telegram.webhook_port)):
        if not 1 <= port <= 65535:
            raise ConfigError(f"{name}: expected a TCP port from 1 to 65535, got {port}")


def require_tokens(cfg: Config) -> None:
    """For commands that connect to the platforms: every enabled one has its token."""
    for name, section, env_name in (("telegram", cfg.telegram, ENV_TELEGRAM_TOKEN),
                                    ("discord", cfg.discord, ENV_DISCORD_TOKEN)):
        if section.enabled and not section.token:
            raise ConfigError(f"{name}.enabled: true, but {env_name} is not set")


def load_config(path: str | Path | None = None, env: dict[str, str] | None = None) -> Config:
    """Read the TOML file (optional), apply the environment, validate."""
    env = dict(os.environ if env is None else env)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {path} is a directory: give the TOML file "
                              "itself") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start}): "
                              "save it as UTF-8") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"config file {path} cannot be read: "
                              f"{exc.strerror or exc}") from None
    cfg = _build(Config, data, "")
    if env.get(ENV_DATABASE_URL):
        cfg = replace(cfg, database=replace(cfg.database, url=env[ENV_DATABASE_URL]))
    cfg = replace(
        cfg,
        telegram=replace(cfg.telegram, token=env.get(ENV_TELEGRAM_TOKEN, ""),
                         webhook_secret=env.get(ENV_TELEGRAM_WEBHOOK_SECRET, "")),
        discord=replace(cfg.discord, token=env.get(ENV_DISCORD_TOKEN, "")),
    )
    _validate(cfg)
    return cfg
