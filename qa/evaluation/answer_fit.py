"""Fit the answer models (qa/answering/answer_models.json) on tuning halves only.

- Sentence model: CMRC 2018 with every article indexed; a candidate sentence
  is positive when it contains a gold answer. Tuning half of the articles only.
- Decision model, per mode: CMRC 2018 *open domain* (only the indexed half of
  the articles is searchable, so the other half's questions are unanswerable)
  on the tuning half of the questions, plus the letter's dev split, each
  dataset weighted equally. Label: answerable.
- Thresholds, per mode: the best decision accuracy on the tuning data (mean of
  the two datasets) subject to answering at least `min_answered` of CMRC's
  answerable tuning questions.

Halves come from `article_half` (a hash of the article title), so questions
about one article never sit on both sides.
"""

from __future__ import annotations

import dataclasses
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.answering.decision import DECISION_FEATURES
from qa.answering.extractive import ExtractiveAnswerer
from qa.answering.features import FEATURES, candidate_features
from qa.answering.metadata import MetadataAnswerer
from qa.answering.model import AnswerModels, LinearModel
from qa.answering.question import analyse_question
from qa.config import Mode
from qa.evaluation.datasets import Dataset, Query
from qa.service import QAService


def _norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).lower().split())


def contains_gold(text: str, answers: Sequence[str]) -> bool:
    folded = _norm(text)
    return any(_norm(a) in folded for a in answers if a)


def with_models(service: QAService, models: AnswerModels, thresholds: dict[str, float] | None = None) -> QAService:
    """The same service answering with `models` (thresholds default to -inf: record every confidence)."""
    clone = service.with_settings()
    state = clone.state
    answerer = ExtractiveAnswerer(
        state.terms, state.built.sparse, state.built.manifest.dense_floor, models,
        thresholds if thresholds is not None else {m: -math.inf for m in ("dense", "bm25", "hybrid")},
        max_sentences=service.settings.answer_max_sentences, n_passages=service.settings.answer_passages,
    )
    clone.state = dataclasses.replace(state, answerer=answerer)
    return clone


@dataclass
class SentenceData:
    rows: np.ndarray
    labels: np.ndarray
    groups: np.ndarray  # question index


def sentence_data(service: QAService, queries: Sequence[Query], mode: Mode = "hybrid") -> SentenceData:
    """Candidate sentences of each question's top passages, labelled by whether they hold a gold answer."""
    answerer = service.state.answerer
    if isinstance(answerer, MetadataAnswerer):
        answerer = answerer.fallback
    assert isinstance(answerer, ExtractiveAnswerer)
    rows: list[np.ndarray] = []
    labels: list[bool] = []
    groups: list[int] = []
    for i, q in enumerate(queries):
        hits = service.search(q.text, answerer.n_passages, mode).hits
        terms = list(dict.fromkeys(answerer.terms.query(q.text).terms))
        cands, table = candidate_features(analyse_question(q.text), terms, answerer.sparse.idf(terms), hits,
                                          answerer.analyse)
        rows.append(table)
        labels.extend(contains_gold(c.sentence.text, q.answers) for c in cands)
        groups.extend([i] * len(cands))
    return SentenceData(np.vstack(rows) if rows else np.zeros((0, len(FEATURES))), np.array(labels), np.array(groups))


def fit_linear(rows: np.ndarray, labels: np.ndarray, names: Sequence[str], weights: np.ndarray | None = None,
               c: float = 1.0) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=5000).fit((rows - mean) / scale, labels, sample_weight=weights)
    return LinearModel(tuple(names), model.coef_[0].astype(np.float64), float(model.intercept_[0]), mean, scale)


def top1_contains(probabilities: np.ndarray, data: SentenceData) -> float:
    hits = []
    for g in np.unique(data.groups):
        idx = np.where(data.groups == g)[0]
        hits.append(bool(data.labels[idx[np.argmax(probabilities[idx])]]))
    return float(np.mean(hits)) if hits else float("nan")


def decision_rows(service: QAService, dataset: Dataset, queries: Sequence[Query], mode: Mode,
                  k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Each question's decision evidence (answers recorded with abstention off) and whether it is answerable."""
    rows, labels = [], []
    for q in queries:
        answer = service.ask(q.text, k, mode).answer
        rows.append(answer.evidence or [0.0] * len(DECISION_FEATURES))
        labels.append(q.answerable)
    return np.asarray(rows, dtype=np.float64), np.asarray(labels, dtype=bool)


def best_threshold(datasets: Sequence[tuple[np.ndarray, np.ndarray]], min_answered: float,
                   weights: Sequence[float] | None = None) -> float:
    """Threshold with the best weighted decision accuracy over `datasets` ((confidence, answerable) pairs),
    answering at least `min_answered` of the first dataset's answerable questions."""
    grid = np.unique(np.concatenate([conf for conf, _ in datasets]))
    cuts = np.concatenate([[0.0], (grid[1:] + grid[:-1]) / 2 if len(grid) > 1 else grid])
    best, best_acc = 0.0, -1.0
    first_conf, first_truth = datasets[0]
    for t in cuts:
        if (first_conf[first_truth] >= t).mean() < min_answered:
            continue
        acc = float(np.average([((conf >= t) == truth).mean() for conf, truth in datasets], weights=weights))
        if acc > best_acc:
            best, best_acc = float(t), acc
    return round(best, 4)
