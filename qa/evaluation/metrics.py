"""Retrieval metrics from `ranx` (a maintained implementation), plus abstention scores."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

RETRIEVAL_METRICS = ["hit_rate@1", "hit_rate@3", "hit_rate@5", "hit_rate@10", "mrr@10", "ndcg@10", "recall@5", "recall@10"]
# Friendlier names in reports.
LABELS = {m: m.replace("hit_rate", "hit") for m in RETRIEVAL_METRICS}


def retrieval_metrics(
    qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]], metrics: Sequence[str] = RETRIEVAL_METRICS
) -> dict[str, float]:
    """Mean of each metric over the queries in `qrels` (a query with no results scores 0)."""
    from ranx import Qrels, Run, evaluate

    qrels = {q: rel for q, rel in qrels.items() if any(g > 0 for g in rel.values())}
    if not qrels:
        return {LABELS.get(m, m): float("nan") for m in metrics}
    # ranx needs an entry for every judged query; an empty result list is a miss.
    full_run = {q: (run.get(q) or {"__none__": 0.0}) for q in qrels}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = evaluate(Qrels(qrels), Run(full_run), list(metrics), make_comparable=True)
    if isinstance(scores, float):
        scores = {metrics[0]: scores}
    return {LABELS.get(m, m): round(float(v), 4) for m, v in scores.items()}


@dataclass(frozen=True)
class Abstention:
    precision: float  # of the questions we declined, the share that were truly unanswerable
    recall: float  # of the unanswerable questions, the share we declined
    accuracy: float  # answered-vs-declined decisions that were right
    declined: int
    unanswerable: int
    total: int


def abstention(truth_answerable: Sequence[bool], predicted_answerable: Sequence[bool]) -> Abstention:
    pairs = list(zip(truth_answerable, predicted_answerable, strict=True))
    declined = sum(1 for _, p in pairs if not p)
    unanswerable = sum(1 for t, _ in pairs if not t)
    hit = sum(1 for t, p in pairs if not t and not p)
    correct = sum(1 for t, p in pairs if t == p)
    return Abstention(
        precision=round(hit / declined, 4) if declined else float("nan"),
        recall=round(hit / unanswerable, 4) if unanswerable else float("nan"),
        accuracy=round(correct / len(pairs), 4) if pairs else float("nan"),
        declined=declined,
        unanswerable=unanswerable,
        total=len(pairs),
    )
