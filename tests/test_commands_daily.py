"""/daily's `weekdays` option (issue 16: like the Hugging Face email, no weekends)."""

from __future__ import annotations

from adapters.console import CONSOLE_CHAT
from storage import repo


async def stored_weekdays(app) -> bool:
    async with app.sessions() as session:
        chat = await repo.get_chat(session, CONSOLE_CHAT)
        assert chat is not None
        post = await repo.get_channel_post(session, chat.id)
        assert post is not None
        return post.weekdays


async def test_daily_on_weekdays_only_until_set_again_without_it(app, console):
    out = await console.push("/daily on 08:00 UTC top 3 weekdays diffusion")
    assert "✓ Daily trending post at 08:00 UTC, Monday to Friday: top 3, topic “diffusion”" in out
    assert await stored_weekdays(app)
    assert "08:00 UTC, Monday to Friday: top 3" in await console.push("/daily")
    out = await console.push("/daily on 08:00 UTC")
    assert "08:00 UTC: top 10." in out and not await stored_weekdays(app)
