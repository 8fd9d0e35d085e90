"""Query-time retrieval: dense, BM25 or hybrid, with per-stage scores and timings."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qa import fusion
from qa.config import Mode, Settings
from qa.embedding import Encoder
from qa.exact import anchors, copied_core, exact_score, squash
from qa.filters import Filters, document_of, passage_mask
from qa.schema import Hit, StageScore
from qa.store import BuiltIndex
from qa.text import Terms, in_script


@dataclass(eq=False)
class SearchResult:
    hits: list[Hit]
    timings: dict[str, float]  # milliseconds per stage
    # The query's embedding when the search made one (dense, hybrid; None for bm25): the answer to the same
    # request scores its sentences with it (qa.sentence_vectors) instead of embedding the question again.
    vector: np.ndarray | None = None


class Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(self.timings.get(name, 0.0) + (now - self._last) * 1000, 3)
        self._last = now


def _stage(scores: np.ndarray, present: np.ndarray) -> list[StageScore | None]:
    ranks = fusion.ranks(np.where(present, scores, -np.inf))
    return [StageScore(float(s), int(r)) if p else None for s, r, p in zip(scores, ranks, present, strict=True)]


class Retriever:
    def __init__(self, index: BuiltIndex, encoder: Encoder, terms: Terms, settings: Settings) -> None:
        self.index = index
        self.encoder = encoder
        self.terms = terms
        self.settings = settings
        self.squashed = [squash(p.text) for p in index.passages]
        self.doc_of = document_of(index.documents, index.passages)
        self.position = {p.id: i for i, p in enumerate(index.passages)}
        self.embed_query: Callable[[str], np.ndarray] = self._embed
        if settings.query_cache_size:
            self.embed_query = lru_cache(maxsize=settings.query_cache_size)(self._embed)

    def _embed(self, query: str) -> np.ndarray:
        # Only the head of a long query is embedded: a transformer's cost grows with every token (512 random
        # characters took 190 ms against 3 ms for a usual question), while BM25 and the exact-wording match
        # still read the whole of it.
        head = in_script(query[: self.settings.query_embed_chars], self.index.manifest.traditional)
        vector = self.encoder.encode_queries([head])[0]
        vector.setflags(write=False)  # shared through the cache
        return vector

    def search(self, query: str, k: int, mode: Mode, filters: Filters | None = None,
               prior: Sequence[str] = ()) -> SearchResult:
        """`prior`: passage ids the conversation already found relevant (the previous answer's citations).
        Hybrid mode adds them to the candidates and `history_boost` to their fused score."""
        timer = Timer()
        allowed = passage_mask(filters, self.index.documents, self.doc_of)
        if mode == "bm25":
            return SearchResult(self._bm25_only(query, k, timer, allowed), timer.timings)
        vector = self.embed_query(query)
        timer.lap("embed")
        if mode == "dense":
            hits = self._dense_only(vector, k, timer, allowed)
        else:
            known = [self.position[p] for p in prior if p in self.position]
            hits = self._hybrid(query, vector, k, timer, allowed, [i for i in known if allowed is None or allowed[i]])
        return SearchResult(hits, timer.timings, vector)

    def _hits(self, ids: np.ndarray, final: np.ndarray, k: int, **stages: list) -> list[Hit]:
        order = np.argsort(-final, kind="stable")[:k]
        fused = _stage(final, np.ones(len(final), dtype=bool))
        return [
            Hit(
                passage=self.index.passages[int(ids[i])],
                score=float(final[i]),
                rank=rank,
                fused=fused[i],
                **{name: values[i] for name, values in stages.items()},
            )
            for rank, i in enumerate(order, 1)
        ]

    def _dense_only(self, vector: np.ndarray, k: int, timer: Timer, allowed: np.ndarray | None) -> list[Hit]:
        ids, scores = self.index.dense.search(vector, k, allowed)
        timer.lap("dense")
        return self._hits(ids, scores, k, dense=_stage(scores, np.ones(len(ids), dtype=bool)))

    def _bm25_only(self, query: str, k: int, timer: Timer, allowed: np.ndarray | None) -> list[Hit]:
        ids, scores = self.index.sparse.top(list(self.terms.query(query).terms), k, allowed)
        timer.lap("bm25")
        return self._hits(ids, scores, k, bm25=_stage(scores, np.ones(len(ids), dtype=bool)))

    def _hybrid(self, query: str, vector: np.ndarray, k: int, timer: Timer, allowed: np.ndarray | None,
                prior: list[int]) -> list[Hit]:
        n = max(self.settings.candidates, k)
        dense_ids, _ = self.index.dense.search(vector, n, allowed)
        timer.lap("dense")
        all_bm25 = self.index.sparse.scores(list(self.terms.query(query).terms), allowed)
        top_bm25 = fusion.top_positive(all_bm25, n)
        timer.lap("bm25")

        ids = np.array(list(dict.fromkeys([*dense_ids.tolist(), *top_bm25.tolist(), *prior])), dtype=np.int64)
        dense_scores = self.index.dense.scores_for(vector, ids)
        bm25_scores = all_bm25[ids]
        query_anchors, core = anchors(query), copied_core(query)
        exact = np.array([exact_score(query_anchors, core, self.squashed[i]) for i in ids])
        if self.settings.fusion == "rrf":
            rank_lists = [fusion.ranks(dense_scores), np.where(bm25_scores > 0, fusion.ranks(bm25_scores), 0)]
            if exact.any():
                rank_lists.append(np.where(exact > 0, fusion.ranks(exact), 0))
            final = fusion.rrf_fusion(rank_lists, self.settings.rrf_k)
        else:
            final = fusion.zscore_fusion(dense_scores, bm25_scores, self.settings.dense_weight)
            final = final + self.settings.exact_boost * exact
        if prior:
            final = final + self.settings.history_boost * np.isin(ids, prior)
        hits = self._hits(
            ids, final, k,
            dense=_stage(dense_scores, np.ones(len(ids), dtype=bool)),
            bm25=_stage(bm25_scores, bm25_scores > 0),
            exact=exact.tolist(),
        )
        timer.lap("fusion")
        return hits
