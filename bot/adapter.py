"""The adapter protocol: what every chat platform (console, Telegram, Discord) offers the
wiring, the delivery worker and the health endpoint.

`Sender` (in `bot.types`) is its sending part, all the delivery worker needs. The rest is
the lifecycle (`start`, `stop`) and health (`connected`). The core never imports an
adapter; it sees them only through these protocols.
"""

from __future__ import annotations

from typing import Protocol

from bot.types import Sender


class Adapter(Sender, Protocol):
    """One chat platform, started and stopped by the wiring."""

    async def start(self, receive: bool = True) -> None:
        """Connect and return once ready. With receive=False only sending works (worker
        processes: one receiver per bot)."""
        ...

    async def stop(self) -> None:
        """Stop receiving, let what is running finish, close connections; safe twice."""
        ...

    @property
    def connected(self) -> bool:
        """Health: able to do what it was started for (receive and send, or send only)."""
        ...
