"""What went wrong, in one line: the known operational failures of a paperwatch command
mapped to a line naming the problem and what to do, and an exit code.

The command line calls `one_line(exc, cfg)` on whatever escapes a command; anything not
listed here is a bug and keeps its (scrubbed) traceback. The platform libraries are looked
up only if they are already imported, so a console run never imports them.
"""

from __future__ import annotations

import errno
import sys
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError

from bot.config import ENV_DISCORD_TOKEN, ENV_TELEGRAM_TOKEN, Config, ConfigError
from bot.wording import short
from storage import db

MAX_DETAIL = 160  # a junk answer can be long: keep the line a line

CONFIG_EXIT = 2
FAILURE_EXIT = 1


@dataclass(frozen=True)
class Failure:
    line: str
    exit_code: int = FAILURE_EXIT


class StartupError(RuntimeError):
    """A start-up failure already phrased as one line."""


def _short(text: object) -> str:
    """One line of at most MAX_DETAIL characters: white space folded, then cut."""
    return short(" ".join(str(text).split()), MAX_DETAIL)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _telegram(exc: BaseException, cfg: Config) -> str | None:
    errors = sys.modules.get("telegram.error")
    if errors is None or not isinstance(exc, errors.TelegramError):
        return None
    base = cfg.telegram.api_base_url
    details = " ".join(str(e) for e in _chain(exc)[1:]) or str(exc)
    if isinstance(exc, errors.InvalidToken):
        if "404" in details or "Not Found" in details:
            return (f"telegram: {base} answered 404 Not Found to getMe: check "
                    "telegram.api_base_url (it ends in /bot) and the form of "
                    f"{ENV_TELEGRAM_TOKEN}")
        return (f"telegram: Telegram refused the token ({_short(details)}): set "
                f"{ENV_TELEGRAM_TOKEN} to the token @BotFather gave the bot")
    if isinstance(exc, errors.TimedOut):
        return f"telegram: {base} did not answer in time: check the network, or try later"
    if isinstance(exc, errors.NetworkError):
        return (f"telegram: cannot start, {base}: {_short(exc)}; check "
                "telegram.api_base_url and the network, or try later")
    if "Invalid server response" in str(exc):
        return (f"telegram: cannot start, {base} answered something that is not the Bot "
                "API: check telegram.api_base_url, or try later")
    return (f"telegram: cannot start, {base} answered: {_short(exc)}; check "
            "telegram.api_base_url, or try later")


def _discord(exc: BaseException) -> str | None:
    discord = sys.modules.get("discord")
    if discord is None:
        return None
    if isinstance(exc, discord.LoginFailure):
        return (f"discord: Discord refused the token: set {ENV_DISCORD_TOKEN} to the bot "
                "token from the Developer Portal")
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return "discord: the gateway asks for privileged intents: report this as a bug"
    if isinstance(exc, discord.HTTPException):
        return (f"discord: cannot start, Discord answered {exc.status}: {_short(exc.text)}; "
                "try later")
    if isinstance(exc, discord.ConnectionClosed | discord.GatewayNotFound):
        return f"discord: the gateway connection failed ({_short(exc)}): try later"
    return None


def _os_message(exc: OSError) -> str:
    """The OSError's text without its "[Errno 98] " prefix."""
    text = str(exc)
    prefix = f"[Errno {exc.errno}] "
    return _short(text[len(prefix):] if text.startswith(prefix) else text)


def _listen(exc: BaseException) -> str | None:
    if not isinstance(exc, OSError):
        return None
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot listen: {_os_message(exc)}: stop the program using that port, or "
                "set another [http] port / telegram.webhook_port")
    if exc.errno == errno.EACCES and "bind" in str(exc):
        return (f"cannot listen: {_os_message(exc)}: use a port above 1023, "
                "or run with the right to bind it")
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f"cannot listen: {_os_message(exc)}: set [http] listen / telegram.webhook_listen "
                "to an address of this machine")
    return None


def one_line(exc: BaseException, cfg: Config | None) -> Failure | None:
    """The line and exit code for a known failure, or None for a bug."""
    if isinstance(exc, ConfigError):
        return Failure(f"configuration error: {exc}", CONFIG_EXIT)
    if isinstance(exc, db.DatabaseProblem | StartupError):
        return Failure(str(exc))
    config = cfg or Config()
    database = db.explain(exc, config.database.url) if isinstance(exc, DBAPIError) else None
    for line in (_telegram(exc, config), _discord(exc), _listen(exc), database):
        if line is not None:
            return Failure(line)
    return None
