"""Compose the answer: the quoted sentence(s) with [n] markers, and the short answer with document offsets."""

from __future__ import annotations

import unicodedata

import numpy as np

from qa.answering.features import Candidate
from qa.answering.question import QuestionInfo
from qa.answering.short import short_span
from qa.schema import AnswerSpan, ShortAnswer


def choose_sentences(candidates: list[Candidate], probabilities: np.ndarray, max_sentences: int,
                     ratio: float) -> list[Candidate]:
    """The best sentence, plus the next best ones whose probability is at least `ratio` of it."""
    order = np.argsort(-probabilities, kind="stable")
    best = float(probabilities[order[0]])
    chosen = [candidates[int(order[0])]]
    for i in order[1:]:
        if len(chosen) >= max_sentences or probabilities[i] < ratio * best:
            break
        cand = candidates[int(i)]
        if all(cand.hit.passage.doc_id != c.hit.passage.doc_id or cand.end <= c.start or cand.start >= c.end
               for c in chosen):
            chosen.append(cand)
    return chosen


def answer_spans(chosen: list[Candidate]) -> list[AnswerSpan]:
    ordered = sorted(chosen, key=lambda c: (c.hit.rank, c.start))
    return [AnswerSpan(c.hit.rank, c.hit.passage.id, c.hit.passage.doc_id, c.start, c.end, c.sentence.text)
            for c in ordered]


def answer_text(spans: list[AnswerSpan]) -> str:
    return "".join(f"{span.text}[{span.marker}]" for span in spans)


def _squash_map(text: str, squashed: str) -> list[int]:
    """For each character of `squashed` (qa.exact.squash of `text`), its offset in `text`."""
    if len(squashed) == len(text):  # per-character folding only (the usual case)
        return list(range(len(text)))
    mapping = []
    for i, ch in enumerate(text):
        folded = unicodedata.normalize("NFKC", ch).lower()
        mapping.extend([i] * len("".join(folded.split())))
    return mapping if len(mapping) == len(squashed) else []


def short_answer(info: QuestionInfo, best: Candidate) -> ShortAnswer | None:
    """None only when the sentence's normalised form cannot be mapped back to its characters."""
    """The short answer inside the best sentence, as a verbatim span of the document."""
    sent = best.sentence
    span = short_span(info, sent.squashed)
    mapping = _squash_map(sent.text, sent.squashed)
    if not mapping:
        return None
    start, end = mapping[span[0]], mapping[span[1] - 1] + 1
    doc_start = best.start + start
    return ShortAnswer(sent.text[start:end], best.hit.passage.doc_id, doc_start, doc_start + end - start)
