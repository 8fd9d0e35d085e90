"""The extractive answerer: rank the top passages' sentences, decide, compose.

1. Every sentence of the top `answer_passages` hits gets the fitted sentence
   model's probability of containing the answer (qa.answering.features).
2. The decision model weighs the best sentence and question-level evidence
   (missing entities, unseen terms, dense support, ...) into `confidence`;
   below the mode's threshold the service declines with a reason (with
   `abstain` off, for evaluation, it still composes the answer and marks it
   not answerable).
3. The answer quotes the best sentence (and a close second) with
   [n] markers, and the short answer is cut from the best sentence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qa.answering import decision
from qa.answering.base import SentenceSimilarity
from qa.answering.compose import (
    ShortChoice,
    answer_spans,
    answer_text,
    best_span,
    choose_sentences,
    pick_short,
    short_answer,
)
from qa.answering.features import Candidate, analyse_passage, candidate_features
from qa.answering.model import AnswerModels, sigmoid
from qa.answering.question import QuestionInfo, analyse_question
from qa.answering.spans import question_words
from qa.config import Mode
from qa.schema import Answer, Hit
from qa.sparse import SparseIndex
from qa.text import QueryTerms, Terms

NO_ANSWER = "未找到相关内容：现有资料中没有足够依据回答这个问题。"
NO_PASSAGES = "没有检索到与问题相关的段落。"


@dataclass(frozen=True, eq=False)
class Candidates:
    """A question's candidate sentences in its top passages, with what the sentence model reads of them."""

    info: QuestionInfo
    hits: list[Hit]  # the top `n_passages` hits the sentences come from
    query: QueryTerms
    df: np.ndarray  # per distinct query term: passages containing it
    idf: np.ndarray
    sentences: list[Candidate]
    rows: np.ndarray  # one feature row per sentence (qa.answering.features.FEATURES)


class ExtractiveAnswerer:
    """Answers from one index (holds that index's term statistics and a per-passage analysis cache)."""

    def __init__(
        self,
        terms: Terms,
        sparse: SparseIndex,
        dense_floor: float,
        similarity: SentenceSimilarity,
        models: AnswerModels,
        thresholds: dict[str, float],  # per mode: minimum confidence to answer
        *,
        max_sentences: int = 2,
        n_passages: int = 3,
        cache_size: int = 4096,
        abstain: bool = True,
    ) -> None:
        self.terms = terms
        self.sparse = sparse
        self.dense_floor = dense_floor
        self.similarity = similarity
        self.models = models
        self.thresholds = thresholds
        self.max_sentences = max_sentences
        self.n_passages = n_passages
        self.abstain = abstain
        self.analyse = lru_cache(maxsize=cache_size)(lambda passage: analyse_passage(passage, terms))

    def stream(self, question: str, hits: list[Hit], mode: Mode,
               vector: np.ndarray | None = None) -> Iterator[str | Answer]:
        yield self(question, hits, mode, vector)  # extractive: the whole answer at once

    def threshold(self, mode: Mode) -> float:
        return self.thresholds.get(mode, self.thresholds.get("hybrid", 0.5))

    def candidates(self, question: str, hits: list[Hit], vector: np.ndarray | None = None) -> Candidates:
        """Every sentence of the top `n_passages` hits with its feature row (the fit scores the same rows)."""
        top = hits[: self.n_passages]
        info = analyse_question(question)
        query = self.terms.query(question)
        q_terms = list(dict.fromkeys(query.terms))
        df = self.sparse.document_frequency(q_terms)
        idf = self.sparse.idf_of(df)
        similarities = self.similarity(question, vector, [h.passage for h in top]) if top else []
        sentences, rows = candidate_features(info, q_terms, idf, top, self.analyse, similarities)
        return Candidates(info, top, query, df, idf, sentences, rows)

    def short_choices(self, found: Candidates, logits: np.ndarray) -> list[ShortChoice]:
        """The quoted sentences (best first), each with its best-ranked span: `pick_short` takes the short
        answer from among them (the fit scores the same choices)."""
        chosen = choose_sentences(found.sentences, sigmoid(logits), self.max_sentences,
                                  self.models.second_sentence_ratio)
        words = question_words(self.terms, found.info)
        return [best_span(found.info, found.sentences[i], float(logits[i]), words, self.models.span) for i in chosen]

    def __call__(self, question: str, hits: list[Hit], mode: Mode, vector: np.ndarray | None = None) -> Answer:
        found = self.candidates(question, hits, vector)
        if not found.sentences:
            return Answer(NO_ANSWER, False, 0.0, [], reason=NO_PASSAGES)
        info, idf = found.info, found.idf
        logits = self.models.sentence.logits(found.rows)
        unseen = float(idf[found.df == 0].sum() / idf.sum()) if idf.sum() > 0 else 0.0
        named = list(found.query.named)
        decisive = decision.decisive(named, self.sparse.document_frequency(named))
        ev = decision.evidence(info, found.hits, found.sentences, logits, found.rows, entities=list(found.query.entities),
                               named=named, decisive=decisive, unseen_share=unseen, floor=self.dense_floor)
        model = self.models.decision.get(mode) or self.models.decision["hybrid"]
        confidence = round(float(model.probabilities(ev.features[None, :])[0]), 4)
        threshold = self.threshold(mode)
        if ev.missing_named:
            confidence = decision.capped(confidence, threshold)
        answerable = confidence >= threshold
        why = None if answerable else decision.reason(ev, confidence, threshold)
        if not answerable and self.abstain:
            return Answer(NO_ANSWER, False, confidence, [], reason=why, evidence=ev.features.round(4).tolist())
        choices = self.short_choices(found, logits)
        spans = answer_spans([c.candidate for c in choices])
        short = short_answer(pick_short(choices, self.models.short_span_weight))
        return Answer(answer_text(spans), answerable, confidence, spans, reason=why, short=short,
                      evidence=ev.features.round(4).tolist())
