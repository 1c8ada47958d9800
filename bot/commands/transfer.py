"""/export (a BibTeX file of the last 30 days' alerts and of the papers the sender liked),
/export watches and /import (a chat's watches as a small text file, one query a line, and
back)."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.commands.base import Context
from bot.commands.registry import usage
from bot.commands.watches import WatchCommands
from bot.delivery.local_time import zone
from bot.delivery.render import plural
from bot.export.bibtex import bibtex_file
from bot.export.watch_file import read_watch_file, write_watch_file
from bot.ranking.types import LIKE, Person
from bot.types import Attachment, Incoming, Reply, RichText
from bot.watching.query import Query
from storage import feedback as marks
from storage import repo

EXPORT_DAYS = 30
BIBTEX_MIME = "application/x-bibtex"
HOW_TO_IMPORT = ("Send the file made by /export watches with the command: on Telegram, send "
                 "the file with the caption /import; on Discord, use /import with the file "
                 "option.")
_LINE = re.compile(r"^line (\d+):")


class TransferCommands:
    """The handlers that move papers and watches out of and into a chat as files."""

    def __init__(self, ctx: Context, watch_commands: WatchCommands) -> None:
        self.ctx = ctx
        self.watch_commands = watch_commands

    def _today(self, tz_name: str) -> str:
        return self.ctx.clock().astimezone(zone(tz_name)).strftime("%Y-%m-%d")

    async def export(self, incoming: Incoming, arg: str) -> Reply:
        what = arg.strip().lower()
        if what == "watches":
            return await self._export_watches(incoming)
        if what:
            return Reply.text(usage("export"), ok=False)
        since = self.ctx.clock() - timedelta(days=EXPORT_DAYS)
        user = incoming.user_id.strip()
        async with self.ctx.sessions() as session:
            chat = await repo.get_chat(session, incoming.chat)
            papers = await repo.alerted_papers(session, chat.id, since) if chat else []
            liked = [m.paper_id for m in await marks.feedback_of(
                session, Person(incoming.chat.platform, user)) if m.value == LIKE] if user else []
            known = {p.id for p in papers}
            found = await repo.papers_for_delivery(session, [i for i in liked if i not in known])
        papers += [found[i] for i in liked if i in found]
        if not papers:
            return Reply.text(f"No alerts in the last {EXPORT_DAYS} days and no liked papers, so "
                              "there is nothing to export yet. /export watches sends your "
                              "watches as a file.")
        data = bibtex_file(papers).encode("utf-8")
        count = len({p.id for p in papers})
        zone_name = chat.timezone if chat else "UTC"
        attachment = Attachment(f"paperwatch-{self._today(zone_name)}.bib", data, BIBTEX_MIME)
        what = f"you were alerted about in the last {EXPORT_DAYS} days"
        if found:
            what += f" or liked ({len(found)} liked)"
        body = RichText.of(f"{plural(count, 'paper')} {what}, as BibTeX.")
        return Reply(body, attachments=(attachment,))

    async def _export_watches(self, incoming: Incoming) -> Reply:
        async with self.ctx.sessions() as session:
            chat = await repo.get_chat(session, incoming.chat)
            watches = await repo.active_watches(session, chat.id) if chat else []
        if chat is None or not watches:
            return Reply.text("No watches to export yet. Try /watch federated learning.")
        text = write_watch_file([w.query for w in watches])
        attachment = Attachment(f"paperwatch-watches-{self._today(chat.timezone)}.txt",
                                text.encode("utf-8"), "text/plain")
        body = RichText.of(f"Your {_watches(len(watches))}, one a line. Send this file "
                           "with /import to watch them in another chat.")
        return Reply(body, attachments=(attachment,))

    async def import_(self, incoming: Incoming, _arg: str) -> Reply:
        if incoming.attachment is None:
            return Reply.text(HOW_TO_IMPORT, ok=False)
        data = incoming.attachment.data
        parsed = read_watch_file(data)
        refused = [int(m.group(1)) for e in parsed.errors if (m := _LINE.match(e))]
        too_long = [q for q in parsed.queries if len(q.text) > self.ctx.query_limit]
        queries = [q for q in parsed.queries if q not in too_long]
        if not queries:  # all errors (or empty): change nothing
            if not parsed.errors and not too_long:
                return Reply.text("That file holds no watches (one query a line). "
                                  + HOW_TO_IMPORT, ok=False)
            named = _refused_lines(refused + _lines_of(data, too_long))
            reasons = [e[:200] for e in parsed.errors[:3]]
            if too_long:
                reasons.append(f"queries are at most {self.ctx.query_limit} characters")
            return Reply.text(f"Nothing was imported: no line of the file is a watch.{named}",
                              *reasons, ok=False)
        async with self.ctx.sessions.begin() as session:
            chat = await self.ctx.chat(session, incoming.chat)
            done = await self.watch_commands.add_queries(session, chat, queries)
        self.watch_commands.index(done)
        refused += _lines_of(data, too_long + done.over_limit)
        lines = [f"✓ Imported {_watches(len(done.added))}; "
                 f"{len(done.same)} skipped (already watched), {len(refused)} refused."]
        if done.over_limit:
            lines.append(f"The limit is {self.ctx.limits.max_watches_per_chat} watches a chat.")
        if refused:
            lines.append(_refused_lines(refused).strip())
        lines.append("/watches lists them.")
        return Reply.text(*lines, ok=bool(done.added or done.same))


def _watches(count: int) -> str:
    return f"{count} watch" + ("" if count == 1 else "es")


def _lines_of(data: bytes, queries: list[Query]) -> list[int]:
    """The line numbers (from 1) the queries were read from (read_watch_file strips lines)."""
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    first: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        first.setdefault(line.strip(), number)
    return [first[q.text] for q in queries if q.text in first]


def _refused_lines(numbers: list[int]) -> str:
    if not numbers:
        return ""
    shown = ", ".join(str(n) for n in sorted(set(numbers))[:20])
    more = "…" if len(set(numbers)) > 20 else ""
    return f" Refused lines: {shown}{more}."
