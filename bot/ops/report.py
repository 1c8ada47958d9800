"""The text of `paperwatch status`: the delivery queue by platform and state, what waits
and why, daily posts, recent failures and the sources' last polls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import async_sessionmaker

from storage import repo


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


async def queue_report(sessions: async_sessionmaker, clock: Callable[[], datetime] | None = None
                       ) -> str:
    """The delivery queue as text, for `paperwatch status`."""
    now = (clock or (lambda: datetime.now(UTC)))()
    async with sessions() as session:
        stats = await repo.queue_stats(session, now)
        sources = await repo.all_source_states(session)
    per_platform: dict[str, dict[str, int]] = {}
    for platform, state, count in stats["by_state"]:
        per_platform.setdefault(platform, {})[state] = count
    lines = ["Delivery queue"]
    for platform, counts in sorted(per_platform.items()):
        lines.append(f"  {platform}: pending {counts.get('pending', 0)}, sent "
                     f"{counts.get('sent', 0)}, failed {counts.get('failed', 0)}")
    if not per_platform:
        lines.append("  (empty)")
    lines += [
        f"Due now: {stats['due']} (oldest waiting {_ago(stats['oldest_due'], now)})",
        f"Being sent (claimed): {stats['claimed']}",
        f"Waiting for a retry or a rate-limit pause: {stats['later']}",
        f"Held by mute: {stats['muted']}; by digest time, quiet hours or the hourly cap: "
        f"{stats['held']}",
        f"Waiting for chats that refuse messages: {stats['blocked_rows']} "
        f"({stats['blocked_chats']} chats blocked)",
        "Delivery modes: " + (", ".join(f"{mode} {n}" for mode, n in
                                        sorted(stats["modes"].items())) or "-"),
        "Daily posts (since yesterday): " + (", ".join(
            f"{state} {n}" for state, n in sorted(stats["daily_posts"].items())) or "-"),
    ]
    if stats["failed_reasons"]:
        lines.append("Failures in the last 24 h:")
        lines += [f"  {n} × {reason}" for reason, n in stats["failed_reasons"]]
    def ago(moment: datetime | None) -> str:
        return f"{_ago(moment, now)} ago" if moment else "never"

    lines.append("Sources" if sources else "Sources: none polled yet")
    for state in sources:
        lines.append(f"  {state.name}: {state.last_status or '-'}, last success "
                     f"{ago(state.last_success_at)}, last try {ago(state.last_attempt_at)}"
                     + (f" — {state.last_note}" if state.last_note else ""))
    return "\n".join(lines)
