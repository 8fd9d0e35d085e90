"""The seam every answerer implements: question + ranked hits → Answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np

from qa.config import Mode
from qa.schema import Answer, Hit, Passage

# The question's embedding similarity to each sentence of each passage (qa.sentence_vectors; the service's is
# qa.service.sentence_similarity), one array per passage in `sentence_spans` order.
SentenceSimilarity = Callable[[str, Sequence[Passage]], list[np.ndarray]]


class Answerer(Protocol):
    def __call__(self, question: str, hits: list[Hit], mode: Mode) -> Answer:
        """Answer from `hits` (best first) or decline with a reason; never raises on odd input."""
        ...

    def threshold(self, mode: Mode) -> float:
        """The confidence below which it declines in `mode`."""
        ...

    def stream(self, question: str, hits: list[Hit], mode: Mode) -> Iterator[str | Answer]:
        """The answer as it is produced: text pieces (a generating answerer), then the final Answer."""
        ...
