"""Ordering and picking with person models: rank a batch, pick the day's best, in bulk.

Synchronous CPU work over the tf-idf space; the service runs it in a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np
import scipy.sparse as sp

from bot.ranking.person_model import PersonModel
from bot.ranking.types import STAR_FRACTION, Pick, RankedPaper, Ranking
from bot.ranking.vectors import PaperSpace

__all__ = ["STAR_FRACTION"]  # and the functions below


def unranked(paper_ids: Sequence[str], reason: str) -> Ranking:
    """The caller's order, untouched: what a person without a model gets."""
    return Ranking(False, tuple(RankedPaper(pid) for pid in paper_ids), reason)


def rank(model: PersonModel, space: PaperSpace, paper_ids: Sequence[str],
         star_fraction: float = STAR_FRACTION) -> Ranking:
    """The same ids, best first; ids the space does not know keep their order at the end
    (never dropped)."""
    ids = list(dict.fromkeys(paper_ids))
    known = [pid for pid in ids if space.row_of(pid) is not None]
    unknown = [pid for pid in ids if space.row_of(pid) is None]
    if not known:
        return Ranking(True, tuple(RankedPaper(pid) for pid in unknown))
    scores = model.scores(space.matrix[[space.rows[pid] for pid in known]])
    order = sorted(range(len(known)), key=lambda i: (-scores[i], i))
    stars = math.ceil(len(known) * star_fraction)
    items = [RankedPaper(known[i], float(scores[i]), place < stars and scores[i] > 0)
             for place, i in enumerate(order)]
    return Ranking(True, tuple(items + [RankedPaper(pid) for pid in unknown]))


def pick(model: PersonModel, space: PaperSpace, candidates: Sequence[int], k: int,
         words: int = 3, min_score: float = 0.0) -> tuple[Pick, ...]:
    """The k candidate rows scoring highest (above min_score), with their top words."""
    if not candidates or k <= 0:
        return ()
    rows = np.asarray(candidates, dtype=np.int64)
    scores = model.scores(space.matrix[rows])
    best = _top(scores, k, rows)
    return tuple(Pick(space.ids[rows[i]], float(scores[i]),
                      model.top_words(space.matrix[int(rows[i])], space.words, words))
                 for i in best if scores[i] > min_score)


def _top(scores: np.ndarray, k: int, tiebreak: np.ndarray) -> np.ndarray:
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.lexsort((tiebreak[top], -scores[top]))]


def stack(models: Sequence[PersonModel], n_features: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Many models as one sparse (people, features) matrix and their intercepts."""
    indptr = np.zeros(len(models) + 1, dtype=np.int64)
    indptr[1:] = np.cumsum([len(m.features) for m in models])
    indices = (np.concatenate([m.features for m in models]) if models
               else np.zeros(0, dtype=np.int32))
    data = (np.concatenate([m.weights for m in models]) if models
            else np.zeros(0, dtype=np.float32))
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(models), n_features))
    return matrix, np.array([m.intercept for m in models], dtype=np.float32)


def pick_many(models: Sequence[PersonModel], excluded: Sequence[Collection[int]],
              space: PaperSpace, candidates: Sequence[int], k: int, words: int = 3,
              min_score: float = 0.0, chunk: int = 100) -> list[tuple[Pick, ...]]:
    """`pick` for many people over the same candidate rows: one sparse product per chunk of
    people instead of one per person. excluded[i]: rows person i must not get."""
    rows = np.asarray(candidates, dtype=np.int64)
    if len(rows) == 0:
        return [() for _ in models]
    papers_t = space.matrix[rows].T.tocsr()  # (features, candidates)
    position = {int(r): i for i, r in enumerate(rows)}
    out: list[tuple[Pick, ...]] = []
    for start in range(0, len(models), chunk):
        group = models[start:start + chunk]
        weights, intercepts = stack(group, space.n_features)
        scores = (weights @ papers_t).toarray() + intercepts[:, None]
        for offset, model in enumerate(group):
            row_scores = scores[offset]
            for r in excluded[start + offset]:
                if (i := position.get(r)) is not None:
                    row_scores[i] = -np.inf
            best = _top(row_scores, k, rows)
            out.append(tuple(
                Pick(space.ids[rows[i]], float(row_scores[i]),
                     model.top_words(space.matrix[int(rows[i])], space.words, words))
                for i in best if row_scores[i] > min_score))
    return out
