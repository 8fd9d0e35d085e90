"""The contract of a vector store: where passage embeddings live and how they are searched.

Rows are passage positions (0..count-1, the order of `passages.jsonl`), so every backend returns
the same ids for the same index version. Filters arrive as a boolean row mask (qa.filters); a
backend that filters by field turns it into its own expression. A store belongs to one index
version: `save` writes it next to the version's other files (FAISS writes a file; Milvus fills a
collection named after the version and records its name), and publishing that version (`index/CURRENT`,
and for Milvus an alias) switches every reader at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


def resolve_kind(kind: str, size: int, hnsw_from: int) -> str:
    """`auto`: exact search while it is cheap (0.7 ms at 10k passages, 14 ms at 100k), HNSW beyond."""
    if kind != "auto":
        return kind
    return "hnsw" if size >= hnsw_from else "flat"


class VectorStore(Protocol):
    backend: str  # "faiss" | "milvus": reported by /health
    kind: str  # the index structure: "flat" | "hnsw" | a Milvus index type

    @property
    def count(self) -> int: ...

    @property
    def dim(self) -> int: ...

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (row ids int64, inner-product scores float32), best first, among `allowed` rows (None: all).
        Returns k results whenever k rows are allowed (filtering happens inside the search)."""
        ...

    def scores_for(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact inner products of `query` with the given rows (candidates found by BM25 only)."""
        ...

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of the given rows."""
        ...

    def save(self, directory: Path) -> None:
        """Persist this store as part of the index version being written into `directory`."""
        ...

    def publish(self, keep: set[str]) -> None:
        """Called once `index/CURRENT` names this store's version: a server-side store switches its
        alias here and drops what belongs to versions not in `keep` (FAISS: nothing to do)."""
        ...
