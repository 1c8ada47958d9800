"""/watch, /unwatch and /watches, the watch autocomplete, and adding many watches at once
(what /import uses), with one rule for when two watches are the same watch."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands.arguments import ascii_number
from bot.commands.base import Context
from bot.delivery.render import plural
from bot.types import ChatRef, ChatSettings, Incoming, Reply, Span, WatchInfo
from bot.watching.preview import PREVIEW_DAYS, preview
from bot.watching.query import Query, QueryError, canonical, parse
from storage import repo


def query_key(query: Query | str) -> str:
    """What makes two watches the same watch: the parsed query's canonical form (so
    "re-ranking" and "reranking" are one), or the folded text when it does not parse."""
    if isinstance(query, Query):
        return canonical(query.tree)
    try:
        return canonical(parse(query).tree)
    except QueryError:
        return " ".join(query.casefold().split())


def find_same(watches: Iterable[WatchInfo], query: Query | str) -> WatchInfo | None:
    key = query_key(query)
    return next((w for w in watches if query_key(w.query) == key), None)


@dataclass
class Added:
    """What adding several queries to a chat did."""

    added: list[WatchInfo] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)  # what each added watch parsed to
    # already watched: each query with the watch that means the same
    same: list[tuple[Query, WatchInfo]] = field(default_factory=list)
    over_limit: list[Query] = field(default_factory=list)  # the chat had too many watches
    total: int = 0  # the chat's active watches afterwards
    chat_id: int = 0


class WatchCommands:
    """The handlers that add, remove and list a chat's watches."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def add_queries(self, session: AsyncSession, chat: ChatSettings,
                          queries: Iterable[Query]) -> Added:
        """Store the queries the chat does not watch yet, up to its watch limit. Once the
        transaction is committed, `index()` puts them in the live watch index."""
        current = await repo.active_watches(session, chat.id)
        done = Added(chat_id=chat.id)
        for query in queries:
            same = find_same(current, query)
            if same is not None:
                done.same.append((query, same))
                continue
            if len(current) >= self.ctx.limits.max_watches_per_chat:
                done.over_limit.append(query)
                continue
            watch = await repo.add_watch(session, chat.id, query.text, self.ctx.clock())
            current.append(watch)
            done.added.append(watch)
            done.queries.append(query)
        done.total = len(current)
        return done

    def index(self, done: Added) -> None:
        for watch, query in zip(done.added, done.queries, strict=True):
            self.ctx.watches.add(watch.id, query, done.chat_id)

    async def watch(self, incoming: Incoming, arg: str) -> Reply:
        if not arg:
            return Reply.text("Usage: /watch QUERY, e.g. /watch federated learning. "
                              "/help watch explains queries.", ok=False)
        try:
            query = self.ctx.parse_query(arg)
        except QueryError as exc:
            return Reply.text(f"Can't watch that: {exc.describe()}", ok=False)
        async with self.ctx.sessions.begin() as session:
            chat = await self.ctx.chat(session, incoming.chat)
            done = await self.add_queries(session, chat, [query])
        if done.same:
            [(_query, same)] = done.same
            shown = f"“{same.query}”" + ("" if same.query == query.text
                                         else f", the same as “{query.text}”")
            return Reply.text(f"Already watching {shown} (#{same.number}). "
                              "/watches lists them.", ok=False)
        if done.over_limit:
            return Reply.text(f"You have {done.total} watches, the most allowed. "
                              "/unwatch one first.", ok=False)
        self.index(done)
        [watch] = done.added
        matched = await preview(self.ctx.recent, query, self.ctx.clock(), self.ctx.clock)
        lines: list[str | Span] = [f"✓ Watching “{query.text}” (#{watch.number}). "
                                   "New matching papers will be sent here."]
        if matched:
            lines.append(f"In the last {PREVIEW_DAYS} days it would have matched "
                         f"{plural(len(matched), 'paper')}, e.g.:")
            lines += [Span(f"• {p.title}", link=p.url) for p in matched[:3]]
        else:
            lines.append(f"No stored paper of the last {PREVIEW_DAYS} days matches it yet.")
        return Reply.text(*lines)

    async def unwatch(self, incoming: Incoming, arg: str) -> Reply:
        if not arg:
            return Reply.text("Usage: /unwatch N (its number in /watches) or /unwatch QUERY.",
                              ok=False)
        async with self.ctx.sessions.begin() as session:
            chat = await repo.get_chat(session, incoming.chat)
            current = await repo.active_watches(session, chat.id) if chat else []
            digits = arg.removeprefix("#").strip()
            if digits.isnumeric():  # "2", and also "²" or "١": refused below, not a query
                number = ascii_number(digits)
                if number is None:
                    return Reply.text("A watch number is written in the digits 0-9, like "
                                      "/unwatch 2.", ok=False)
                target = next((w for w in current if w.number == number), None)
            else:
                target = find_same(current, arg)
            if target is None or chat is None or not await repo.delete_watch(
                    session, chat.id, target.id, self.ctx.clock()):
                return Reply.text(f"No watch “{arg[:60]}” here. /watches lists yours.", ok=False)
        self.ctx.watches.remove(target.id)
        return Reply.text(f"✓ Stopped watching “{target.query}”.")

    async def watches(self, incoming: Incoming, _arg: str) -> Reply:
        current = await self.watch_list(incoming.chat)
        if not current:
            return Reply.text("No watches yet. Try /watch federated learning.")
        lines: list[str | Span] = [Span(f"Watches ({len(current)})", bold=True)]
        lines += [f"{w.number}. {w.query} — {plural(w.hit_count, 'hit')}" for w in current]
        return Reply.text(*lines)

    async def watch_list(self, ref: ChatRef) -> list[WatchInfo]:
        """A chat's active watches (none for a chat that never talked to us)."""
        async with self.ctx.sessions() as session:
            chat = await repo.get_chat(session, ref)
            return await repo.active_watches(session, chat.id) if chat else []
