"""Combine the dense and BM25 rankings.

Two methods, chosen by measurement (eval/reports):
- z-score fusion (default): each stage's scores are standardised over the
  candidate set, then mixed `w * z_dense + (1 - w) * z_bm25`. Unlike rank
  fusion it keeps how far ahead a candidate is, which is what decides most
  Chinese questions that one stage gets clearly right.
- reciprocal rank fusion: `sum 1 / (k + rank)` over the stages.
"""

from __future__ import annotations

import numpy as np


def zscores(scores: np.ndarray) -> np.ndarray:
    """Standardise; a constant (or single) score vector maps to zeros."""
    if scores.size == 0:
        return scores
    std = float(scores.std())
    if std < 1e-9:
        return np.zeros_like(scores)
    return (scores - scores.mean()) / std


def zscore_fusion(dense: np.ndarray, bm25: np.ndarray, dense_weight: float) -> np.ndarray:
    """Fused score per candidate; inputs are aligned score vectors over the same candidates."""
    return dense_weight * zscores(dense) + (1.0 - dense_weight) * zscores(bm25)


def ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each entry (highest score first, ties by position)."""
    order = np.argsort(-scores, kind="stable")
    out = np.empty(len(scores), dtype=np.int64)
    out[order] = np.arange(1, len(scores) + 1)
    return out


def rrf_fusion(rank_lists: list[np.ndarray], k: int) -> np.ndarray:
    """Reciprocal rank fusion over aligned 1-based rank vectors (0 = not ranked by that stage)."""
    fused = np.zeros(len(rank_lists[0]), dtype=np.float64)
    for r in rank_lists:
        fused += np.where(r > 0, 1.0 / (k + r), 0.0)
    return fused


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n highest scores, best first, ties by index: exactly `argsort(-scores, stable)[:n]`.

    A partial sort: at a million passages the full stable sort took 30 ms per query, the partition
    finds the n-th score in linear time and only the candidates at or above it are sorted.
    """
    if n >= len(scores):
        return np.argsort(-scores, kind="stable")
    if n <= 0:
        return np.empty(0, dtype=np.int64)
    nth = -np.partition(-scores, n - 1)[n - 1]
    candidates = np.flatnonzero(scores >= nth)  # ascending: ties keep index order through the stable sort
    return candidates[np.argsort(-scores[candidates], kind="stable")[:n]]


def top_positive(scores: np.ndarray, n: int) -> np.ndarray:
    """`top_n` of the positive scores only (BM25: passages sharing a term with the query). When fewer
    than n are positive, only those are sorted, not the zeros of every other passage."""
    positive = np.flatnonzero(scores > 0)
    if len(positive) <= n:
        return positive[np.argsort(-scores[positive], kind="stable")]
    return top_n(scores, n)
