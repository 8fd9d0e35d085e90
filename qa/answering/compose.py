"""Compose the answer: the quoted sentence(s) with [n] markers, and the short answer with document offsets."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np

from qa.answering import spans
from qa.answering.features import Candidate
from qa.answering.model import TreeModel
from qa.answering.question import QuestionInfo
from qa.answering.short import balanced, short_span
from qa.answering.spans import Words
from qa.schema import AnswerSpan, ShortAnswer


def choose_sentences(candidates: list[Candidate], probabilities: np.ndarray, max_sentences: int,
                     ratio: float) -> list[int]:
    """Indices of the best sentence, plus the next best ones whose probability is at least `ratio` of it."""
    order = np.argsort(-probabilities, kind="stable")
    best = float(probabilities[order[0]])
    chosen = [int(order[0])]
    for i in order[1:]:
        if len(chosen) >= max_sentences or probabilities[i] < ratio * best:
            break
        cand = candidates[int(i)]
        if all(cand.hit.passage.doc_id != candidates[c].hit.passage.doc_id or cand.end <= candidates[c].start
               or cand.start >= candidates[c].end for c in chosen):
            chosen.append(int(i))
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


@dataclass(frozen=True)
class ShortChoice:
    """The best-ranked span of one quoted sentence, with the two scores that pick among sentences."""

    candidate: Candidate
    span: tuple[int, int]  # in the sentence's squashed text
    sentence_logit: float
    span_logit: float  # 0 without a ranker


def rank_spans(info: QuestionInfo, text: str, words: Words, question_words: frozenset[str],
               ranker: TreeModel | None) -> tuple[tuple[int, int], float]:
    """The best-ranked candidate span of `text` (a squashed sentence) and its score; the alignment heuristic's
    span (score 0) without a ranker."""
    cands = spans.candidates(info, text, words)
    if ranker is None or not cands:
        return short_span(info, text), 0.0
    best, score = ranker.best(spans.features(info, text, words, cands, question_words, ranker.word_ids))
    return cands[best], score


def best_span(info: QuestionInfo, candidate: Candidate, sentence_logit: float, question_words: frozenset[str],
              ranker: TreeModel | None) -> ShortChoice:
    span, logit = rank_spans(info, candidate.sentence.squashed, candidate.sentence.words, question_words, ranker)
    return ShortChoice(candidate, span, sentence_logit, logit)


def pick_short(choices: list[ShortChoice], span_weight: float) -> ShortChoice:
    """Among the quoted sentences' best spans, the one whose sentence and span scores together are highest
    (the weight is fitted on the tuning half: a sure span in the runner-up sentence can beat a doubtful one)."""
    return max(choices, key=lambda c: c.sentence_logit + span_weight * c.span_logit)


def short_answer(choice: ShortChoice) -> ShortAnswer | None:
    """The chosen span as a verbatim span of the document.

    None when the sentence has nothing to cut (only punctuation), the span is nothing but marks, or the
    sentence's normalised form cannot be mapped back to its characters.
    """
    sent, span = choice.candidate.sentence, choice.span
    mapping = _squash_map(sent.text, sent.squashed)
    if not mapping or span[1] <= span[0]:
        return None
    start, end = balanced(sent.text, mapping[span[0]], mapping[span[1] - 1] + 1)
    if end <= start:  # the span held nothing but marks
        return None
    doc_start = choice.candidate.start + start
    return ShortAnswer(sent.text[start:end], choice.candidate.hit.passage.doc_id, doc_start, doc_start + end - start)
