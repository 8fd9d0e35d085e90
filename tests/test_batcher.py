"""Micro-batching: concurrent single queries share model calls; each caller gets its own vector."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from qa.embedding.batcher import MicroBatchingEncoder
from tests.conftest import FakeEncoder


class GatedEncoder(FakeEncoder):
    """Blocks its first call until every caller has queued, so batching is deterministic."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.batches: list[int] = []
        self.in_flight = 0

    def encode_queries(self, texts):
        if not self.batches and not self.gate.is_set():
            self.in_flight = len(texts)
            self.gate.wait(timeout=10)
        self.batches.append(len(texts))
        return super().encode_queries(texts)


def test_concurrent_queries_are_batched_and_answered_correctly():
    inner = GatedEncoder()
    encoder = MicroBatchingEncoder(inner, max_batch=32)
    questions = [f"问题{i}：5G覆盖哪些区域" for i in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        futures = [pool.submit(encoder.encode_queries, [q]) for q in questions]
        # Wait until the first model call is blocked and everyone else is queued behind it.
        while inner.in_flight + encoder._queue.qsize() < 12:
            threading.Event().wait(0.01)
        inner.gate.set()
        results = [f.result(timeout=10) for f in futures]
    reference = FakeEncoder()
    for q, vector in zip(questions, results, strict=True):
        assert vector.shape == (1, reference.dim)
        assert np.allclose(vector[0], reference.encode_queries([q])[0])
    assert len(inner.batches) == 2 and sum(inner.batches) == 12  # everything queued went in one call


def test_errors_reach_every_caller_and_the_worker_survives():
    class Failing(FakeEncoder):
        def encode_queries(self, texts):
            if any("坏" in t for t in texts):
                raise RuntimeError("model failed")
            return super().encode_queries(texts)

    encoder = MicroBatchingEncoder(Failing())
    with pytest.raises(RuntimeError, match="model failed"):
        encoder.encode_queries(["坏问题"])
    assert encoder.encode_queries(["好问题"]).shape == (1, 64)
    # Several texts at once bypass the queue.
    assert encoder.encode_queries(["一", "二"]).shape == (2, 64)
