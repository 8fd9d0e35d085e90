"""Score a QAService on a dataset: retrieval metrics, answers, citations and abstention.

Relevance is judged per passage from the dataset's evidence spans (a passage
overlapping a grade-g evidence span gets grade g), or per document from qrels
(the ranking is reduced to documents, first occurrence counts). The service
answers with abstention switched off so every question's confidence is
recorded; abstention is then scored for any threshold without re-running.
"""

from __future__ import annotations

import math
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from qa.config import Mode
from qa.evaluation.datasets import Dataset, Query
from qa.evaluation.metrics import Abstention, abstention, retrieval_metrics
from qa.schema import Answer, Hit, Passage
from qa.service import QAService


@dataclass
class Outcome:
    query: Query
    hits: list[Hit]
    answer: Answer | None
    ms: float


def run(service: QAService, dataset: Dataset, mode: Mode, k: int = 10, answer: bool = True,
        progress: bool = False) -> list[Outcome]:
    """Ask every question; abstention is disabled so that confidences can be calibrated."""
    open_service = service.with_settings(abstain_thresholds={m: -math.inf for m in ("dense", "bm25", "hybrid")})
    outcomes = []
    for q in tqdm(dataset.queries, desc=f"{dataset.name}/{mode}", disable=not progress, leave=False):
        started = time.perf_counter()
        if answer:
            result = open_service.ask(q.text, k, mode)
            hits, ans = result.search.hits, result.answer
        else:
            hits, ans = open_service.search(q.text, k, mode).hits, None
        outcomes.append(Outcome(q, hits, ans, (time.perf_counter() - started) * 1000))
    return outcomes


def _overlap(p: Passage, doc_id: str, start: int, end: int) -> bool:
    return p.doc_id == doc_id and p.start < end and start < p.end


def passage_grade(q: Query, p: Passage) -> int:
    return max((e.grade for e in q.evidence if _overlap(p, e.doc_id, e.start, e.end)), default=0)


def qrels_and_run(dataset: Dataset, outcomes: Sequence[Outcome], passages: Sequence[Passage]) -> tuple[dict, dict]:
    """ranx-ready qrels and run, at passage level (evidence) or document level (qrels)."""
    qrels: dict[str, dict[str, int]] = {}
    runs: dict[str, dict[str, float]] = {}
    span_level = dataset.level == "span"
    for o in outcomes:
        q = o.query
        if not q.answerable:
            continue
        if span_level:
            qrels[q.id] = {p.id: g for p in passages if (g := passage_grade(q, p)) > 0}
            ranked = [h.passage.id for h in o.hits]
        else:
            qrels[q.id] = dataset.qrels.get(q.id, {})
            ranked = list(dict.fromkeys(h.passage.doc_id for h in o.hits))
        runs[q.id] = {item: float(len(ranked) - i) for i, item in enumerate(ranked)}
    return qrels, runs


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().replace(" ", "")


@dataclass
class AnswerScores:
    answered: int
    contains_answer: float  # answered questions whose answer text contains a gold answer string
    citation_contains_evidence: float  # ... whose cited span contains a grade-2 evidence span
    citation_overlaps_evidence: float


def answer_scores(outcomes: Sequence[Outcome], threshold: float) -> AnswerScores:
    answered = [o for o in outcomes if o.query.answerable and o.answer and o.answer.confidence >= threshold]
    if not answered:
        return AnswerScores(0, float("nan"), float("nan"), float("nan"))

    def has_answer(o: Outcome) -> bool:
        text = _norm(o.answer.text) if o.answer else ""
        return any(_norm(a) in text for a in o.query.answers)

    def cites(o: Outcome, strict: bool) -> bool:
        strong = [e for e in o.query.evidence if e.grade >= 2]
        for span in o.answer.spans if o.answer else []:
            for e in strong:
                if span.doc_id != e.doc_id:
                    continue
                if (span.start <= e.start and span.end >= e.end) if strict else (span.start < e.end and e.start < span.end):
                    return True
        return False

    with_evidence = [o for o in answered if o.query.evidence]
    return AnswerScores(
        answered=len(answered),
        contains_answer=round(float(np.mean([has_answer(o) for o in answered])), 4),
        citation_contains_evidence=round(float(np.mean([cites(o, True) for o in with_evidence])), 4)
        if with_evidence else float("nan"),
        citation_overlaps_evidence=round(float(np.mean([cites(o, False) for o in with_evidence])), 4)
        if with_evidence else float("nan"),
    )


def abstention_at(outcomes: Sequence[Outcome], threshold: float) -> Abstention:
    return abstention(
        [o.query.answerable for o in outcomes],
        [bool(o.answer and o.answer.confidence >= threshold) for o in outcomes],
    )


def calibrate(outcomes: Sequence[Outcome]) -> float:
    """The threshold with the best answer/decline accuracy (ties: the midpoint of the best range)."""
    confidences = sorted({o.answer.confidence for o in outcomes if o.answer})
    if not confidences:
        return 0.0
    candidates = [confidences[0] - 1e-6] + [(a + b) / 2 for a, b in zip(confidences, confidences[1:], strict=False)]
    candidates.append(confidences[-1] + 1e-6)
    accuracies = [abstention_at(outcomes, t).accuracy for t in candidates]
    best = max(accuracies)
    winners = [t for t, a in zip(candidates, accuracies, strict=True) if a == best]
    return round(float(np.median(winners)), 4)


def score(dataset: Dataset, outcomes: Sequence[Outcome], passages: Sequence[Passage], threshold: float) -> dict:
    qrels, runs = qrels_and_run(dataset, outcomes, passages)
    metrics = retrieval_metrics(qrels, runs)
    row: dict = {**metrics}
    if any(not o.query.answerable for o in outcomes):
        a = abstention_at(outcomes, threshold)
        row.update(abstain_precision=a.precision, abstain_recall=a.recall, decision_accuracy=a.accuracy)
    if any(o.answer for o in outcomes):
        ans = answer_scores(outcomes, threshold)
        row.update(answered=ans.answered, answer_has_gold=ans.contains_answer,
                   citation_contains_evidence=ans.citation_contains_evidence,
                   citation_overlaps_evidence=ans.citation_overlaps_evidence)
    ms = np.array([o.ms for o in outcomes])
    row.update(queries=len(outcomes), ms_p50=round(float(np.percentile(ms, 50)), 2))
    return row
