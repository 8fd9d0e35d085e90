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


def length_sorted_batches(texts: Sequence[str], batch_size: int) -> list[list[int]]:
    """Indices of `texts` grouped into batches of similar length.

    Padding every batch to its longest member wastes most of the compute when
    short and long texts are mixed; sorting first keeps batches tight.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
