"""Verify a generated answer against the passages it cites, sentence by sentence.

An LLM writes fluent sentences whether or not the passages hold them. Each
sentence of its answer is checked against the passages its [n] markers name:

- no marker: `uncited`; a marker naming no passage of the prompt: `bad_citation`;
- a figure (number, year, percentage) absent from the cited passages: `unsupported`
  (a wrong number is the costliest kind of error in an official document);
- otherwise the sentence's words, weighted by the index's IDF as in retrieval, must
  be covered by one place of a cited passage, a sentence or two adjacent ones
  (`coverage`), or nearly so with a close meaning (`similarity`: the embedder's cosine
  between the sentence and a cited passage).

Only `supported` sentences stay in the answer; the response lists every verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qa.chunking import sentence_spans
from qa.schema import Hit, SentenceCheck
from qa.sparse import SparseIndex
from qa.text import Terms, normalize

# Unambiguous (no nested repetition): an LLM's reply is untrusted text, and "[1111…" without its closing
# bracket must not make the regex backtrack exponentially. Markers have at most 3 digits.
_NUMBERS = r"\s*\d{1,3}(?:\s*[,，、]\s*\d{1,3})*\s*"
_MARKER_GROUP = re.compile(rf"\s*(?:\[{_NUMBERS}\]|【{_NUMBERS}】|［{_NUMBERS}］)")
_SENTENCE = re.compile(r"[^。！？!?；;\n]+(?:[。！？!?；;]|$)")
_FIGURE = re.compile(r"(?<![\d.])\d+(?:\.\d+)?(?![\d.])")


@dataclass(frozen=True)
class Thresholds:
    coverage: float  # enough on its own
    coverage_with_similarity: float  # enough together with similarity ≥ `similarity`
    similarity: float


def split_sentences(text: str) -> list[tuple[str, list[int]]]:
    """(sentence as written, its markers). Markers after the closing punctuation belong to the sentence
    before them ("……覆盖5个区域。[1]")."""
    out: list[tuple[str, list[int]]] = []
    cursor = 0
    while match := _SENTENCE.search(text, cursor):
        end = match.end()
        while trailing := _MARKER_GROUP.match(text, end):
            end = trailing.end()
        cursor = max(end, match.start() + 1)
        piece = re.sub(r"\s+(?=[\[【［])", "", text[match.start():end]).strip()
        markers = [int(n) for group in _MARKER_GROUP.findall(piece) for n in re.findall(r"\d+", group)]
        if not _MARKER_GROUP.sub("", piece).strip("。！？!?；;，, "):
            if out and markers:  # a stray marker on a line of its own: it belongs to the sentence before
                sentence, previous = out[-1]
                out[-1] = (sentence + piece, previous + markers)
            continue
        out.append((piece, list(dict.fromkeys(markers))))
    return out


def _windows(text: str) -> list[tuple[int, int]]:
    """Each sentence of a passage and each pair of adjacent ones, as offsets: a claim must be supported by
    one place in the passage, not by words scattered over it (a swapped name or date is found elsewhere
    in it); that place is what the answer then cites."""
    sentences = sentence_spans(text) or [(0, len(text))]
    return sentences + [(a[0], b[1]) for a, b in zip(sentences, sentences[1:], strict=False)]


class Verifier:
    """Checks sentences against passages of one index (its term statistics and its embedder)."""

    def __init__(self, terms: Terms, sparse: SparseIndex, similarity: Callable[[str, list[int]], np.ndarray],
                 position: dict[str, int], thresholds: Thresholds) -> None:
        self.terms = terms
        self.sparse = sparse
        self.similarity = similarity  # (sentence, passage positions) → cosine per passage
        self.position = position
        self.thresholds = thresholds

    def check(self, text: str, hits: list[Hit]) -> list[SentenceCheck]:
        by_marker = {hit.rank: hit for hit in hits}
        return [self._check(sentence, markers, by_marker) for sentence, markers in split_sentences(text)]

    def _check(self, sentence: str, markers: list[int], by_marker: dict[int, Hit]) -> SentenceCheck:
        claim = _MARKER_GROUP.sub("", sentence)
        if not markers:
            return SentenceCheck(sentence, markers, "uncited", note="没有标注引用")
        unknown = [m for m in markers if m not in by_marker]
        if unknown:
            return SentenceCheck(sentence, markers, "bad_citation", note=f"引用了不存在的资料 {unknown}")
        cited = [by_marker[m].passage for m in markers]
        source = normalize("".join(p.text for p in cited))
        figures = set(_FIGURE.findall(source))  # whole numbers: "3" is not found in "3252"
        missing = [f for f in _FIGURE.findall(normalize(claim)) if f not in figures]
        # Shortest place first among equals: the citation should be as narrow as the support allows.
        coverage, _, marker, (start, end) = max(
            (self._coverage(claim, normalize(p.text[a:b])), a - b, m, (a, b))
            for m, p in zip(markers, cited, strict=True) for a, b in _windows(p.text))
        place = by_marker[marker].passage
        source_span = (marker, place.start + start, place.start + end)
        similarity = float(self.similarity(claim, [self.position[p.id] for p in cited]).max())
        if missing:
            return SentenceCheck(sentence, markers, "unsupported", coverage, similarity,
                                 note=f"所引资料中没有 {'、'.join(missing[:3])}")
        t = self.thresholds
        if coverage >= t.coverage or (coverage >= t.coverage_with_similarity and similarity >= t.similarity):
            return SentenceCheck(sentence, markers, "supported", coverage, similarity, source=source_span)
        return SentenceCheck(sentence, markers, "unsupported", coverage, similarity, note="所引资料不支持这句话")

    def _coverage(self, claim: str, source: str) -> float:
        """The IDF-weighted share of the claim's words that occur in the cited text (1.0 for a claim
        without content words, which then stands or falls by its figures)."""
        words = list(dict.fromkeys(self.terms.query(claim).terms))
        if not words:
            return 1.0
        idf = self.sparse.idf_of(self.sparse.document_frequency(words))
        found = np.array([w in source for w in words], dtype=float)
        return round(float((idf * found).sum() / idf.sum()) if idf.sum() > 0 else float(found.mean()), 4)
