"""The ranking service the commands and the delivery worker call: rank a batch for a person,
pick the day's papers for them, more like this, explain.

It reads the truth from the database on every call (the corpus mark and the person's
marks: two small indexed queries), keeps the fitted tf-idf space and the trained person
models in memory keyed by what they were built from (the vocabulary and the person's
marks), and runs every fit, training, scoring and similarity in a worker thread
(`asyncio.to_thread`), never on the event loop. Two services over one database, or one
after a restart, answer alike.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.ranking.types import (
    LIKE,
    MIN_LIKES,
    STAR_FRACTION,
    Explanation,
    ForYou,
    PaperText,
    Person,
    Ranking,
    Similar,
    SimilarPaper,
    TrainSettings,
)
from storage import feedback as repo

if TYPE_CHECKING:
    from bot.ranking.person_model import PersonModel
    from bot.ranking.vectors import PaperSpace

# numpy, scipy and scikit-learn (about 1.5 s to import) load on the first ranking call, not
# with every `paperwatch` command: the engine modules are imported where they are used.

NO_MODEL = f"fewer than {MIN_LIKES} liked papers"
_READ_CHUNK = 20_000


@dataclass(frozen=True)
class RankingSettings:
    train: TrainSettings = field(default_factory=TrainSettings)
    star_fraction: float = STAR_FRACTION
    words: int = 3  # top words shown per pick / explanation
    cached_models: int = 20_000  # person models kept in memory (about 12 KB each)


class RankingService:
    """One per process; safe to share between the tasks of its event loop."""

    def __init__(self, sessions: async_sessionmaker,
                 settings: RankingSettings | None = None) -> None:
        self.sessions = sessions
        self.settings = settings or RankingSettings()
        self._space: PaperSpace | None = None
        self._space_lock = asyncio.Lock()
        # person -> the model (or None: fewer than MIN_LIKES) and the key it was built for
        self._models: OrderedDict[Person, tuple[tuple, PersonModel | None]] = OrderedDict()

    # --- the tf-idf space ------------------------------------------------------------

    async def space(self, wait: bool = False) -> PaperSpace | None:
        """The space over every stored paper (None with no papers), brought up to date:
        papers stored since are appended, and it is refitted when the corpus grew enough.
        While another task refits, callers get the previous space at once (papers newer
        than it rank last, unscored) unless they `wait`."""
        async with self.sessions() as session:
            count, _latest = await repo.corpus_mark(session)
        current = self._space
        if current is not None and (len(current) >= count
                                    or (self._space_lock.locked() and not wait)):
            return current
        async with self._space_lock:
            if self._space is None or len(self._space) < count:
                self._space = await self._sync_space(self._space, count)
            return self._space

    async def _sync_space(self, space: PaperSpace | None, count: int) -> PaperSpace | None:
        from bot.ranking.vectors import fit_size, fit_space
        if count == 0:
            return None
        if space is not None and fit_size(count) == space.n_fit:
            grown = await asyncio.to_thread(space.extend, await self._read_texts(space.cursor))
            if len(grown) >= count:
                return grown
            # a paper was committed out of (first_seen, id) order: rebuild from scratch
        texts = await self._read_texts(None)
        return await asyncio.to_thread(fit_space, texts) if texts else None

    async def _read_texts(self, after: tuple[datetime, str] | None) -> list[PaperText]:
        """Stored papers after `after` in (first_seen, id) order, read a chunk at a time (the
        session is closed again before any CPU work starts)."""
        texts: list[PaperText] = []
        async with self.sessions() as session:
            while chunk := await repo.paper_texts(session, after, _READ_CHUNK):
                texts.extend(chunk)
                after = (chunk[-1].first_seen, chunk[-1].id)
        return texts

    async def refresh(self) -> None:
        """Bring the space up to date now (for a schedule: keeps refits off the first
        request after a big ingest)."""
        await self.space()

    # --- person models ---------------------------------------------------------------

    async def _model(self, space: PaperSpace, person: Person,
                     marks: Sequence[tuple[str, int]]) -> PersonModel | None:
        from bot.ranking.person_model import fingerprint
        key = (space.fit_key, fingerprint(marks))
        cached = self._models.get(person)
        if cached is not None and cached[0] == key:
            self._models.move_to_end(person)
            return cached[1]
        from bot.ranking.person_model import train
        model = None
        if sum(1 for _, value in marks if value == LIKE) >= MIN_LIKES:
            model = await asyncio.to_thread(train, space, person.key(), marks,
                                            self.settings.train)
        self._remember(person, key, model)
        return model

    def _remember(self, person: Person, key: tuple, model: PersonModel | None) -> None:
        self._models[person] = (key, model)
        self._models.move_to_end(person)
        while len(self._models) > self.settings.cached_models:
            self._models.popitem(last=False)

    async def _person(self, person: Person, need: Sequence[str] = ()
                      ) -> tuple[PaperSpace | None, PersonModel | None]:
        space = await self.space()
        if space is not None and any(space.row_of(pid) is None for pid in need):
            # papers newer than the space (another task is refitting it): wait for it
            space = await self.space(wait=True)
        async with self.sessions() as session:
            marks = [(m.paper_id, m.value) for m in await repo.feedback_of(session, person)]
        if space is None:
            return None, None
        return space, await self._model(space, person, marks)

    async def has_model(self, person: Person) -> bool:
        return (await self._person(person))[1] is not None

    async def train_many(self, people: Collection[Person] | None = None,
                         chunk: int = 100) -> dict[Person, PersonModel | None]:
        """Bring the models of these people (everyone with marks, by default) up to date in
        bulk: one read of their marks, training in worker threads, a chunk at a time."""
        return (await self._models_of(people, chunk))[1]

    async def _models_of(self, people: Collection[Person] | None, chunk: int = 100
                         ) -> tuple[PaperSpace | None, dict[Person, PersonModel | None],
                                    Mapping[Person, Sequence[tuple[str, int]]]]:
        space = await self.space()
        async with self.sessions() as session:
            marks = await repo.feedback_of_many(session, people)
        if space is None:
            return None, {}, {}
        # fingerprints and cache look-ups of 10,000 people: in the thread as well
        out, stale = await asyncio.to_thread(self._plan, space, marks)
        for start in range(0, len(stale), chunk):
            group = stale[start:start + chunk]
            models = await asyncio.to_thread(self._train_group, space, group)
            for (person, key, _pairs), model in zip(group, models, strict=True):
                self._remember(person, key, model)
                out[person] = model
        for person in people or ():
            out.setdefault(person, None)
        return space, out, marks

    def _plan(self, space: PaperSpace, marks: Mapping[Person, Sequence[tuple[str, int]]]
              ) -> tuple[dict[Person, PersonModel | None],
                         list[tuple[Person, tuple, Sequence[tuple[str, int]]]]]:
        from bot.ranking.person_model import fingerprint
        out: dict[Person, PersonModel | None] = {}
        stale: list[tuple[Person, tuple, Sequence[tuple[str, int]]]] = []
        for person, pairs in marks.items():
            key = (space.fit_key, fingerprint(pairs))
            cached = self._models.get(person)
            if cached is not None and cached[0] == key:
                out[person] = cached[1]
            else:
                stale.append((person, key, pairs))
        return out, stale

    def _train_group(self, space: PaperSpace,
                     group: Sequence[tuple[Person, tuple, Sequence[tuple[str, int]]]]
                     ) -> list[PersonModel | None]:
        from bot.ranking.person_model import train
        return [train(space, person.key(), pairs, self.settings.train)
                for person, _key, pairs in group]

    # --- what the commands and the delivery call ---------------------------------------

    async def rank(self, person: Person, paper_ids: Sequence[str]) -> Ranking:
        """These ids best first for the person, each with its score, the top ones starred.
        Without a model (fewer than 3 likes): has_model False and the caller's order."""
        from bot.ranking import ranker
        async with self.sessions() as session:  # most people have no model: one read,
            marks = await repo.feedback_of(session, person)  # and no tf-idf space to fit
        if sum(1 for m in marks if m.value == LIKE) < MIN_LIKES:
            return ranker.unranked(paper_ids, NO_MODEL)
        space, model = await self._person(person, paper_ids)
        if space is None or model is None:
            return ranker.unranked(paper_ids, NO_MODEL)
        return await asyncio.to_thread(ranker.rank, model, space, paper_ids,
                                       self.settings.star_fraction)

    async def rank_many(self, batches: Mapping[Person, Sequence[str]]) -> dict[Person, Ranking]:
        """`rank` for many people at once (one read of their marks)."""
        models = await self.train_many(list(batches))
        space = self._space

        def rank_all() -> dict[Person, Ranking]:
            from bot.ranking import ranker
            out: dict[Person, Ranking] = {}
            for person, ids in batches.items():
                model = models.get(person)
                out[person] = (
                    ranker.unranked(ids, NO_MODEL) if model is None or space is None
                    else ranker.rank(model, space, ids, self.settings.star_fraction))
            return out

        return await asyncio.to_thread(rank_all)

    async def for_you(self, person: Person, since: datetime, exclude_ids: Collection[str] = (),
                      k: int = 5) -> ForYou:
        """The k stored papers first seen since `since` that score best for the person
        (above 0: their top tenth), leaving out `exclude_ids` (what their watches matched)
        and papers they already marked; each with its top words."""
        return (await self.for_you_many({person: exclude_ids}, since, k))[person]

    async def for_you_many(self, exclude: Mapping[Person, Collection[str]], since: datetime,
                           k: int = 5) -> dict[Person, ForYou]:
        """`for_you` for many people over the same day's papers: one sparse product per
        chunk of people, in a worker thread."""
        space, models, marks = await self._models_of(list(exclude))
        async with self.sessions() as session:
            candidates = await repo.paper_ids_since(session, since)
        if space is None:
            return {p: ForYou(False, (), NO_MODEL) for p in exclude}

        def pick_all() -> dict[Person, ForYou]:
            from bot.ranking import ranker
            ranked = [p for p in exclude if models.get(p) is not None]
            rows = [r for pid in candidates if (r := space.row_of(pid)) is not None]
            excluded = [_rows(space, {*exclude[p], *(pid for pid, _ in marks.get(p, ()))})
                        for p in ranked]
            chosen = [m for p in ranked if (m := models.get(p)) is not None]
            picks = ranker.pick_many(chosen, excluded, space, rows, k, self.settings.words)
            got = dict(zip(ranked, picks, strict=True))
            return {p: ForYou(True, got[p]) if p in got else ForYou(False, (), NO_MODEL)
                    for p in exclude}

        return await asyncio.to_thread(pick_all)

    async def more_like(self, paper_id: str, k: int = 5) -> Similar:
        """Up to k stored papers most like this one (cosine of tf-idf vectors, whole
        archive), best first. stored False: no such paper in the database."""
        from bot.ranking.similar import more_like_row
        space = await self.space()
        row = space.row_of(paper_id) if space is not None else None
        if row is None:  # stored while a refit runs? then wait for the new space
            space = await self.space(wait=True)
            row = space.row_of(paper_id) if space is not None else None
        if space is None or row is None:
            return Similar(paper_id, False)
        found = await asyncio.to_thread(more_like_row, space, row, k)
        return Similar(paper_id, True, tuple(SimilarPaper(pid, sim) for pid, sim in found))

    async def explain_many(self, person: Person, paper_ids: Sequence[str]
                           ) -> dict[str, tuple[str, ...]]:
        """The top positive words of each of these papers for the person (the starred
        papers of an alert, say): one read, one worker thread. Empty without a model."""
        space, model = await self._person(person, paper_ids)
        if space is None or model is None:
            return {}

        def words() -> dict[str, tuple[str, ...]]:
            out: dict[str, tuple[str, ...]] = {}
            for pid in paper_ids:
                row = space.row_of(pid)
                if row is not None:
                    out[pid] = tuple(model.top_words(space.matrix[row], space.words,
                                                     self.settings.words))
            return out

        return await asyncio.to_thread(words)

    async def explain(self, person: Person, paper_id: str) -> Explanation:
        """The paper's top positive words for the person, and its score."""
        space, model = await self._person(person)
        row = space.row_of(paper_id) if space is not None else None
        if space is None or row is None:
            return Explanation(paper_id, False, model is not None, reason="not stored")
        if model is None:
            return Explanation(paper_id, True, False, reason=NO_MODEL)
        def why() -> Explanation:
            vector = space.matrix[row]
            words = model.top_words(vector, space.words, self.settings.words)
            return Explanation(paper_id, True, True, words, float(model.scores(vector)[0]))

        return await asyncio.to_thread(why)


def _rows(space: PaperSpace, ids: Collection[str]) -> set[int]:
    return {r for pid in ids if (r := space.row_of(pid)) is not None}
