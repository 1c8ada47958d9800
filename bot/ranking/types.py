"""Plain results and keys of the ranking engine: people, marks, paper texts, rankings.

Small frozen dataclasses with no I/O and no heavy imports (storage.feedback returns them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

LIKE = 1
DISLIKE = -1
FORYOU_KIND = "foryou"  # the deliveries.kind of a /foryou pick
MIN_LIKES = 3  # fewer liked papers than this: no model, nothing changes for the person
STAR_FRACTION = 1 / 3  # the top third of a batch, when its score is positive, gets a star


@dataclass(frozen=True)
class TrainSettings:
    """How a person's model is trained (bot/ranking/person_model.py)."""

    negatives: int = 400  # other papers sampled as negatives
    C: float = 0.05
    dislike_weight: float = 2.0
    keep: int = 1500  # weights kept per model
    reference: int = 1000  # archive papers sampled to calibrate the scores
    quantile: float = 0.9  # a score above 0: above this share of the archive


@dataclass(frozen=True, order=True)
class Person:
    """Whoever gave a mark: the platform and that platform's user id (never the chat)."""

    platform: str
    user_id: str

    def key(self) -> str:
        return f"{self.platform}:{self.user_id}"


@dataclass(frozen=True)
class Mark:
    """One person's feedback on one paper: value +1 (relevant) or -1 (not)."""

    paper_id: str
    value: int
    created_at: datetime


@dataclass(frozen=True)
class PersonMark:
    """A feedback row with its owner, as read in bulk for retraining."""

    person: Person
    paper_id: str
    value: int


@dataclass(frozen=True)
class PaperText:
    """What the tf-idf space reads of a stored paper."""

    id: str
    title: str
    summary: str
    first_seen: datetime

    def text(self) -> str:
        return f"{self.title}\n{self.summary}"


@dataclass(frozen=True)
class RankedPaper:
    """One paper of a ranked batch. score is None without a model or for an unknown paper."""

    paper_id: str
    score: float | None = None
    starred: bool = False


@dataclass(frozen=True)
class Ranking:
    """A batch ordered for one person. has_model False: `items` keep the caller's order."""

    has_model: bool
    items: tuple[RankedPaper, ...]
    reason: str = ""  # why there is no model ("fewer than 3 likes")

    def ids(self) -> list[str]:
        return [item.paper_id for item in self.items]

    def starred(self) -> set[str]:
        return {item.paper_id for item in self.items if item.starred}


@dataclass(frozen=True)
class Pick:
    """A paper picked for a person, with the words that weighed most for them in it."""

    paper_id: str
    score: float
    words: tuple[str, ...]


@dataclass(frozen=True)
class ForYou:
    """The day's picks for one person (empty, has_model False, with fewer than 3 likes)."""

    has_model: bool
    picks: tuple[Pick, ...]
    reason: str = ""


@dataclass(frozen=True)
class SimilarPaper:
    paper_id: str
    similarity: float  # cosine of the tf-idf vectors, 0..1


@dataclass(frozen=True)
class Similar:
    """Papers most like `paper_id`. stored False: that paper is not in the database."""

    paper_id: str
    stored: bool
    items: tuple[SimilarPaper, ...] = ()


@dataclass(frozen=True)
class Explanation:
    """Why a paper ranks for a person: its top positive words under their model."""

    paper_id: str
    stored: bool
    has_model: bool
    words: tuple[str, ...] = ()
    score: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class ForYouSetting:
    """A person's /foryou schedule as storage returns it: the chat the picks go to, its
    time zone (the chat's), the local time, on/off, the last local day queued."""

    person: Person
    chat_id: int
    enabled: bool
    post_time: str = "09:00"
    timezone: str = "UTC"
    last_day: date | None = None
