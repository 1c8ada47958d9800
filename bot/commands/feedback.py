"""/like, /dislike, /unlike, /likes, /more and /foryou: a person's feedback on papers and
what the ranking engine makes of it.

A mark belongs to the PERSON who gave it (platform and user id), also in a group or a
server; nobody marks for someone else, and a message with no known sender (a channel
post, an anonymous admin) marks nothing. REF is an item number of the last message the
bot sent to that chat (`storage.repo.feedback_refs` remembers it, so every process and a
restart agree), or an arXiv id (`2411.18385`, `2411.18385v2`, `arXiv:2411.18385`), or the
id of any stored paper. Refused input gets a short reason and stores nothing.
"""

from __future__ import annotations

import re

from bot.commands.arguments import ascii_number, hhmm
from bot.commands.base import Context
from bot.delivery.local_time import local_at, zone
from bot.delivery.render import plural
from bot.ranking.service import RankingService
from bot.ranking.types import DISLIKE, LIKE, MIN_LIKES, ForYouSetting, Person
from bot.types import Button, Incoming, Line, Reply, Span
from bot.wording import short
from storage import feedback as marks
from storage import repo
from storage.repo import feedback_refs as refs

MAX_REF_CHARS = 64
MORE_COUNT = 5
LIKES_SHOWN = 20
FORYOU_COUNT = 5
DEFAULT_FORYOU_TIME = "09:00"
TITLE_CHARS = 70  # a paper title quoted in an answer

_ARXIV = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5})(?:v\d{1,3})?$", re.IGNORECASE)
_OLD_ARXIV = re.compile(r"^(?:arxiv:)?([a-z][a-z.-]{1,20}/\d{7})(?:v\d{1,3})?$",
                        re.IGNORECASE)
_PAPER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SOMEONE = re.compile(r"^(?:@|<@|for$|user:|tg://)", re.IGNORECASE)

NO_SENDER = ("I can't tell who sent that (a channel post or an anonymous admin), and marks "
             "belong to a person; nothing was stored.")
FOR_SOMEONE = "You can mark papers only for yourself; nothing was stored."


class RefError(ValueError):
    """A REF that names no stored paper; the message says why."""


def person_of(incoming: Incoming) -> Person | None:
    """Who sent the command (None when the platform did not say)."""
    user = incoming.user_id.strip()
    return Person(incoming.chat.platform, user) if user else None


def read_ref(text: str) -> int | str:
    """An item number, or a paper id (arXiv ids without version or prefix); RefError for
    anything else (emoji, SQL, spaces, huge input)."""
    text = text.strip().removeprefix("#")
    if not text:
        raise RefError("empty")
    if len(text) > MAX_REF_CHARS:
        raise RefError(f"that reference is {len(text)} characters long; an item number or "
                       "an arXiv id is short")
    if text.isnumeric():
        number = ascii_number(text)
        if number is None:
            raise RefError("an item number is written in the digits 0-9, like 3")
        if not 1 <= number <= 999:
            raise RefError(f"there is no item {number}; items are numbered from 1")
        return number
    for pattern in (_ARXIV, _OLD_ARXIV):
        match = pattern.match(text)
        if match:
            return match.group(1).lower() if pattern is _OLD_ARXIV else match.group(1)
    if _PAPER_ID.match(text):
        return text
    raise RefError(f"“{text[:30]}” is not an item number or an arXiv id")


class FeedbackCommands:
    """The feedback handlers over one ranking service (shared with the delivery worker)."""

    def __init__(self, ctx: Context, ranking: RankingService | None = None) -> None:
        self.ctx = ctx
        self.ranking = ranking or RankingService(ctx.sessions)

    def use(self, ranking: RankingService) -> None:
        """Share the process's ranking service (its fitted space and models)."""
        self.ranking = ranking

    # --- references --------------------------------------------------------------------

    async def resolve(self, incoming: Incoming, text: str) -> str:
        """The stored paper id a REF names; RefError (with the reason) otherwise."""
        ref = read_ref(text)
        async with self.ctx.sessions() as session:
            if isinstance(ref, int):
                found: dict[int, str] = {}
                for where in (incoming.reply_chat, incoming.chat):
                    chat = await repo.get_chat(session, where) if where is not None else None
                    found = await refs.sent_items(session, chat.id) if chat else {}
                    if found:
                        break
                if not found:
                    raise RefError("I haven't sent a numbered message here yet; use the "
                                   "paper's arXiv id instead")
                if ref not in found:
                    raise RefError(f"the last message here has no item {ref} (it has "
                                   f"{_numbers(found)})")
                return found[ref]
            if ref not in await marks.stored_ids(session, [ref]):
                raise RefError(f"paper {ref} is not stored here (only papers paperwatch "
                               "has seen can be marked)")
            return ref

    async def _target(self, incoming: Incoming, arg: str, usage: str
                      ) -> tuple[Person, str] | Reply:
        """The sender and the paper a one-REF command is about, or the refusal."""
        words = arg.split()
        if not words:
            return Reply.text(f"Usage: {usage} (an item number of the last message, or an "
                              "arXiv id). Nothing was stored.", ok=False)
        if any(_SOMEONE.match(w) for w in words[1:]) or _SOMEONE.match(words[0]):
            return Reply.text(FOR_SOMEONE, ok=False)
        if len(words) > 1:
            return Reply.text(f"One paper at a time: {usage}. Nothing was stored.", ok=False)
        person = person_of(incoming)
        if person is None:
            return Reply.text(NO_SENDER, ok=False)
        try:
            paper_id = await self.resolve(incoming, words[0])
        except RefError as exc:
            return Reply.text(f"Can't find that paper: {exc}. Nothing was stored.", ok=False)
        return person, paper_id

    async def _title(self, paper_id: str) -> str:
        async with self.ctx.sessions() as session:
            paper = (await repo.papers_for_delivery(session, [paper_id])).get(paper_id)
        return paper.title if paper else paper_id

    # --- /like /dislike /unlike /likes -----------------------------------------------------

    async def like(self, incoming: Incoming, arg: str) -> Reply:
        return await self._mark(incoming, arg, LIKE, "/like REF")

    async def dislike(self, incoming: Incoming, arg: str) -> Reply:
        return await self._mark(incoming, arg, DISLIKE, "/dislike REF")

    async def _mark(self, incoming: Incoming, arg: str, value: int, usage: str) -> Reply:
        target = await self._target(incoming, arg, usage)
        if isinstance(target, Reply):
            return target
        person, paper_id = target
        async with self.ctx.sessions.begin() as session:
            if not await marks.set_feedback(session, person, paper_id, value, self.ctx.clock()):
                return Reply.text(f"Can't find that paper: {paper_id} is not stored. "
                                  "Nothing was stored.", ok=False)
            likes = sum(m.value == LIKE for m in await marks.feedback_of(session, person))
        title = short(await self._title(paper_id), TITLE_CHARS)
        head = (f"👍 Noted: more like “{title}”." if value == LIKE
                else f"👎 Noted: less like “{title}”.")
        return Reply.text(head, _progress(likes), f"Take it back: /unlike {paper_id}")

    async def unlike(self, incoming: Incoming, arg: str) -> Reply:
        target = await self._target(incoming, arg, "/unlike REF")
        if isinstance(target, Reply):
            return target
        person, paper_id = target
        async with self.ctx.sessions.begin() as session:
            removed = await marks.remove_feedback(session, person, paper_id)
        title = short(await self._title(paper_id), TITLE_CHARS)
        if not removed:
            return Reply.text(f"You had no mark on “{title}”; nothing changed.", ok=False)
        return Reply.text(f"✓ Took back your mark on “{title}”.")

    async def likes(self, incoming: Incoming, _arg: str) -> Reply:
        person = person_of(incoming)
        if person is None:
            return Reply.text(NO_SENDER, ok=False)
        async with self.ctx.sessions() as session:
            mine = await marks.feedback_of(session, person)
            papers = await repo.papers_for_delivery(session, [m.paper_id for m in mine])
        if not mine:
            return Reply.text("You have marked no papers yet: /like 3 (an item of the last "
                              "message) or /like 2411.18385, or 👍 under an alert.")
        liked = sum(m.value == LIKE for m in mine)
        lines: list[str | Span | Line] = [Span(
            f"Your marks: {plural(liked, 'like')}, {plural(len(mine) - liked, 'dislike')}",
            bold=True)]
        for m in mine[:LIKES_SHOWN]:
            paper = papers.get(m.paper_id)
            icon = "👍" if m.value == LIKE else "👎"
            title = Span(short(paper.title, 90), link=paper.url) if paper else Span(m.paper_id)
            lines.append((Span(f"{icon} "), title, Span(f" — /unlike {m.paper_id}")))
        if len(mine) > LIKES_SHOWN:
            lines.append(f"… and {len(mine) - LIKES_SHOWN} older marks")
        lines.append(_progress(liked))
        buttons = tuple(Button(f"Take back {n}", f"/unlike {m.paper_id}")
                        for n, m in enumerate(mine[:3], start=1))
        return Reply(Reply.text(*lines).body, buttons=buttons)

    # --- /more ------------------------------------------------------------------------------

    async def more(self, incoming: Incoming, arg: str) -> Reply:
        words = arg.split()
        if len(words) != 1:
            return Reply.text("Usage: /more REF (an item number of the last message, or an "
                              "arXiv id).", ok=False)
        try:
            paper_id = await self.resolve(incoming, words[0])
        except RefError as exc:
            return Reply.text(f"Can't find that paper: {exc}.", ok=False)
        similar = await self.ranking.more_like(paper_id, MORE_COUNT)
        if not similar.stored:
            return Reply.text(f"Can't find that paper: {paper_id} is not stored.", ok=False)
        title = short(await self._title(paper_id), TITLE_CHARS)
        if not similar.items:
            return Reply.text(f"No stored paper is like “{title}” yet.")
        async with self.ctx.sessions() as session:
            papers = await repo.papers_for_delivery(session, [s.paper_id for s in similar.items])
        lines: list[str | Span | Line] = [Span(f"Papers like “{title}”", bold=True)]
        for item in similar.items:
            paper = papers.get(item.paper_id)
            if paper is None:
                continue
            lines.append((Span("• "), Span(paper.title, link=paper.url),
                          Span(f" — {item.similarity:.0%} similar · {paper.id}")))
        return Reply.text(*lines)

    # --- /why ------------------------------------------------------------------------------

    async def why(self, incoming: Incoming, arg: str) -> Reply:
        """The words that weigh most for the sender in a paper (their model's top positive
        words in it), as arxiv-sanity-lite shows them."""
        target = await self._target(incoming, arg, "/why REF")
        if isinstance(target, Reply):
            return target
        person, paper_id = target
        explained = await self.ranking.explain(person, paper_id)
        title = short(await self._title(paper_id), TITLE_CHARS)
        if not explained.stored:
            return Reply.text(f"Can't find that paper: {paper_id} is not stored.", ok=False)
        if not explained.has_model:
            async with self.ctx.sessions() as session:
                likes = sum(m.value == LIKE for m in await marks.feedback_of(session, person))
            return Reply.text(f"Nothing ranks for you yet: {_progress(likes)}")
        if not explained.words:
            return Reply.text(f"“{title}” has no words your likes favour (score "
                              f"{explained.score or 0:+.2f}).")
        return Reply.text(f"“{title}” for you: {', '.join(explained.words)} (score "
                          f"{explained.score or 0:+.2f}).")

    # --- /foryou ----------------------------------------------------------------------------

    async def foryou(self, incoming: Incoming, arg: str) -> Reply:
        words = arg.split()
        person = person_of(incoming)
        if person is None:
            return Reply.text(NO_SENDER, ok=False)
        if incoming.chat.kind != "user":
            return Reply.text("/foryou is personal: send it to me in a private chat. "
                              "Nothing was changed.", ok=False)
        action = words[0].lower() if words else ""
        if action not in ("on", "off", ""):
            return Reply.text("Usage: /foryou on [HH:MM] | off", ok=False)
        if action == "on" and len(words) > 2 or action == "off" and len(words) > 1:
            return Reply.text("Usage: /foryou on [HH:MM] | off. Nothing was changed.",
                              ok=False)
        at: str | None = None
        if action == "on" and len(words) == 2:
            try:
                at = hhmm(words[1])
            except ValueError as exc:
                return Reply.text(f"Can't set /foryou: {exc}. Nothing was changed.", ok=False)
        now = self.ctx.clock()
        async with self.ctx.sessions.begin() as session:
            chat = await self.ctx.chat(session, incoming.chat)
            current = await refs.foryou_of(session, person)
            likes = sum(m.value == LIKE for m in await marks.feedback_of(session, person))
            if not action:
                return Reply.text(_describe(current), _progress(likes))
            if action == "off":
                if current is None or not current.enabled:
                    return Reply.text("/foryou is off already.")
                await refs.set_foryou(session, person, chat.id, False, None, now,
                                      current.last_day)
                return Reply.text("✓ /foryou is off.")
            post_time = at or (current.post_time if current else DEFAULT_FORYOU_TIME)
            today = now.astimezone(zone(chat.timezone)).date()
            started = now >= local_at(today, post_time, zone(chat.timezone))
            done = today if started or (current and current.last_day == today) else (
                current.last_day if current else None)
            await refs.set_foryou(session, person, chat.id, True, post_time, now, done)
        first = "tomorrow" if done == today else "today"
        lines = [f"✓ For you: every day at {post_time} {chat.timezone} (first {first}), the "
                 f"{FORYOU_COUNT} papers of the last day that your watches missed and your "
                 "likes say you'd want, each with the words that weighed most. /foryou off "
                 "stops it."]
        if likes < MIN_LIKES:
            lines.append(_progress(likes))
        return Reply.text(*lines)


def _describe(current: ForYouSetting | None) -> str:
    if current is None or not current.enabled:
        return "/foryou is off. /foryou on 09:00 sends you 5 picks a day."
    return f"/foryou is on: every day at {current.post_time} {current.timezone}."


def _progress(likes: int) -> str:
    if likes >= MIN_LIKES:
        return (f"{plural(likes, 'like')}: your alerts are ranked for you (★ marks the best) "
                "and /foryou can pick papers.")
    return (f"{plural(likes, 'like')} so far; with {MIN_LIKES} your alerts are ranked for "
            "you.")


def _numbers(found: dict[int, str]) -> str:
    numbers = sorted(found)
    return (f"item {numbers[0]}" if len(numbers) == 1
            else f"items {numbers[0]}-{numbers[-1]}")
