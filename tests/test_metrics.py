"""Our metric wrapper against hand-computed values, and abstention scores."""

from __future__ import annotations

import math

import pytest

from qa.evaluation.metrics import abstention, retrieval_metrics


def test_retrieval_metrics_match_hand_computation():
    qrels = {"q1": {"a": 1}, "q2": {"b": 2, "c": 1}, "q3": {"z": 1}}
    run = {"q1": {"a": 3.0, "x": 2.0}, "q2": {"x": 3.0, "c": 2.0, "b": 1.0}, "q3": {}}
    m = retrieval_metrics(qrels, run, ["hit_rate@1", "hit_rate@3", "mrr@10", "ndcg@10", "recall@3"])
    assert m["hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["hit@3"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 2 + 0) / 3, abs=1e-4)
    # q2: gains c=1 at rank 2, b=2 at rank 3; ranx's ndcg uses linear gains
    dcg = 1 / math.log2(3) + 2 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert m["ndcg@10"] == pytest.approx((1 + dcg / idcg + 0) / 3, abs=1e-4)
    assert m["recall@3"] == pytest.approx((1 + 1 + 0) / 3, abs=1e-4)


def test_abstention_precision_recall():
    truth = [True, True, False, False, False]
    pred = [True, False, False, False, True]
    a = abstention(truth, pred)
    assert (a.declined, a.unanswerable) == (3, 3)
    assert a.precision == pytest.approx(2 / 3, abs=1e-4) and a.recall == pytest.approx(2 / 3, abs=1e-4)
    assert a.accuracy == pytest.approx(3 / 5)
    assert math.isnan(abstention([True], [True]).precision)


def test_open_domain_makes_the_unindexed_articles_questions_unanswerable():
    from qa.evaluation.datasets import Dataset, Query
    from qa.evaluation.open_domain import open_domain
    from qa.schema import Document

    docs = [Document("d1", "甲", "一"), Document("d2", "乙", "二")]
    queries = [Query("q1", "问一"), Query("q2", "问二")]
    opened = open_domain(Dataset("x", docs, queries, {"q1": {"d1": 1}, "q2": {"d2": 1}}), lambda title: title == "甲")
    assert [d.doc_id for d in opened.documents] == ["d1"]
    assert [q.answerable for q in opened.queries] == [True, False]
    assert opened.qrels == {"q1": {"d1": 1}}


def test_auroc_ranks_confidences_against_answerability():
    from qa.evaluation.datasets import Query
    from qa.evaluation.runner import Outcome, auroc
    from qa.schema import Answer

    def outcome(answerable: bool, confidence: float) -> Outcome:
        return Outcome(Query("q", "?", answerable=answerable), [], Answer("", True, confidence, []), 0.0)

    perfect = [outcome(True, 0.9), outcome(True, 0.8), outcome(False, 0.2), outcome(False, 0.1)]
    assert auroc(perfect) == 1.0
    assert auroc([outcome(True, 0.2), outcome(False, 0.9)]) == 0.0
    assert math.isnan(auroc([outcome(True, 0.5)]))
