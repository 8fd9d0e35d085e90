"""Fit the answer models (qa/answering/answer_models.json) on tuning halves only.

- Sentence model: CMRC 2018 with every article indexed; a candidate sentence
  is positive when it contains a gold answer. Tuning half of the articles only.
- Decision model, per mode: CMRC 2018 *open domain* (only the indexed half of
  the articles is searchable, so the other half's questions are unanswerable)
  on the tuning half of the questions, plus the letter's dev split at a
  weight the fit script is given (0 by default). Label: answerable. The
  report also measures near misses (`near_miss_answers`), which the model is not
  fitted on: the synthetic ones did not carry over to the letter's.
- Span ranker (the short answer): LightGBM LambdaRank over the candidate
  spans of tuning-half sentences that hold a gold answer, graded by exact match, then CMRC F1.
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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.answering import spans
from qa.answering.compose import ShortChoice, pick_short
from qa.answering.decision import DECISION_FEATURES
from qa.answering.extractive import ExtractiveAnswerer
from qa.answering.features import FEATURES, SentenceInfo
from qa.answering.metadata import MetadataAnswerer
from qa.answering.model import AnswerModels, LinearModel
from qa.answering.question import QuestionInfo, analyse_question
from qa.config import Mode
from qa.evaluation.datasets import Dataset, Query
from qa.evaluation.runner import auroc_of, em_f1
from qa.schema import Answer
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
        state.terms, state.built.sparse, state.built.manifest.dense_floor, _extractive(clone).similarity, models,
        thresholds if thresholds is not None else {m: -math.inf for m in ("dense", "bm25", "hybrid")},
        max_sentences=service.settings.answer_max_sentences, n_passages=service.settings.answer_passages,
    )
    clone.state = dataclasses.replace(state, answerer=answerer)
    return clone


def _extractive(service: QAService) -> ExtractiveAnswerer:
    answerer = service.state.answerer
    if isinstance(answerer, MetadataAnswerer):
        answerer = answerer.fallback
    assert isinstance(answerer, ExtractiveAnswerer)
    return answerer


@dataclass
class SentenceData:
    rows: np.ndarray
    labels: np.ndarray
    groups: np.ndarray  # question index


def sentence_data(service: QAService, queries: Sequence[Query], mode: Mode = "hybrid") -> SentenceData:
    """Candidate sentences of each question's top passages, labelled by whether they hold a gold answer."""
    answerer = _extractive(service)
    rows: list[np.ndarray] = []
    labels: list[bool] = []
    groups: list[int] = []
    for i, q in enumerate(queries):
        search = service.search(q.text, answerer.n_passages, mode)
        found = answerer.candidates(q.text, search.hits, search.vector)
        rows.append(found.rows)
        labels.extend(contains_gold(c.sentence.text, q.answers) for c in found.sentences)
        groups.extend([i] * len(found.sentences))
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


def near_miss_answers(service: QAService, queries: Sequence[Query], mode: Mode, k: int = 5) -> list[Answer]:
    """Answers to near misses made from answerable questions: every retrieved passage that holds a gold answer is
    taken away, so the rest of the article still matches the question's topic but nothing answers it ("上海有多少个
    5G基站" over a letter that names the 5G trial network and no count). The passages left are renumbered from 1,
    as the answerer would see them; their retrieval scores stay those of the full ranking."""
    answers = []
    for q in queries:
        search = service.search(q.text, 2 * k, mode)
        kept = [h for h in search.hits if not contains_gold(h.passage.text, q.answers)][:k]
        answers.append(service.state.answerer(q.text, [dataclasses.replace(h, rank=i + 1) for i, h in enumerate(kept)],
                                              mode, search.vector))
    return answers


@dataclass(frozen=True)
class DecisionData:
    """A mode's decision evidence for fitting: open-domain CMRC rows (the ones scored) and the letter's dev split,
    each row with its fold (-1: always fitted on, never scored) and weight."""

    x: np.ndarray
    y: np.ndarray
    folds: np.ndarray
    weights: np.ndarray
    scored: np.ndarray  # the open-domain CMRC rows: cross-validated AUROC is over these alone

    @classmethod
    def of(cls, cmrc: tuple[np.ndarray, np.ndarray, np.ndarray], letter: tuple[np.ndarray, np.ndarray],
           letter_weight: float) -> DecisionData:
        """(rows, labels, folds) of open-domain CMRC and (rows, labels) of the letter, whose total weight is
        `letter_weight` of CMRC's."""
        (x_c, y_c, folds_c), (x_l, y_l) = cmrc, letter
        weights = [np.ones(len(y_c)), np.full(len(y_l), letter_weight * len(y_c) / max(len(y_l), 1))]
        return cls(np.vstack([x_c, x_l]), np.concatenate([y_c, y_l]), np.concatenate([folds_c, np.full(len(y_l), -1)]),
                   np.concatenate(weights), np.arange(len(y_c) + len(y_l)) < len(y_c))

    def fit(self, columns: list[int] | None = None, rows: np.ndarray | None = None) -> LinearModel:
        """The decision model on `rows` (all) over the feature `columns` (all)."""
        columns = _every_feature() if columns is None else columns
        rows = np.ones(len(self.y), dtype=bool) if rows is None else rows
        return fit_linear(self.x[rows][:, columns], self.y[rows], [DECISION_FEATURES[i] for i in columns],
                          self.weights[rows])

    def cv_auroc(self, columns: list[int] | None = None) -> float:
        """AUROC over the scored rows, each fold scored by the model fitted on every other row."""
        columns = _every_feature() if columns is None else columns
        scores = np.zeros(len(self.y))
        for k in np.unique(self.folds[self.scored]):
            held = (self.folds == k) & self.scored
            scores[held] = self.fit(columns, self.folds != k).probabilities(self.x[held][:, columns])
        return auroc_of(self.y[self.scored].tolist(), scores[self.scored].tolist())


def decision_ablation(data: DecisionData) -> dict[str, float]:
    """Cross-validated AUROC with every feature and without each one: what each feature adds beyond the others."""
    every = _every_feature()
    return {"(all features)": data.cv_auroc()} | {
        f"without {name}": data.cv_auroc([j for j in every if j != i]) for i, name in enumerate(DECISION_FEATURES)}


def _every_feature() -> list[int]:
    return list(range(len(DECISION_FEATURES)))


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


@dataclass
class SpanExample:
    """A tuning question with one of its candidate sentences that holds a gold answer."""

    info: QuestionInfo
    sentence: SentenceInfo
    question_words: frozenset[str]
    answers: tuple[str, ...]
    question: int  # the question's index in the queries it came from (cross-validation folds are of questions)


def span_examples(service: QAService, queries: Sequence[Query], per_question: int = 2) -> list[SpanExample]:
    """For each question, up to `per_question` sentences of its top passages that contain a gold answer."""
    answerer = _extractive(service)
    out = []
    for i, q in enumerate(queries):
        hits = service.search(q.text, answerer.n_passages, "hybrid").hits
        info = analyse_question(q.text)
        words = spans.question_words(answerer.terms, info)
        holding = [s for h in hits for s in answerer.analyse(h.passage).sentences if contains_gold(s.text, q.answers)]
        out += [SpanExample(info, s, words, tuple(q.answers), i) for s in holding[:per_question]]
    return out


def span_vocabulary(examples: Sequence[SpanExample], size: int) -> tuple[str, ...]:
    """The most frequent words of the examples' sentences: the categorical edge-word features' values."""
    counts = Counter(w for ex in examples for w in ex.sentence.words.words)
    return tuple(w for w, _ in counts.most_common(size))


@dataclass
class SpanData:
    rows: np.ndarray
    relevance: np.ndarray  # span_grade of each candidate: LambdaRank's graded labels
    group_sizes: np.ndarray
    candidates: list[list[tuple[int, int]]]


def span_grade(em: float, f1: float) -> int:
    """A candidate span's graded label: an exact answer (10) outranks every partial one, graded by tenths of its
    CMRC F1 (at most 9).

    Graded by F1 alone (round(4 × F1)), a span one character off the gold (F1 ≥ 0.875) ranked as high as the
    gold itself, and the ranker learnt loose boundaries: out of fold on the tuning half, EM 0.363 / F1 0.681
    against 0.440 / 0.693 with this grade.
    """
    # int() floors, and an F1 of exactly k/10 may come out a hair below it (2·6/15 = 0.7999…, graded 7): the
    # shipped ranker is fitted so. Refitting with the boundary mended chose other parameters (31 leaves) that
    # scored lower cross-validated (EM / F1 0.440 / 0.694 against 0.444 / 0.696) and cut "长约35公里" for 35公里.
    return 10 if em == 1.0 else min(int(10 * f1), 9)


def span_data(examples: Sequence[SpanExample], word_ids: dict[str, int]) -> SpanData:
    rows, relevance, sizes, cands = [], [], [], []
    for ex in examples:
        text = ex.sentence.squashed
        found = spans.candidates(ex.info, text, ex.sentence.words)
        rows.append(spans.features(ex.info, text, ex.sentence.words, found, ex.question_words, word_ids))
        relevance += [span_grade(*em_f1(text[s:e], ex.answers)) for s, e in found]
        sizes.append(len(found))
        cands.append(found)
    return SpanData(np.vstack(rows), np.asarray(relevance, dtype=np.int64), np.asarray(sizes), cands)


def span_scores(examples: Sequence[SpanExample], chosen: Sequence[tuple[int, int]]) -> tuple[float, float]:
    """Mean CMRC EM and F1 of the chosen span of each example's sentence."""
    scored = [em_f1(ex.sentence.squashed[s:e], ex.answers) for ex, (s, e) in zip(examples, chosen, strict=True)]
    return float(np.mean([em for em, _ in scored])), float(np.mean([f1 for _, f1 in scored]))


def short_choices(service: QAService, queries: Sequence[Query]) -> list[list[tuple[ShortChoice, float, float]]]:
    """Per question, each quoted sentence's best span with its CMRC EM and F1."""
    answerer = _extractive(service)
    out: list[list[tuple[ShortChoice, float, float]]] = []
    for q in queries:
        search = service.search(q.text, answerer.n_passages, "hybrid")
        found = answerer.candidates(q.text, search.hits, search.vector)
        if not found.sentences:
            out.append([])
            continue
        row: list[tuple[ShortChoice, float, float]] = []
        for choice in answerer.short_choices(found, answerer.models.sentence.logits(found.rows)):
            text = choice.candidate.sentence.squashed[choice.span[0]:choice.span[1]]
            row.append((choice, *em_f1(text, q.answers)))
        out.append(row)
    return out


def short_scores(choices: list[list[tuple[ShortChoice, float, float]]], weight: float) -> tuple[float, float]:
    """Mean EM and F1 when each question's short answer is picked as the service picks it (`pick_short`)."""
    scored = [(0.0, 0.0)] * sum(not row for row in choices)  # nothing retrieved: no short answer
    for row in filter(None, choices):
        picked = pick_short([c for c, _, _ in row], weight)
        scored.append(next((em, f1) for c, em, f1 in row if c is picked))
    return float(np.mean([em for em, _ in scored])), float(np.mean([f1 for _, f1 in scored]))
