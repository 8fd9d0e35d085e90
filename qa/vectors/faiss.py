"""The embedded vector store: a FAISS inner-product index over L2-normalised embeddings (= cosine).

`flat` is exact and the default; `hnsw` is approximate and meant for corpora of hundreds of thousands
of passages, where a flat scan costs milliseconds. The index lives in memory and in one file of the
index version (`dense.faiss`).
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from qa.errors import IndexCorruptError
from qa.vectors.base import resolve_kind

__all__ = ["FaissStore", "resolve_kind"]

FILE = "dense.faiss"


class FaissStore:
    backend = "faiss"

    def __init__(self, index: faiss.Index) -> None:
        self.index = index
        self.kind = "hnsw" if isinstance(index, faiss.IndexHNSW) else "flat"

    @classmethod
    def build(cls, vectors: np.ndarray, kind: str = "flat", hnsw_m: int = 32, ef_search: int = 64) -> FaissStore:
        dim = vectors.shape[1]
        index: faiss.Index
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = max(40, 2 * hnsw_m)
        else:
            index = faiss.IndexFlatIP(dim)
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        store = cls(index)
        store.configure(ef_search)
        return store

    @classmethod
    def load(cls, directory: Path, ef_search: int = 64) -> FaissStore:
        try:
            index = faiss.read_index(str(directory / FILE))
        except RuntimeError as exc:  # faiss reports truncated/corrupt files this way
            raise IndexCorruptError(f"{FILE} cannot be read: {str(exc).splitlines()[0]}") from exc
        store = cls(index)
        store.configure(ef_search)
        return store

    def configure(self, ef_search: int) -> None:
        """Query-time knobs (not stored in the file)."""
        if isinstance(self.index, faiss.IndexHNSW):
            self.index.hnsw.efSearch = ef_search

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        params = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.flatnonzero(allowed).astype(np.int64))
            # faiss's type stubs lack the search-parameter classes (faiss >= 1.7.3 has them)
            params = (
                faiss.SearchParametersHNSW(sel=selector, efSearch=self.index.hnsw.efSearch)  # type: ignore[attr-defined]
                if isinstance(self.index, faiss.IndexHNSW)
                else faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
            )
        k = min(k, self.count if allowed is None else int(allowed.sum()))
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        scores, ids = self.index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k, params=params)
        keep = ids[0] >= 0  # -1: no result for that slot
        if keep.sum() < k:
            # An HNSW walk cut short by a selective filter finds fewer than k of the allowed rows: those rows
            # are few, so score them exactly (a flat index never comes back short).
            rows = np.arange(self.count) if allowed is None else np.flatnonzero(allowed)
            exact = self.scores_for(query, rows)
            order = np.argsort(-exact, kind="stable")[:k]
            return rows[order].astype(np.int64), exact[order]
        return ids[0][keep], scores[0][keep]

    def scores_for(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        if ids.size == 0:
            return np.empty(0, dtype=np.float32)
        return self.vectors(ids) @ query.reshape(-1).astype(np.float32)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        return self.index.reconstruct_batch(ids.astype(np.int64))

    def save(self, directory: Path) -> None:
        faiss.write_index(self.index, str(directory / FILE))

    def publish(self, keep: set[str]) -> None:
        """The file is part of the version directory: publishing it is `index/CURRENT` moving."""
