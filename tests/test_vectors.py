"""The vector-store contract, run against every backend: FAISS in the process and Milvus (milvus-lite in tmp_path).

Every store must give the ids and scores of exact inner-product search (flat indexes), filter inside the
search so that k rows come back whenever k are allowed, return stored vectors, and survive save -> load.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.errors import IndexCorruptError
from qa.vectors import VectorStore, build_store, load_store
from qa.vectors.milvus import MilvusStore, collection_name, filter_expr

N, DIM, K = 600, 32, 10
BACKENDS = [("faiss", "flat"), ("milvus", "flat"), ("faiss", "hnsw"), ("milvus", "hnsw")]


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


VECTORS = unit_vectors(N, DIM, 0)
QUERIES = unit_vectors(5, DIM, 1)


def settings_for(root: Path, backend: str, kind: str = "flat") -> Settings:
    return Settings(index_dir=root / "index", backend=backend, faiss_index=kind, hnsw_m=16, hnsw_ef_search=64)


def exact(query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    scores = VECTORS @ query
    rows = np.arange(N) if allowed is None else np.flatnonzero(allowed)
    order = rows[np.argsort(-scores[rows], kind="stable")[:k]]
    return order, scores[order]


@pytest.fixture(scope="module", params=BACKENDS, ids=lambda p: f"{p[0]}-{p[1]}")
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, VectorStore]:
    backend, kind = request.param
    settings = settings_for(tmp_path_factory.mktemp(f"{backend}-{kind}"), backend, kind)
    return settings, build_store(settings, VECTORS, "v1-test")


@pytest.fixture
def store(built: tuple[Settings, VectorStore]) -> VectorStore:
    return built[1]


def test_reports_backend_kind_and_shape(built: tuple[Settings, VectorStore]) -> None:
    settings, store = built
    assert (store.backend, store.kind, store.count, store.dim) == (settings.backend, settings.faiss_index, N, DIM)


def test_search_matches_exact_inner_product(store: VectorStore) -> None:
    for query in QUERIES:
        ids, scores = store.search(query, K)
        want_ids, want_scores = exact(query, K)
        if store.kind == "hnsw":  # approximate: nearly all of the true top-k on 600 vectors
            assert len(set(ids.tolist()) & set(want_ids.tolist())) >= K - 1
            np.testing.assert_allclose(scores, VECTORS[ids] @ query, atol=1e-5)
        else:
            assert ids.tolist() == want_ids.tolist()
            np.testing.assert_allclose(scores, want_scores, atol=1e-5)
        assert ids.dtype == np.int64 and scores.dtype == np.float32


def test_k_larger_than_the_collection_returns_every_row(store: VectorStore) -> None:
    ids, _ = store.search(QUERIES[0], N + 50)
    assert sorted(ids.tolist()) == list(range(N))


@pytest.mark.parametrize(
    "shape",
    ["five rows", "exactly k rows", "two documents", "most rows", "every other row", "all rows"],
)
def test_allowed_rows_only_and_k_of_them(store: VectorStore, shape: str) -> None:
    rng = np.random.default_rng(len(shape))
    allowed = np.zeros(N, dtype=bool)
    if shape == "five rows":
        allowed[rng.choice(N, 5, replace=False)] = True
    elif shape == "exactly k rows":
        allowed[rng.choice(N, K, replace=False)] = True
    elif shape == "two documents":  # a document's passages are contiguous rows
        allowed[40:95] = allowed[300:340] = True
    elif shape == "most rows":
        allowed[:] = True
        allowed[rng.choice(N, 30, replace=False)] = False
    elif shape == "every other row":
        allowed[::2] = True
    else:
        allowed[:] = True
    for query in QUERIES:
        ids, scores = store.search(query, K, allowed)
        want_ids, want_scores = exact(query, K, allowed)
        assert len(ids) == min(K, int(allowed.sum()))
        assert allowed[ids].all()
        if store.kind != "hnsw" or allowed.sum() <= K:
            assert ids.tolist() == want_ids.tolist()
            np.testing.assert_allclose(scores, want_scores, atol=1e-5)


def test_nothing_allowed_returns_nothing(store: VectorStore) -> None:
    ids, scores = store.search(QUERIES[0], K, np.zeros(N, dtype=bool))
    assert ids.size == 0 and scores.size == 0


def test_scores_for_and_vectors_return_the_stored_rows(store: VectorStore) -> None:
    ids = np.array([17, 3, 599, 3, 0], dtype=np.int64)  # unordered, with a repeat
    np.testing.assert_allclose(store.vectors(ids), VECTORS[ids], atol=1e-6)
    np.testing.assert_allclose(store.scores_for(QUERIES[2], ids), VECTORS[ids] @ QUERIES[2], atol=1e-5)
    assert store.scores_for(QUERIES[2], np.empty(0, dtype=np.int64)).size == 0


def test_save_then_load_gives_the_same_store(built: tuple[Settings, VectorStore], tmp_path: Path) -> None:
    settings, store = built
    store.save(tmp_path)
    loaded = load_store(settings, tmp_path, store.backend)
    assert (loaded.backend, loaded.kind, loaded.count, loaded.dim) == (store.backend, store.kind, N, DIM)
    for query in QUERIES:
        assert loaded.search(query, K)[0].tolist() == store.search(query, K)[0].tolist()
    loaded.publish({"v1-test"})  # FAISS: nothing to do; Milvus: the alias now names this collection
    assert loaded.search(QUERIES[0], K)[0].size == K


# --- Milvus only -------------------------------------------------------------------------------


@pytest.fixture
def milvus_settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path, "milvus")


def build_milvus(settings: Settings, version: str, seed: int = 0, n: int = 50) -> MilvusStore:
    store = build_store(settings, unit_vectors(n, 8, seed), version)
    assert isinstance(store, MilvusStore)
    return store


def test_collection_names_are_sanitised() -> None:
    assert collection_name("qa_passages", "v20261201-005900-a1b2c3") == "qa_passages_v20261201_005900_a1b2c3"


def test_publish_moves_the_alias_and_drops_versions_not_kept(milvus_settings: Settings) -> None:
    alias = milvus_settings.milvus_collection
    first = build_milvus(milvus_settings, "v1", seed=1)
    first.publish({"v1"})
    client = first.client
    assert client.describe_alias(alias)["collection_name"] == first.name

    second = build_milvus(milvus_settings, "v2", seed=2)
    second.publish({"v2", "v1"})
    assert client.describe_alias(alias)["collection_name"] == second.name
    assert client.has_collection(first.name)  # the previous version stays while readers may hold it

    third = build_milvus(milvus_settings, "v3", seed=3)
    third.publish({"v3", "v2"})
    assert client.describe_alias(alias)["collection_name"] == third.name
    assert not client.has_collection(first.name) and client.has_collection(second.name)
    # searching through the alias reaches the published version's vectors
    hit = client.search(alias, [unit_vectors(50, 8, 3)[7]], limit=1, anns_field="vec", output_fields=["id"])[0][0]
    assert hit["id"] == 7


def test_publish_leaves_other_collections_alone(milvus_settings: Settings) -> None:
    other = build_milvus(milvus_settings.updated(milvus_collection="qa_passages_other"), "v1")
    mine = build_milvus(milvus_settings, "v2")
    mine.publish({"v2"})
    assert mine.client.has_collection(other.name)


def test_missing_collection_is_a_corrupt_index(milvus_settings: Settings, tmp_path: Path) -> None:
    store = build_milvus(milvus_settings, "v1")
    store.save(tmp_path)
    store.client.drop_collection(store.name)
    with pytest.raises(IndexCorruptError, match="missing"):
        load_store(milvus_settings, tmp_path, "milvus")


def test_count_mismatch_or_unreadable_record_is_a_corrupt_index(milvus_settings: Settings, tmp_path: Path) -> None:
    build_milvus(milvus_settings, "v1").save(tmp_path)
    record = tmp_path / "milvus.json"
    meta = json.loads(record.read_text())
    record.write_text(json.dumps({**meta, "count": meta["count"] + 1}))
    with pytest.raises(IndexCorruptError, match="expects 51"):
        load_store(milvus_settings, tmp_path, "milvus")
    record.write_text("{")
    with pytest.raises(IndexCorruptError, match="cannot be read"):
        load_store(milvus_settings, tmp_path, "milvus")


def test_filter_lists_the_smaller_side_and_ranges_for_documents() -> None:
    allowed = np.zeros(1000, dtype=bool)
    allowed[[3, 9]] = True
    assert filter_expr(allowed) == "id in [3,9]"
    allowed[100:400] = True
    assert filter_expr(allowed) == "(id >= 100 and id <= 399) or id in [3,9]"
    assert filter_expr(~allowed) == "not ((id >= 100 and id <= 399) or id in [3,9])"
