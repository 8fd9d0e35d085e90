"""Micro-batching of concurrent query embeddings.

Under load, many request threads want one short query embedded each. Run one
at a time, they contend for the same two cores; run together, one forward
pass over a batch of short queries costs little more than a single one. A
single worker thread takes every query waiting in the queue (never waiting
for more: a lone request is not delayed), embeds them in one call, and hands
each caller its row.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np

from qa.embedding.base import Encoder


class MicroBatchingEncoder:
    """Wraps an Encoder; `encode_queries` of single queries from many threads are batched."""

    def __init__(self, inner: Encoder, max_batch: int = 32) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.backend = inner.backend
        self.dim = inner.dim
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[str, Future]] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._run, name="query-batcher", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                vectors = self.inner.encode_queries([text for text, _ in batch])
            except Exception as exc:  # hand the failure to every waiting caller
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                future.set_result(vector)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) != 1:
            return self.inner.encode_queries(texts)
        future: Future = Future()
        self._queue.put((texts[0], future))
        return np.asarray(future.result())[None, :]

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        return self.inner.encode_passages(texts, show_progress=show_progress)
