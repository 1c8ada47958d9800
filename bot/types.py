"""Plain data shared by every part of paperwatch: papers, chats, messages, send errors.

Small frozen dataclasses with no I/O. Everything imports this module; it imports nothing
of ours.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol
from urllib.parse import quote_plus

# --- papers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Paper:
    """One paper as the core sees it. `id` is the arXiv id without its version."""

    id: str
    title: str
    summary: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    published: datetime | None = None  # always timezone-aware when set
    upvotes: int | None = None
    version: int | None = None
    source: str = "ingest"
    github_url: str | None = None
    project_url: str | None = None
    thumbnail_url: str | None = None
    github_stars: int | None = None
    ai_summary: str = ""  # Hugging Face's one-line AI summary, when it sent one
    organization: str | None = None  # the submitting organization's display name on HF

    @property
    def url(self) -> str:
        """The page a person opens: Hugging Face for HF papers, arXiv otherwise."""
        if self.id.startswith("sample-"):  # demo papers with no known id: a short search
            head = self.title.split(":", 1)[0] if ":" in self.title[:40] else self.title
            return "https://huggingface.co/papers?q=" + quote_plus(" ".join(head.split()[:6]))
        if self.source == "hf":
            return f"https://huggingface.co/papers/{self.id}"
        return f"https://arxiv.org/abs/{self.id}"


# --- chats and commands ---------------------------------------------------------------

CHAT_KINDS = ("user", "group", "channel")


@dataclass(frozen=True)
class ChatRef:
    """Where messages go: a platform and the platform's id of the chat.

    kind is "user" for a private chat (one person), "group" or "channel" otherwise.
    """

    platform: str
    external_id: str
    kind: str = "user"


@dataclass(frozen=True)
class Incoming:
    """A command line typed by someone, as every adapter reports it.

    `chat` is whose watches the command manages (on Discord: always the member's DM).
    `is_admin` says whether the sender may configure `chat` (always True in a private chat).
    """

    chat: ChatRef
    text: str
    user_id: str = ""
    user_name: str = ""
    is_admin: bool = True
    reply_chat: ChatRef | None = None  # where the command was typed, when not `chat`
    attachment: Attachment | None = None  # a file sent with the command (/import)


# --- neutral rich text ----------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A run of text with simple styling; adapters escape and render it natively."""

    text: str
    bold: bool = False
    italic: bool = False
    code: bool = False
    link: str | None = None


Line = tuple[Span, ...]


@dataclass(frozen=True)
class RichText:
    """Lines of spans. The only text format the core produces."""

    lines: tuple[Line, ...] = ()

    @staticmethod
    def of(*lines: str | Span | Line) -> RichText:
        """Build from plain strings, single spans or span tuples (one line each)."""
        out: list[Line] = []
        for line in lines:
            if isinstance(line, str):
                out.append((Span(line),))
            elif isinstance(line, Span):
                out.append((line,))
            else:
                out.append(tuple(line))
        return RichText(tuple(out))

    def __add__(self, other: RichText) -> RichText:
        return RichText(self.lines + other.lines)

    def plain(self) -> str:
        return "\n".join("".join(s.text for s in line) for line in self.lines)

    def plain_with_links(self, shown: str = " <{}>",
                         keep: Callable[[str | None], str | None] = lambda link: link) -> str:
        """Plain text with each link written once after its (possibly multi-span) text, as
        `shown` formats it; `keep` may rewrite a link or drop it (None)."""
        out_lines = []
        for line in self.lines:
            parts: list[str] = []
            for index, span in enumerate(line):
                parts.append(span.text)
                link = keep(span.link)
                following = keep(line[index + 1].link) if index + 1 < len(line) else None
                if link and link != following:
                    parts.append(shown.format(link))
            out_lines.append("".join(parts))
        return "\n".join(out_lines)


@dataclass(frozen=True)
class Attachment:
    """A small file sent with a reply (BibTeX, a watch list) or received with a command.

    Adapters send it as a Telegram document or a Discord attachment; the console writes it
    to a file and says where."""

    filename: str
    data: bytes
    mime_type: str = "text/plain"


@dataclass(frozen=True)
class Button:
    """An inline button. `command` is the command line it runs when pressed."""

    label: str
    command: str


@dataclass(frozen=True)
class Reply:
    """The answer to one command. `ephemeral`: only the sender should see it."""

    body: RichText
    buttons: tuple[Button, ...] = ()
    ephemeral: bool = False
    ok: bool = True  # False for refusals and errors (adapters may style them)
    attachments: tuple[Attachment, ...] = ()

    @staticmethod
    def text(*lines: str | Span | Line, ok: bool = True, ephemeral: bool = False) -> Reply:
        return Reply(RichText.of(*lines), ok=ok, ephemeral=ephemeral)


FEEDBACK_ACTIONS = ("like", "dislike", "more")  # what a person can do with a sent paper


@dataclass(frozen=True)
class ItemRef:
    """Item `number` of a sent message is paper `paper_id`. Adapters render the feedback
    actions on it natively (Telegram inline buttons, Discord buttons or a select menu);
    each action runs the command line `command(action)` for whoever chose it."""

    number: int
    paper_id: str
    title: str = ""  # for menus that list the items by name

    def command(self, action: str) -> str:
        """'/like 2411.18385' (action: one of FEEDBACK_ACTIONS)."""
        return f"/{action} {self.paper_id}"


@dataclass(frozen=True)
class OutMessage:
    """One message the delivery worker asks an adapter to send."""

    body: RichText
    buttons: tuple[Button, ...] = ()
    title: str | None = None  # a heading adapters may render specially (embed title)
    image_url: str | None = None  # a picture platforms that show images put with it
    items: tuple[ItemRef, ...] = ()  # its numbered papers, for feedback buttons


# --- matching --------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchHit:
    """Why one watch matched one paper: the phrases found, per field."""

    watch_id: int
    terms: tuple[tuple[str, str], ...] = field(default=())  # (field, phrase) pairs

    def words(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(phrase for _, phrase in self.terms))


# --- send outcomes (raised by adapters, handled by the delivery worker) ----------------


class SendError(Exception):
    """Base of every failure an adapter reports from send()."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientSendError(SendError):
    """Try again later with backoff (network trouble, 5xx)."""


class PermanentSendError(SendError):
    """Never send to this chat again until it comes back (blocked, removed, unknown)."""


class MessageRejected(SendError):
    """This message can never be sent (the platform refuses its content); the chat is fine.
    Its rows fail with the reason, the chat stays active, nothing is retried."""


class RateLimited(SendError):
    """The platform asked us to wait. scope is "chat" or "global"."""

    def __init__(self, retry_after: float, scope: str = "chat", reason: str = "") -> None:
        super().__init__(reason or f"rate limited for {retry_after:.1f}s ({scope})")
        self.retry_after = retry_after
        self.scope = scope


class ChatMoved(SendError):
    """The chat has a new id (Telegram group -> supergroup). Resend there."""

    def __init__(self, new_external_id: str) -> None:
        super().__init__(f"chat moved to {new_external_id}")
        self.new_external_id = new_external_id


# --- what the core needs from an adapter to send ----------------------------------------


class Sender(Protocol):
    """The sending side of an adapter, as the delivery worker uses it."""

    platform: str
    max_chars: int  # the platform's message limit, in `measure` units

    def measure(self, text: RichText) -> int:
        """Length of the text once rendered natively (escaping and markup included)."""
        ...

    async def send(self, chat: ChatRef, message: OutMessage) -> None:
        """Send or raise a SendError subclass."""
        ...


# --- delivery state, as storage.repo returns it to the outbox and the daily poster ------


@dataclass(frozen=True)
class DeliveryItem:
    """One outbox row: a paper due for a chat. kind "alert" (a watch matched) or a
    follow-up ("code", "trending", "revised"); `why` is (field, phrase) pairs for an
    alert and (what, detail) notes for a follow-up (e.g. ("changed", "title"))."""

    id: int
    chat_id: int
    paper_id: str
    kind: str = "alert"
    watch_ids: tuple[int, ...] = ()
    why: tuple[tuple[str, str], ...] = ()
    attempts: int = 0
    created_at: datetime | None = None


@dataclass(frozen=True)
class DeliveryChat:
    """What the outbox and the daily poster need of a chat: where it is, whether it takes
    messages, and its delivery settings."""

    id: int
    ref: ChatRef
    state: str = "active"
    mode: str = "instant"
    digest_time: str = "09:00"
    digest_day: int = 0
    timezone: str = "UTC"
    quiet_start: str | None = None
    quiet_end: str | None = None
    muted_until: datetime | None = None
    hold_until: datetime | None = None
    recent_sends: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class ChannelPostSettings:
    """A chat's daily trending post (a channel's, or a person's subscription)."""

    chat_id: int
    enabled: bool = True
    post_time: str = "09:00"
    timezone: str = "UTC"
    top_n: int = 10
    min_upvotes: int = 0
    topic_query: str | None = None
    post_empty_note: bool = False
    weekdays: bool = False  # Monday to Friday only
    disabled_reason: str | None = None


@dataclass(frozen=True)
class DailyPostState:
    """One chat's daily post of one local day: claimed | retry | sent | empty | failed."""

    chat_id: int
    day: date
    state: str
    attempts: int = 0
    claimed_until: datetime | None = None
    next_attempt_at: datetime | None = None
    papers: int = 0
    last_error: str | None = None


# --- chats and watches as storage.repo returns them (no ORM rows in the core) -----------

FOLLOWUP_KINDS = ("code", "trending", "revised")  # what /followups KIND on|off names


@dataclass(frozen=True)
class ChatSettings:
    """One chat as the core sees it: where it is, whether alerts reach it, its settings."""

    id: int
    platform: str
    external_id: str
    kind: str = "user"
    state: str = "active"  # active | blocked
    state_reason: str | None = None
    muted_until: datetime | None = None
    mode: str = "instant"  # instant | daily | weekly
    digest_time: str = "09:00"  # HH:MM local
    digest_day: int = 0  # 0 = Monday
    timezone: str = "UTC"
    quiet_start: str | None = None  # HH:MM local
    quiet_end: str | None = None
    hold_until: datetime | None = None
    recent_sends: tuple[str, ...] = ()  # ISO UTC times of the latest messages (hourly cap)
    followups: tuple[str, ...] = FOLLOWUP_KINDS  # the follow-up kinds the chat wants

    @property
    def ref(self) -> ChatRef:
        return ChatRef(self.platform, self.external_id, self.kind)


@dataclass(frozen=True)
class WatchInfo:
    """One active watch of a chat: `number` is what the chat sees (#3), `id` is global."""

    id: int
    number: int
    query: str
    hit_count: int = 0
    created_at: datetime | None = None
