"""Open-domain abstention set-up: index only some articles, ask every question.

Questions whose article is not indexed have no answer in the index: a good
service declines them. CMRC 2018 documents carry their article's title, the
unit the split is made on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from qa.evaluation.datasets import Dataset


def open_domain(dataset: Dataset, indexed: Callable[[str], bool], name: str = "open") -> Dataset:
    """`dataset` with only the documents whose title `indexed` accepts; other questions become unanswerable."""
    documents = [d for d in dataset.documents if indexed(d.title)]
    kept = {d.doc_id for d in documents}
    queries = [
        dataclasses.replace(q, answerable=any(doc in kept for doc in dataset.qrels.get(q.id, {})))
        for q in dataset.queries
    ]
    qrels = {q: rel for q, rel in dataset.qrels.items() if any(doc in kept for doc in rel)}
    return Dataset(f"{dataset.name}-{name}", documents, queries, qrels)
