"""SQLAlchemy 2 typed models: chats, watches, papers, deliveries, channel posts, daily posts,
sources, live delivery workers, feedback marks.

The schema itself is created and changed only by the Alembic migrations in
`storage/migrations`; these models must match them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every backend (SQLite has no zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Chat(Base):
    """A place messages go: a person's private chat, a group or a channel."""

    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="user")  # user | group | channel
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | blocked
    state_reason: Mapped[str | None] = mapped_column(Text, default=None)
    # A mute that has ended but is still set marks the waiting alerts as "while you were
    # away"; the worker clears it once they went out.
    muted_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    # delivery preferences (/mode, /timezone, /quiet)
    mode: Mapped[str] = mapped_column(String(16), default="instant",
                                      server_default="instant")  # instant | daily | weekly
    digest_time: Mapped[str] = mapped_column(String(5), default="09:00",
                                             server_default="09:00")  # HH:MM local
    digest_day: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # 0=Monday
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    quiet_start: Mapped[str | None] = mapped_column(String(5), default=None)  # HH:MM local
    quiet_end: Mapped[str | None] = mapped_column(String(5), default=None)
    # nothing is sent to this chat before hold_until (digest time, quiet hours, hourly cap)
    hold_until: Mapped[datetime | None] = mapped_column(default=None)
    # when the last messages (at most the hourly cap) went to this chat, ISO UTC strings
    recent_sends: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    followups: Mapped[str] = mapped_column(String(64), default="code,trending,revised",
                                           server_default="code,trending,revised")


class Watch(Base):
    """One saved query of one chat. Deleting sets deleted_at (history stays explainable)."""

    __tablename__ = "watches"
    __table_args__ = (Index("ix_watches_chat_active", "chat_id", "deleted_at"),
                      UniqueConstraint("chat_id", "number", name="uq_watches_chat_number"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    # The number the person sees (#3): per chat, never reused, stable while the watch exists.
    number: Mapped[int] = mapped_column(Integer)
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    hit_count: Mapped[int] = mapped_column(Integer, default=0)


class PaperRow(Base):
    """A paper, keyed by its arXiv id without version."""

    __tablename__ = "papers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int | None] = mapped_column(Integer, default=None)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    published: Mapped[datetime | None] = mapped_column(default=None)
    upvotes: Mapped[int | None] = mapped_column(Integer, default=None)
    github_url: Mapped[str | None] = mapped_column(Text, default=None)
    project_url: Mapped[str | None] = mapped_column(Text, default=None)
    thumbnail_url: Mapped[str | None] = mapped_column(Text, default=None)
    github_stars: Mapped[int | None] = mapped_column(Integer, default=None)
    ai_summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    organization: Mapped[str | None] = mapped_column(Text, default=None)
    # True from storing until every delivery the paper causes is written (crash-safe fan-out)
    fanout_pending: Mapped[bool] = mapped_column(default=False, server_default=false(),
                                                 index=True)
    source: Mapped[str] = mapped_column(String(16))
    first_seen: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


# the rows of ix_deliveries_sent_alerts; a query must name them in these words (literals,
# not parameters) for either database to use the index
SENT_ALERTS = "deliveries.state = 'sent' AND deliveries.kind = 'alert'"


class Delivery(Base):
    """The outbox and the sent history: one row per (recipient, paper)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("chat_id", "paper_id", "kind", name="uq_deliveries_chat_paper_kind"),
        # claiming reads the oldest due rows; one chat's rows are found by the unique rule
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        # follow-ups find the chats alerted about a paper; partial, so the fan-out's
        # pending rows are not in it and only a send adds an entry (migration 0012)
        Index("ix_deliveries_sent_alerts", "paper_id",
              sqlite_where=text(SENT_ALERTS), postgresql_where=text(SENT_ALERTS)),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    # no foreign keys: a trigger per row on PostgreSQL, for millions of rows a day
    # (migration 0009); rows are written only for chats and papers just read
    chat_id: Mapped[int] = mapped_column(Integer)
    paper_id: Mapped[str] = mapped_column(String(64))
    watch_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    why: Mapped[list[list[str]]] = mapped_column(JSON, default=list)  # [[field, phrase], ...]
    # "alert" (a watch matched) or a follow-up kind: "code", "trending", "revised"
    kind: Mapped[str] = mapped_column(String(16), default="alert", server_default="alert")
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime]


class ChannelPost(Base):
    """A chat's daily trending post configuration."""

    __tablename__ = "channel_posts"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"),
                                         primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    post_time: Mapped[str] = mapped_column(String(5), default="09:00")  # HH:MM local
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    top_n: Mapped[int] = mapped_column(Integer, default=10)
    min_upvotes: Mapped[int] = mapped_column(Integer, default=0)
    topic_query: Mapped[str | None] = mapped_column(Text, default=None)
    post_empty_note: Mapped[bool] = mapped_column(default=False)
    # Monday to Friday only (like the Hugging Face email); every day otherwise
    weekdays: Mapped[bool] = mapped_column(default=False, server_default=false())
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime]


class DailyPost(Base):
    """One chat's daily trending post of one local day: the row exists before the send, so
    a restart or a second scheduler never posts that day twice."""

    __tablename__ = "daily_posts"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"),
                                         primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # the chat's local date
    state: Mapped[str] = mapped_column(String(16))  # claimed | retry | sent | empty | failed
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    posted_at: Mapped[datetime | None] = mapped_column(default=None)
    papers: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime]


class SourceState(Base):
    """Per-source memory: has its first fetch happened, when it last worked, and a cursor."""

    __tablename__ = "source_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    initialized: Mapped[bool] = mapped_column(default=False)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_success_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status: Mapped[str | None] = mapped_column(String(16), default=None)
    last_note: Mapped[str | None] = mapped_column(Text, default=None)
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WorkerBeat(Base):
    """A delivery worker that is alive: it refreshes `seen_at` every few seconds, so the
    workers of one bot know how many they are and split the platforms' send rates."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime]


class Feedback(Base):
    """One person's mark on one paper: +1 relevant, -1 not. The person is (platform, user id)
    of whoever gave it, also in a group or server; a new mark replaces the old one (unique
    per person and paper) and taking it back deletes the row. Personal ranking models are
    rebuilt from these rows, so they are the only state ranking needs."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("platform", "user_id", "paper_id", name="uq_feedback_person_paper"),
        CheckConstraint("value IN (-1, 1)", name="ck_feedback_value"),
        Index("ix_feedback_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"),
                                          index=True)
    value: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class SentItem(Base):
    """Item `number` of the last message sent to a chat was paper `paper_id` (what /like 3
    and /more 3 mean there). A new message replaces the chat's rows."""

    __tablename__ = "sent_items"

    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"),
                                         primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_id: Mapped[str] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    sent_at: Mapped[datetime]


class ForYouSchedule(Base):
    """A person's /foryou: once a day at `post_time` (the chat's time zone) their top
    picks go to `chat_id`; `last_day` is the last local day they were queued for."""

    __tablename__ = "foryou"
    __table_args__ = (UniqueConstraint("platform", "user_id", name="uq_foryou_person"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    post_time: Mapped[str] = mapped_column(String(5), default="09:00", server_default="09:00")
    last_day: Mapped[date | None] = mapped_column(Date, default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime]
