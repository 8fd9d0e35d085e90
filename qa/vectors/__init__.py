"""Vector stores behind one protocol: FAISS embedded in the process (the default), or Milvus.

Only the implementation modules touch their engine's library; the rest of the package sees
`VectorStore` and the two factory functions below, which pick the backend from settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.config import Settings
from qa.errors import ConfigError
from qa.vectors.base import VectorStore
from qa.vectors.faiss import FaissStore, resolve_kind

if TYPE_CHECKING:
    from qa.vectors.milvus import MilvusStore

__all__ = ["VectorStore", "build_store", "load_store"]


def _milvus() -> type[MilvusStore]:
    try:
        from qa.vectors.milvus import MilvusStore
    except ImportError as exc:  # an optional extra: FAISS needs nothing more
        raise ConfigError("QA_BACKEND=milvus needs pymilvus: pip install 'qa-service[milvus]'") from exc
    return MilvusStore


def build_store(settings: Settings, vectors: np.ndarray, version: str) -> VectorStore:
    """A store holding `vectors` (row i = passage i) for the index version `version`."""
    if settings.backend == "milvus":
        return _milvus().build(settings, vectors, version)
    kind = resolve_kind(settings.faiss_index, len(vectors), settings.hnsw_from)
    return FaissStore.build(vectors, kind, settings.hnsw_m, settings.hnsw_ef_search)


def load_store(settings: Settings, version_dir: Path, backend: str) -> VectorStore:
    """The store that `save` wrote into the index version `version_dir` (`backend`: from its manifest)."""
    if backend == "milvus":
        return _milvus().load(settings, version_dir)
    return FaissStore.load(version_dir, settings.hnsw_ef_search)
