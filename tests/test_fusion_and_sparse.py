"""Fusion maths and BM25 against the rank_bm25 reference implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from qa import fusion
from qa.sparse import SparseIndex


def test_zscores_standardise_and_handle_constant_input():
    z = fusion.zscores(np.array([1.0, 2.0, 3.0]))
    assert z.mean() == pytest.approx(0) and z.std() == pytest.approx(1)
    assert fusion.zscores(np.array([5.0, 5.0])).tolist() == [0.0, 0.0]
    assert fusion.zscores(np.array([])).size == 0


def test_zscore_fusion_weights_the_stages():
    dense = np.array([0.9, 0.8, 0.7])
    bm25 = np.array([0.0, 10.0, 0.0])
    assert np.argmax(fusion.zscore_fusion(dense, bm25, 1.0)) == 0
    assert np.argmax(fusion.zscore_fusion(dense, bm25, 0.0)) == 1
    # Scale-free: multiplying one stage's scores changes nothing.
    a = fusion.zscore_fusion(dense, bm25, 0.7)
    b = fusion.zscore_fusion(dense * 3, bm25 * 100, 0.7)
    assert np.allclose(a, b)


def test_rrf_and_ranks():
    assert fusion.ranks(np.array([0.1, 0.9, 0.5])).tolist() == [3, 1, 2]
    fused = fusion.rrf_fusion([np.array([1, 2, 3]), np.array([0, 1, 2])], k=60)
    assert fused[1] > fused[0] > 0 and fused[1] > fused[2]
    assert fused[0] == pytest.approx(1 / 61)


DOCS = [
    ["上海", "5g", "覆盖", "区域", "上海"],
    ["4g", "用户", "上海", "比例"],
    ["其他", "内容"],
    ["5g", "5g", "试验", "网"],
    [],
]


class LuceneReference(BM25Okapi):
    """rank_bm25 with Lucene's idf, log(1 + (N - df + 0.5) / (df + 0.5))."""

    def _calc_idf(self, nd):
        for word, freq in nd.items():
            self.idf[word] = math.log(1 + (self.corpus_size - freq + 0.5) / (freq + 0.5))


@pytest.mark.parametrize("query", [["上海", "5g"], ["比例"], ["5g", "试验"], ["不存在"], ["上海", "上海"]])
def test_bm25_matches_reference(query):
    ours = SparseIndex.build(DOCS, k1=1.2, b=0.75)
    reference = LuceneReference([d or [""] for d in DOCS], k1=1.2, b=0.75)
    # bm25s' Lucene variant omits the constant (k1 + 1) factor; rankings are identical.
    expected = reference.get_scores(query) / 2.2
    assert np.allclose(ours.scores(query), expected, atol=1e-5)


def test_bm25_edge_cases(tmp_path):
    index = SparseIndex.build(DOCS)
    assert index.scores([]).tolist() == [0.0] * len(DOCS)
    ids, scores = index.top(["不存在"], 3)
    assert ids.size == 0
    ids, _ = index.top(["5g"], 10)
    assert ids.tolist() == [3, 0]
    index.save(tmp_path)
    loaded = SparseIndex.load(tmp_path, len(DOCS))
    assert np.allclose(loaded.scores(["上海"]), index.scores(["上海"]))
    assert index.idf(["不存在"])[0] > index.idf(["上海"])[0]


def test_faiss_auto_picks_exact_search_for_small_corpora():
    from qa.vectors.faiss import FaissStore, resolve_kind

    assert resolve_kind("auto", 1000, 50_000) == "flat"
    assert resolve_kind("auto", 50_000, 50_000) == "hnsw"
    assert resolve_kind("flat", 10**6, 50_000) == "flat"
    vectors = np.eye(8, dtype=np.float32)
    store = FaissStore.build(vectors, "hnsw", 8)
    assert store.kind == "hnsw"
    ids, scores = store.search(vectors[3], 2)
    assert ids[0] == 3 and scores[0] == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(20))
def test_partial_top_n_equals_the_full_stable_sort(seed):
    from qa.fusion import top_n, top_positive

    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, int(rng.integers(1, 500))).astype(np.float32)  # many ties and zeros
    for n in (0, 1, 5, 50, 1000):
        full = np.argsort(-scores, kind="stable")[:n]
        assert top_n(scores, n).tolist() == full.tolist()
        assert top_positive(scores, n).tolist() == full[scores[full] > 0].tolist()
