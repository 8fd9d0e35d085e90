"""The seam every answerer implements: question + ranked hits → Answer."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np

from qa.config import Mode
from qa.schema import Answer, Hit, Passage

# The question's embedding similarity to each sentence of each passage (qa.sentence_vectors; the service's is
# qa.service.sentence_similarity), one array per passage in `sentence_spans` order. Arguments: the question, its
# embedding if the search made one (else the question is embedded), the passages.
SentenceSimilarity = Callable[[str, np.ndarray | None, Sequence[Passage]], list[np.ndarray]]


class Answerer(Protocol):
    def __call__(self, question: str, hits: list[Hit], mode: Mode, vector: np.ndarray | None = None) -> Answer:
        """Answer from `hits` (best first) or decline with a reason; never raises on odd input. `vector`: the
        question's embedding when the search that found `hits` made one (`SearchResult.vector`)."""
        ...

    def threshold(self, mode: Mode) -> float:
        """The confidence below which it declines in `mode`."""
        ...

    def stream(self, question: str, hits: list[Hit], mode: Mode,
               vector: np.ndarray | None = None) -> Iterator[str | Answer]:
        """The answer as it is produced: text pieces (a generating answerer), then the final Answer."""
        ...
