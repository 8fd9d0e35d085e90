"""The canonical inference path: sentence-transformers on torch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class SentenceTransformerEncoder:
    backend = "torch"

    def __init__(
        self,
        name_or_path: str,
        *,
        query_prompt: str,
        passage_prompt: str,
        model_id: str | None = None,
        batch_size: int = 32,
        threads: int = 0,
    ) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(name_or_path, device="cpu", local_files_only=True)
        self.model_id = model_id or name_or_path
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self.batch_size = batch_size
        self.dim = int(self.model.get_embedding_dimension() or 0)

    def _encode(self, texts: Sequence[str], prompt: str, show_progress: bool) -> np.ndarray:
        out = self.model.encode(
            list(texts),
            prompt=prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, self.query_prompt, False)

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self._encode(texts, self.passage_prompt, show_progress)
