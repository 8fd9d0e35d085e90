"""Passage embeddings already computed, so a build embeds only text it has not seen.

Keyed by a hash of (model identity with its prompts and inference path, exact passage text):
adding, replacing or deleting a few documents re-embeds only their passages, and rebuilding
FAISS and BM25 from the cached vectors is cheap. One file per model identity under
`index/embeddings/`, rewritten atomically after each build with the vectors that build used
(so its size follows the corpus, not the history of edits).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.embedding.base import Encoder

log = logging.getLogger(__name__)
_KEY_BYTES = 16


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=_KEY_BYTES).digest()


class EmbeddingCache:
    def __init__(self, directory: Path, model_identity: str) -> None:
        name = hashlib.sha256(model_identity.encode("utf-8")).hexdigest()[:20]
        self.path = directory / f"{name}.npz"

    def _load(self, dim: int) -> dict[bytes, np.ndarray]:
        try:
            with np.load(self.path) as data:
                keys, vectors = data["keys"], data["vectors"]
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError) as exc:  # a damaged cache costs time, never correctness
            log.warning("ignoring the unreadable embedding cache %s: %s", self.path.name, exc)
            return {}
        if vectors.ndim != 2 or vectors.shape[1] != dim or len(keys) != len(vectors):
            return {}
        return dict(zip((bytes(k) for k in keys), vectors, strict=True))

    def embed(self, encoder: Encoder, texts: Sequence[str], *, show_progress: bool = False) -> tuple[np.ndarray, int]:
        """Vectors for `texts` (rows in order) and how many had to be embedded now."""
        keys = [_key(t) for t in texts]
        known = self._load(encoder.dim)
        missing = list(dict.fromkeys(k for k in keys if k not in known))
        if missing:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            fresh = encoder.encode_passages([texts[first[k]] for k in missing], show_progress=show_progress)
            known.update(zip(missing, np.asarray(fresh, dtype=np.float32), strict=True))
        vectors = np.stack([known[k] for k in keys]) if keys else np.zeros((0, encoder.dim), np.float32)
        self._save(keys, vectors)
        return vectors.astype(np.float32, copy=False), len(missing)

    def _save(self, keys: list[bytes], vectors: np.ndarray) -> None:
        rows = list({k: i for i, k in reversed(list(enumerate(keys)))}.values())  # one row per distinct text
        key_array = np.frombuffer(b"".join(keys[i] for i in rows), dtype=np.uint8).reshape(-1, _KEY_BYTES)
        tmp: Path | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".emb-", suffix=".npz", dir=self.path.parent)
            tmp = Path(name)
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, keys=key_array, vectors=vectors[rows])
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:  # the index reports its own write failures; a cache that cannot be kept costs time only
            log.warning("cannot keep the embedding cache in %s: %s", self.path.parent, exc.strerror or exc)
            if tmp is not None:
                tmp.unlink(missing_ok=True)
