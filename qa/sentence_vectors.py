"""Sentence embeddings of every passage, stored with the index: the answer's semantic signal.

The sentence model (qa.answering.features) chooses the answer sentence among the top passages'
sentences from lexical evidence; the question's dense similarity to each sentence adds what words
miss (CMRC 2018: cross-validated top-1 0.796 -> 0.811 on the tuning half, held-out 0.811 -> 0.819;
eval/reports/answer_models.md), and the decision weighs the closest sentence's similarity.
Embedding at build time keeps /ask free of encoder calls beyond the question's own, which a dense
or hybrid search has already made (qa.retriever.SearchResult.vector).
The price is at build time: a passage's sentences hold as many characters as the passage. Short texts
embed cheaply, though: the CMRC build from an empty cache took 227 s with sentences, 204 s without
(eval/reports/collection.md; the two measured on different days).

    <version>/sentences.npy          float16 (sentences, dim): half the bytes, and the similarity
                                     only ranks one question's candidates
    <version>/sentence_offsets.npy   int64 (passages + 1): passage i's sentences are rows
                                     offsets[i]:offsets[i+1], in `sentence_spans` order

A loaded index memory-maps the vectors (the load's checksum reads them once; afterwards the OS may
page out what answers do not read); a freshly built one holds them in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.chunking import sentence_spans
from qa.errors import IndexCorruptError
from qa.schema import Passage

VECTORS_FILE = "sentences.npy"
OFFSETS_FILE = "sentence_offsets.npy"


def sentence_texts(passages: Sequence[Passage]) -> tuple[list[str], np.ndarray]:
    """Every passage's sentences (the answerer's candidates) and the offsets of each passage's rows."""
    texts: list[str] = []
    offsets = [0]
    for p in passages:
        texts += [p.text[s:e] for s, e in sentence_spans(p.text)]
        offsets.append(len(texts))
    return texts, np.asarray(offsets, dtype=np.int64)


@dataclass(frozen=True, eq=False)  # arrays: no field-wise equality or hash
class SentenceVectors:
    """The sentence embeddings of one index version, rows grouped by passage."""

    vectors: np.ndarray  # (sentences, dim), unit length as the encoder gives them
    offsets: np.ndarray  # (passages + 1,)

    @classmethod
    def of(cls, vectors: np.ndarray, offsets: np.ndarray) -> SentenceVectors:
        """From the encoder's float32 vectors, stored as float16."""
        return cls(np.asarray(vectors, dtype=np.float16), offsets)

    def similarities(self, query: np.ndarray, row: int) -> np.ndarray:
        """Inner products of `query` with the sentences of the passage at `row`."""
        rows = self.vectors[self.offsets[row]:self.offsets[row + 1]]
        return rows.astype(np.float32) @ query.astype(np.float32)

    def save(self, directory: Path) -> None:
        """Write both arrays into the index version being staged in `directory`."""
        np.save(directory / VECTORS_FILE, self.vectors)
        np.save(directory / OFFSETS_FILE, self.offsets)

    @classmethod
    def load(cls, directory: Path, passages: int, dim: int) -> SentenceVectors:
        """Read a version's arrays; IndexCorruptError when they do not fit its passages and dimension."""
        try:
            vectors = np.load(directory / VECTORS_FILE, mmap_mode="r")
            offsets = np.load(directory / OFFSETS_FILE)
        except (OSError, ValueError) as exc:
            raise IndexCorruptError(f"sentence vectors are unreadable: {exc}") from exc
        if (offsets.shape != (passages + 1,) or vectors.ndim != 2 or vectors.shape[1] != dim
                or offsets[0] != 0 or offsets[-1] != len(vectors) or np.any(np.diff(offsets) < 0)):
            raise IndexCorruptError(f"sentence vectors {vectors.shape} and offsets {offsets.shape} do not fit "
                                    f"{passages} passages of dimension {dim}")
        return cls(vectors, offsets)
