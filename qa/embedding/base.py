"""The contract every embedding backend fulfils."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Encoder(Protocol):
    """Turns text into L2-normalised float32 vectors (rows), with the model's prompts applied."""

    model_id: str
    backend: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_passages(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray: ...


def length_sorted_batches(texts: Sequence[str], max_batch: int, char_budget: int = 1024) -> list[list[int]]:
    """Indices of `texts` grouped into batches of similar length and bounded padded size.

    Sorting keeps padding small; the budget (batch size x longest text) keeps
    batches of long texts small, which measured fastest on CPU: on 2 cores,
    510-character passages embed at 17 passages/s one at a time and 11 in
    batches of 32 (eval/reports/model.md), while short texts gain from batching.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    batches: list[list[int]] = []
    for i in order:
        batch = batches[-1] if batches else None
        if batch is not None and len(batch) < max_batch and (len(batch) + 1) * len(texts[i]) <= char_budget:
            batch.append(i)
        else:
            batches.append([i])
    return batches
