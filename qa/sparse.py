"""Sparse stage: BM25 (bm25s, Lucene variant) over jieba terms."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

from qa.errors import IndexCorruptError

logging.getLogger("bm25s").setLevel(logging.WARNING)


class SparseIndex:
    def __init__(self, model: bm25s.BM25, size: int) -> None:
        self.model = model
        self.size = size

    @classmethod
    def build(cls, documents: Sequence[list[str]], k1: float = 1.2, b: float = 0.75) -> SparseIndex:
        model = bm25s.BM25(k1=k1, b=b, method="lucene")
        # An empty term list would make bm25s drop the row; keep positions aligned.
        model.index([terms or [""] for terms in documents], show_progress=False)
        return cls(model, len(documents))

    def scores(self, terms: Sequence[str], allowed: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every passage (0 where no term matches, and where `allowed` is False)."""
        if not terms:
            return np.zeros(self.size, dtype=np.float32)
        scores = np.asarray(self.model.get_scores(list(terms)), dtype=np.float32)
        return scores if allowed is None else np.where(allowed, scores, np.float32(0))

    def document_frequency(self, terms: Sequence[str]) -> np.ndarray:
        """How many passages contain each term (0 for terms the corpus never uses)."""
        indptr = self.model.scores["indptr"]
        vocab = self.model.vocab_dict
        return np.array(
            [indptr[vocab[t] + 1] - indptr[vocab[t]] if t in vocab else 0 for t in terms], dtype=np.float64
        )

    def idf(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 (Lucene) inverse document frequency; unseen terms get the maximum."""
        return self.idf_of(self.document_frequency(terms))

    def idf_of(self, df: np.ndarray) -> np.ndarray:
        """The idf of terms with these document frequencies."""
        return np.log1p((self.size - df + 0.5) / (df + 0.5))

    def top(self, terms: Sequence[str], k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k passages with a positive score among the `allowed` ones (None: all): (ids, scores), best first."""
        scores = self.scores(terms, allowed)
        k = min(k, self.size)
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        ids = np.argpartition(-scores, k - 1)[:k]
        ids = ids[np.argsort(-scores[ids], kind="stable")]
        ids = ids[scores[ids] > 0]
        return ids.astype(np.int64), scores[ids]

    def save(self, directory: Path) -> None:
        self.model.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, size: int) -> SparseIndex:
        try:
            model = bm25s.BM25.load(str(directory), show_progress=False)
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(f"BM25 files in {directory.name} cannot be read: {exc}") from exc
        index = cls(model, size)
        if index.scores(["probe"]).shape[0] != size:
            raise IndexCorruptError("BM25 index and passage list disagree on the number of passages")
        return index
