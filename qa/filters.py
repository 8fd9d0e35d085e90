"""Restricting retrieval to some documents: by id, 文号, issuer and date range.

Applied inside retrieval (a FAISS id selector and a BM25 mask), so a filtered query still returns
k passages whenever k matching passages exist, rather than filtering a top-k afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.schema import Document, Passage


@dataclass(frozen=True)
class Filters:
    doc_ids: tuple[str, ...] = ()
    doc_number: str | None = None  # exact, ignoring spaces
    issuer: str | None = None  # a part of the issuer's name: 经信委 does not match, 经济和信息化委员会 does
    date_from: dt.date | None = None  # inclusive; documents without a date are left out when a bound is set
    date_to: dt.date | None = None

    @property
    def active(self) -> bool:
        return bool(self.doc_ids or self.doc_number or self.issuer or self.date_from or self.date_to)

    def admits(self, doc: Document) -> bool:
        if self.doc_ids and doc.doc_id not in self.doc_ids:
            return False
        if self.doc_number and _squash(doc.doc_number) != _squash(self.doc_number):
            return False
        if self.issuer and self.issuer.strip() not in (doc.issuer or ""):
            return False
        if self.date_from or self.date_to:
            date = _date(doc.date)
            if date is None or (self.date_from and date < self.date_from) or (self.date_to and date > self.date_to):
                return False
        return True


def _squash(value: str | None) -> str:
    return "".join((value or "").split())


def _date(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def document_of(documents: Sequence[Document], passages: Sequence[Passage]) -> np.ndarray:
    """For each passage, the position of its document in `documents` (computed once per index)."""
    position = {d.doc_id: i for i, d in enumerate(documents)}
    return np.fromiter((position[p.doc_id] for p in passages), dtype=np.int64, count=len(passages))


def passage_mask(filters: Filters | None, documents: Sequence[Document], doc_of: np.ndarray) -> np.ndarray | None:
    """Which passages the filters admit (None: no filter). Per document in Python, per passage in numpy."""
    if filters is None or not filters.active:
        return None
    admitted = np.fromiter((filters.admits(d) for d in documents), dtype=bool, count=len(documents))
    return admitted[doc_of]
