"""Dense stage: FAISS inner-product index over L2-normalised embeddings (= cosine).

`flat` is exact and the default; `hnsw` is approximate and meant for corpora
of hundreds of thousands of passages, where a flat scan costs milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from qa.errors import IndexCorruptError


def resolve_kind(kind: str, size: int, hnsw_from: int) -> str:
    """`auto`: exact search while it is cheap (0.7 ms at 10k passages, 14 ms at 100k), HNSW beyond."""
    if kind != "auto":
        return kind
    return "hnsw" if size >= hnsw_from else "flat"


def build(vectors: np.ndarray, kind: str = "flat", hnsw_m: int = 32) -> faiss.Index:
    dim = vectors.shape[1]
    index: faiss.Index
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = max(40, 2 * hnsw_m)
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def configure(index: faiss.Index, ef_search: int) -> None:
    """Query-time knobs (not stored in the file)."""
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = ef_search


def search(
    index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (ids, scores) for one query vector among the `allowed` rows (a boolean mask; None: all).

    The mask goes into the search as an id selector, so k results come back whenever k rows are allowed.
    Ids of -1 (no result) are dropped.
    """
    params = None
    if allowed is not None:
        selector = faiss.IDSelectorBatch(np.flatnonzero(allowed).astype(np.int64))
        # faiss's type stubs lack the search-parameter classes (faiss >= 1.7.3 has them)
        params = (faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)  # type: ignore[attr-defined]
                  if isinstance(index, faiss.IndexHNSW) else faiss.SearchParameters(sel=selector))  # type: ignore[call-arg]
    k = min(k, index.ntotal if allowed is None else int(allowed.sum()))
    if k <= 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
    scores, ids = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k, params=params)
    keep = ids[0] >= 0
    return ids[0][keep], scores[0][keep]


def scores_for(index: faiss.Index, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Exact inner products for chosen passages (candidates found only by BM25)."""
    if ids.size == 0:
        return np.empty(0, dtype=np.float32)
    vectors = index.reconstruct_batch(ids.astype(np.int64))
    return vectors @ query.reshape(-1).astype(np.float32)


def save(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load(path: Path) -> faiss.Index:
    try:
        return faiss.read_index(str(path))
    except RuntimeError as exc:  # faiss reports truncated/corrupt files this way
        raise IndexCorruptError(f"{path.name} cannot be read: {str(exc).splitlines()[0]}") from exc
