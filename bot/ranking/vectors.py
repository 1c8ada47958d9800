"""The tf-idf space over the stored papers: one L2-normalised sparse row per paper.

The vocabulary and idf are fitted on a prefix of the corpus in (first_seen, id) order whose
length depends only on the number of stored papers (`fit_size`): it is refitted each time
the corpus grew by a quarter, and papers stored since are transformed with the fitted
vocabulary (`PaperSpace.extend`). So any two processes that read the same database build
the same space, and a restart ranks exactly as before. Synchronous CPU work: callers run it
in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.ranking.types import PaperText

FIT_FLOOR = 200  # below this many papers every change refits (it takes milliseconds)
GROWTH = 1.25  # refit when the corpus grew by a quarter since the last fit
MAX_FEATURES = 50_000
TOKEN = r"(?u)\b[^\W\d_]\w+\b"  # words of 2+ characters that start with a letter


def fit_size(count: int) -> int:
    """How many of the first papers the vocabulary is fitted on, for `count` stored ones."""
    if count <= FIT_FLOOR:
        return count
    size = FIT_FLOOR
    while int(size * GROWTH) <= count:
        size = int(size * GROWTH)
    return size


def _vectorizer(n_docs: int) -> TfidfVectorizer:
    return TfidfVectorizer(
        stop_words="english", token_pattern=TOKEN, lowercase=True, sublinear_tf=True,
        # a word in a single paper says nothing about similarity, but a tiny corpus has few
        min_df=2 if n_docs >= 1000 else 1,
        max_df=0.5 if n_docs >= 20 else 1.0,  # "learning", "model": in every other paper
        max_features=MAX_FEATURES, dtype=np.float32)


@dataclass(frozen=True, eq=False)
class PaperSpace:
    """Fitted vectorizer, the words of its features, and one row per stored paper."""

    vectorizer: TfidfVectorizer
    words: np.ndarray  # feature index -> word
    ids: tuple[str, ...]  # row -> paper id
    rows: dict[str, int]  # paper id -> row
    matrix: sp.csr_matrix  # (papers, features), float32, rows of unit length (or zero)
    n_fit: int  # the vocabulary was fitted on rows [0, n_fit)
    cursor: tuple[datetime, str] | None  # (first_seen, id) of the last row

    @property
    def fit_key(self) -> tuple[int, str]:
        """Identifies the vocabulary: models trained on it stay valid while it lasts."""
        return (self.n_fit, self.ids[self.n_fit - 1] if self.n_fit else "")

    @property
    def n_features(self) -> int:
        return int(self.matrix.shape[1])

    def __len__(self) -> int:
        return len(self.ids)

    def row_of(self, paper_id: str) -> int | None:
        return self.rows.get(paper_id)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.vectorizer.transform(texts).astype(np.float32).tocsr()

    def extend(self, papers: Sequence[PaperText]) -> PaperSpace:
        """A new space with these papers (stored after the last row) appended."""
        fresh = [p for p in papers if p.id not in self.rows]
        if not fresh:
            return self
        ids = self.ids + tuple(p.id for p in fresh)
        rows = dict(self.rows)
        rows.update((p.id, len(self.ids) + i) for i, p in enumerate(fresh))
        matrix = sp.vstack([self.matrix, self.transform([p.text() for p in fresh])],
                           format="csr")
        matrix.sort_indices()
        last = fresh[-1]
        return PaperSpace(self.vectorizer, self.words, ids, rows, matrix, self.n_fit,
                          (last.first_seen, last.id))


def fit_space(papers: Sequence[PaperText]) -> PaperSpace:
    """Fit on the `fit_size` prefix of `papers` (given in (first_seen, id) order) and
    transform them all."""
    n_fit = fit_size(len(papers))
    if n_fit == 0:
        raise ValueError("no stored papers to fit the tf-idf space on")
    vectorizer = _vectorizer(n_fit)
    head = vectorizer.fit_transform([p.text() for p in papers[:n_fit]])
    # the words cut by min_df/max_df/max_features: large, and only kept for introspection
    vectorizer.stop_words_ = None
    parts = [head]
    if len(papers) > n_fit:
        parts.append(vectorizer.transform([p.text() for p in papers[n_fit:]]))
    matrix = sp.vstack(parts, format="csr").astype(np.float32)
    matrix.sort_indices()  # once here, instead of in every training that slices it
    ids = tuple(p.id for p in papers)
    return PaperSpace(vectorizer, vectorizer.get_feature_names_out(), ids,
                      {paper_id: row for row, paper_id in enumerate(ids)}, matrix, n_fit,
                      (papers[-1].first_seen, papers[-1].id))
