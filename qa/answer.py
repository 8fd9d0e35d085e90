"""Extractive answers: the best-supported sentence(s) of the top passages, with citations.

Each sentence of the top passages is scored by how much of the question's
information it covers (IDF-weighted share of the question's terms it
contains, plus verbatim anchors such as figures), with the passage's rank as
a prior. The answer quotes the best sentences verbatim and marks each with
`[n]`, n being the rank of the passage it came from; the span's document
offsets are returned so a client can highlight it.

Abstention, in two steps (both chosen on the dev split of eval/datasets/letter):
1. A question naming a place, organisation, person or multi-digit number
   (jieba part-of-speech tags) that none of the top passages contains is
   declined outright: "北京市家庭光纤宽带用户有多少户" must not be answered with
   Shanghai's figure.
2. Otherwise the confidence is the best sentence's support (IDF-weighted
   coverage of the question's terms; terms unseen in the corpus count at full
   weight) blended with how far the top passage's dense similarity rises above
   the corpus's noise floor (qa.indexer.dense_floor). Below
   the mode's `abstain_thresholds` entry (calibrated on the dev split) the
   service declines.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qa.chunking import sentence_spans
from qa.exact import anchors, squash
from qa.schema import Answer, AnswerSpan, Hit, Passage
from qa.sparse import SparseIndex
from qa.text import Terms

NO_ANSWER = "未找到相关内容：现有资料中没有足够依据回答这个问题。"
RANK_PRIOR = 0.08  # per rank below the first, subtracted from a sentence's score
SECOND_SENTENCE_RATIO = 0.85


@dataclass(frozen=True)
class Candidate:
    hit: Hit
    start: int  # document offsets
    end: int
    text: str
    support: float


def _coverage(question_terms: list[str], weights: np.ndarray, sentence_terms: AbstractSet[str]) -> float:
    total = float(weights.sum())
    if total <= 0:
        return 0.0
    found = sum(w for t, w in zip(question_terms, weights, strict=True) if t in sentence_terms)
    return float(found) / total


@dataclass(frozen=True)
class Sentence:
    start: int  # offsets within the passage
    end: int
    text: str
    terms: frozenset[str]  # the sentence's terms plus its passage's context terms
    squashed: str


def analyse_passage(passage: Passage, terms: Terms) -> tuple[Sentence, ...]:
    """Sentences of a passage with their terms (cached per passage by the extractor)."""
    context = set(terms(passage.context))  # section path / title: shared by every sentence
    return tuple(
        Sentence(s, e, passage.text[s:e], frozenset(context | set(terms(passage.text[s:e]))),
                 squash(passage.text[s:e]))
        for s, e in sentence_spans(passage.text)
    )


def _candidates(question: str, hits: list[Hit], terms: Terms, sparse: SparseIndex, n_passages: int,
                analyse: Callable[[Passage], tuple[Sentence, ...]]) -> list[Candidate]:
    q_terms = list(dict.fromkeys(terms(question)))
    weights = sparse.idf(q_terms)
    q_anchors = anchors(question)
    out = []
    for hit in hits[:n_passages]:
        p = hit.passage
        for sent in analyse(p):
            coverage = _coverage(q_terms, weights, sent.terms)
            if q_anchors:
                coverage = 0.7 * coverage + 0.3 * sum(a in sent.squashed for a in q_anchors) / len(q_anchors)
            support = coverage - RANK_PRIOR * (hit.rank - 1)
            out.append(Candidate(hit, p.start + sent.start, p.start + sent.end, sent.text, support))
    return out


def missing_entities(question: str, hits: list[Hit], terms: Terms) -> list[str]:
    """Places, names, organisations and multi-digit numbers of the question absent from the passages.

    A question about 北京 or 2017 answered from passages that never mention them
    is answering a different question; such questions are declined.
    """
    evidence = squash("".join(hit.passage.text for hit in hits))
    return [e for e in terms.entities(question) if squash(e) not in evidence]


def dense_support(hits: list[Hit], floor: float) -> float | None:
    """How far the top passage's similarity rises above the corpus's noise floor, 0..1
    (None in BM25-only mode, where there is no dense score)."""
    if not hits or hits[0].dense is None:
        return None
    return float(np.clip((hits[0].dense.score - floor) / max(1.0 - floor, 1e-6), 0.0, 1.0))


def confidence(support: float, dense: float | None) -> float:
    """Blend lexical support with dense support (equal weights; lexical alone without dense)."""
    support = max(support, 0.0)
    return round(support if dense is None else 0.5 * support + 0.5 * dense, 4)


class AnswerExtractor:
    """Extracts answers from hits over one index (holds that index's term statistics)."""

    def __init__(self, terms: Terms, sparse: SparseIndex, dense_floor: float, cache_size: int = 4096) -> None:
        self.terms = terms
        self.sparse = sparse
        self.dense_floor = dense_floor
        self._analyse = lru_cache(maxsize=cache_size)(lambda passage: analyse_passage(passage, terms))

    def __call__(
        self,
        question: str,
        hits: list[Hit],
        *,
        threshold: float,
        max_sentences: int = 2,
        n_passages: int = 3,
    ) -> Answer:
        candidates = sorted(
            _candidates(question, hits, self.terms, self.sparse, n_passages, self._analyse),
            key=lambda c: c.support,
            reverse=True,
        )
        return _decide(question, hits, candidates, self.terms, self.dense_floor, threshold, max_sentences, n_passages)


def _decide(
    question: str,
    hits: list[Hit],
    candidates: list[Candidate],
    terms: Terms,
    dense_floor: float,
    threshold: float,
    max_sentences: int,
    n_passages: int,
) -> Answer:
    if not candidates:
        return Answer(NO_ANSWER, False, 0.0, [], reason="no passage matched the question")
    best = candidates[0]
    missing = missing_entities(question, hits[:n_passages], terms)
    if missing:
        names = "、".join(missing)
        reason = f"the question names {names}, which no retrieved passage mentions"
        return Answer(NO_ANSWER, False, 0.0, [], reason=reason)
    dense = dense_support(hits, dense_floor)
    score = confidence(best.support, dense)
    support, dense_out = round(best.support, 4), None if dense is None else round(dense, 4)
    if score < threshold:
        reason = (
            f"the best evidence is too weak: confidence {score:.2f} is below {threshold:.2f} "
            f"(best sentence covers {max(best.support, 0):.0%} of the question's key terms)"
        )
        return Answer(NO_ANSWER, False, score, [], reason=reason, support=support, dense_support=dense_out)

    chosen = [best]
    for cand in candidates[1:]:
        if len(chosen) >= max_sentences or cand.support < SECOND_SENTENCE_RATIO * best.support:
            break
        if all(cand.end <= c.start or cand.start >= c.end or cand.hit.passage.doc_id != c.hit.passage.doc_id
               for c in chosen):
            chosen.append(cand)
    chosen.sort(key=lambda c: (c.hit.rank, c.start))
    spans = [
        AnswerSpan(c.hit.rank, c.hit.passage.id, c.hit.passage.doc_id, c.start, c.end, c.text) for c in chosen
    ]
    text = "".join(f"{span.text}[{span.marker}]" for span in spans)
    return Answer(text, True, score, spans, support=support, dense_support=dense_out)
