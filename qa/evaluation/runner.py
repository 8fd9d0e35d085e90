"""Score a QAService on a dataset: retrieval metrics, answers, citations and abstention.

Relevance is judged per passage from the dataset's evidence spans (a passage
overlapping a grade-g evidence span gets grade g), or per document from qrels
(the ranking is reduced to documents, first occurrence counts). The service
answers every question (abstention off) and records the confidence it serves;
abstention is scored at the service's threshold from those confidences.
"""

from __future__ import annotations

import time
import unicodedata
from collections import Counter
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
    """Ask every question with abstention off: each answerable question's answer is scored, and its confidence
    is the one the service serves at its threshold."""
    open_service = service.with_settings(abstain=False)
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


_STRIP = set("，。；：、,.;:!?！？“”\"'‘’（）()《》〈〉「」『』【】[]…—-·")


def _cmrc_chars(text: str) -> list[str]:
    """CMRC 2018's official normalisation: lower case, no whitespace or punctuation, per character."""
    return [ch for ch in unicodedata.normalize("NFKC", text).lower() if not ch.isspace() and ch not in _STRIP]


def em_f1(prediction: str, answers: Sequence[str]) -> tuple[float, float]:
    """CMRC 2018 character-level exact match and F1, the max over the gold answers."""
    pred = _cmrc_chars(prediction)
    best_em, best_f1 = 0.0, 0.0
    for answer in answers:
        gold = _cmrc_chars(answer)
        best_em = max(best_em, float(pred == gold))
        common = sum((Counter(pred) & Counter(gold)).values())
        if common:
            precision, recall = common / len(pred), common / len(gold)
            best_f1 = max(best_f1, 2 * precision * recall / (precision + recall))
    return best_em, best_f1


@dataclass
class AnswerScores:
    contains_answer: float  # answerable questions whose answer text contains a gold answer string
    short_em: float
    short_f1: float
    citation_contains_evidence: float  # ... whose cited span contains a grade-2 evidence span
    citation_overlaps_evidence: float


def _cites(o: Outcome, strict: bool) -> bool:
    strong = [e for e in o.query.evidence if e.grade >= 2]
    for span in o.answer.spans if o.answer else []:
        for e in strong:
            if span.doc_id != e.doc_id:
                continue
            if (span.start <= e.start and span.end >= e.end) if strict else (span.start < e.end and e.start < span.end):
                return True
    return False


def _mean(values: Sequence[float]) -> float:
    return round(float(np.mean(values)), 4) if values else float("nan")


def answer_scores(outcomes: Sequence[Outcome]) -> AnswerScores:
    """Answer quality over the answerable questions with gold answers (recorded with abstention off)."""
    scored = [o for o in outcomes if o.query.answerable and o.query.answers and o.answer]
    contains = [any(_norm(a) in _norm(o.answer.text) for a in o.query.answers) for o in scored if o.answer]
    shorts = [em_f1(o.answer.short.text if o.answer and o.answer.short else "", o.query.answers) for o in scored]
    with_evidence = [o for o in scored if o.query.evidence]
    return AnswerScores(
        contains_answer=_mean(contains),
        short_em=_mean([em for em, _ in shorts]),
        short_f1=_mean([f1 for _, f1 in shorts]),
        citation_contains_evidence=_mean([_cites(o, True) for o in with_evidence]),
        citation_overlaps_evidence=_mean([_cites(o, False) for o in with_evidence]),
    )


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().replace(" ", "")


def abstention_at(outcomes: Sequence[Outcome], threshold: float) -> Abstention:
    return abstention(
        [o.query.answerable for o in outcomes],
        [bool(o.answer and o.answer.confidence >= threshold) for o in outcomes],
    )


def auroc(outcomes: Sequence[Outcome]) -> float:
    """How well `confidence` separates answerable from unanswerable questions (0.5 = chance)."""
    return auroc_of([o.query.answerable for o in outcomes], [o.answer.confidence if o.answer else 0.0 for o in outcomes])


def auroc_of(truth: Sequence[bool], scores: Sequence[float]) -> float:
    """AUROC of `scores` against `truth`, rounded for reports; nan when only one class is present."""
    from sklearn.metrics import roc_auc_score

    if len(set(truth)) < 2:
        return float("nan")
    return round(float(roc_auc_score(truth, scores)), 4)


def score(dataset: Dataset, outcomes: Sequence[Outcome], passages: Sequence[Passage], threshold: float) -> dict:
    qrels, runs = qrels_and_run(dataset, outcomes, passages)
    metrics = retrieval_metrics(qrels, runs)
    row: dict = {**metrics}
    if any(not o.query.answerable for o in outcomes):
        a = abstention_at(outcomes, threshold)
        answerable = [o for o in outcomes if o.query.answerable]
        answered = sum(bool(o.answer and o.answer.confidence >= threshold) for o in answerable)
        row.update(abstain_precision=a.precision, abstain_recall=a.recall, decision_accuracy=a.accuracy,
                   answered_when_answerable=round(answered / len(answerable), 4) if answerable else float("nan"),
                   auroc=auroc(outcomes))
    if any(o.answer for o in outcomes):
        ans = answer_scores(outcomes)
        row.update(answer_has_gold=ans.contains_answer, short_em=ans.short_em, short_f1=ans.short_f1,
                   citation_contains_evidence=ans.citation_contains_evidence,
                   citation_overlaps_evidence=ans.citation_overlaps_evidence)
    ms = np.array([o.ms for o in outcomes])
    row.update(queries=len(outcomes), ms_p50=round(float(np.percentile(ms, 50)), 2))
    return row
