"""One person's linear model over the tf-idf space, and why it likes a paper.

As arxiv-sanity-lite does: a linear SVM (liblinear's LinearSVC, class_weight balanced, small
C) with the person's liked papers as positives, against their disliked papers (weighted
double: they were said out loud) and a sample of other stored papers. The sample is drawn
from the rows the vocabulary was fitted on with a seed made of the person and the
vocabulary, so every process trains the same model from the same rows. Fewer than
`MIN_LIKES` likes: no model.

The raw SVM margin of a small, strongly regularised model says little on its own (with
three likes every paper may sit below zero), so scores are calibrated per person: a score
is the margin minus the margin of the person's `quantile` (90th percentile) paper in a
sample of the archive, so a positive score means "among the top tenth of stored papers for
this person", the mark for a star and for a /foryou pick. Only the `keep` largest weights
are kept (the rest are the faint traces of random negatives), so 10,000 models fit in about
120 MB.
Synchronous CPU work: callers run it in a worker thread.
"""

from __future__ import annotations

import hashlib
import warnings
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC

from bot.ranking.types import LIKE, MIN_LIKES, TrainSettings
from bot.ranking.vectors import PaperSpace

__all__ = ["MIN_LIKES", "PersonModel", "TrainSettings", "fingerprint", "train"]
_DEFAULT_SETTINGS = TrainSettings()


def fingerprint(marks: Iterable[tuple[str, int]]) -> str:
    """What a model is built from, in a few bytes: a digest of the person's sorted (paper id,
    value) marks (a string, so 10,000 cached keys cost the garbage collector nothing)."""
    text = "\n".join(f"{paper_id}\t{value}" for paper_id, value in sorted(marks))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, eq=False)
class PersonModel:
    """Sparse weights over the space's features and an intercept; `key` says which
    vocabulary and which marks it was trained on."""

    features: np.ndarray  # int32, sorted feature indices
    weights: np.ndarray  # float32, same length
    intercept: float  # includes the calibration: -threshold
    key: tuple[tuple[int, str], str]

    def dense(self, n_features: int) -> np.ndarray:
        w = np.zeros(n_features, dtype=np.float32)
        w[self.features] = self.weights
        return w

    def scores(self, vectors: sp.csr_matrix) -> np.ndarray:
        """Calibrated scores of these paper rows (above 0: in the person's top tenth)."""
        return vectors @ self.dense(vectors.shape[1]) + self.intercept

    def top_words(self, vector: sp.csr_matrix, words: np.ndarray, n: int = 3) -> tuple[str, ...]:
        """The n words of one paper row with the largest positive weight x tf-idf."""
        row = vector.tocsr()
        indices, values = row.indices, row.data
        if not len(self.features) or not len(indices):
            return ()
        at = np.minimum(np.searchsorted(self.features, indices), len(self.features) - 1)
        present = self.features[at] == indices
        contribution = np.where(present, self.weights[at] * values, 0.0)
        order = np.lexsort((indices, -contribution))[:n]
        return tuple(str(words[indices[i]]) for i in order if contribution[i] > 0)


def _seed(person_key: str, space: PaperSpace, purpose: str) -> int:
    return zlib.crc32(f"{person_key}|{space.fit_key[0]}|{space.fit_key[1]}|{purpose}".encode())


def _sample(space: PaperSpace, person_key: str, marked: set[int], count: int,
            purpose: str) -> np.ndarray:
    """Up to `count` rows of the fitted prefix, none of them marked, the same in every
    process for this person, vocabulary and purpose."""
    pool = space.n_fit
    take = min(pool, count + len(marked))
    if take <= 0:
        return np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(_seed(person_key, space, purpose))
    sample = rng.choice(pool, size=take, replace=False)
    if marked:
        sample = sample[~np.isin(sample, np.fromiter(marked, dtype=np.int64))]
    return np.sort(sample[:count])


def train(space: PaperSpace, person_key: str, marks: Iterable[tuple[str, int]],
          settings: TrainSettings = _DEFAULT_SETTINGS) -> PersonModel | None:
    """The person's model from their (paper id, value) marks, or None with fewer than
    MIN_LIKES liked papers in the space."""
    marks = sorted(marks)
    liked = sorted({r for pid, v in marks if v == LIKE and (r := space.row_of(pid)) is not None})
    disliked = sorted({r for pid, v in marks
                       if v != LIKE and (r := space.row_of(pid)) is not None} - set(liked))
    if len(liked) < MIN_LIKES:
        return None
    marked = set(liked) | set(disliked)
    others = _sample(space, person_key, marked, settings.negatives, "negatives")
    rows = np.concatenate([liked, disliked, others]).astype(np.int64)
    labels = np.zeros(len(rows), dtype=np.int8)
    labels[:len(liked)] = 1
    weights = np.ones(len(rows))
    weights[len(liked):len(liked) + len(disliked)] = settings.dislike_weight
    clf = LinearSVC(C=settings.C, class_weight="balanced", dual=True, max_iter=2000,
                    tol=1e-4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(space.matrix[rows], labels, sample_weight=weights)
    coef = clf.coef_.ravel()
    features = np.flatnonzero(coef)
    if len(features) > settings.keep:
        features = np.sort(features[np.argpartition(-np.abs(coef[features]),
                                                    settings.keep - 1)[:settings.keep]])
    model = PersonModel(features.astype(np.int32), coef[features].astype(np.float32),
                        float(clf.intercept_[0]), (space.fit_key, fingerprint(marks)))
    reference = _sample(space, person_key, marked, settings.reference, "reference")
    if not len(reference):
        return model
    threshold = float(np.quantile(model.scores(space.matrix[reference]), settings.quantile))
    return replace(model, intercept=model.intercept - threshold)
