"""Index build/load: atomic versions, freshness checks, corruption detection and rebuild."""

from __future__ import annotations

import json

import pytest

from qa import indexer, store
from qa.errors import IndexCorruptError, IndexWriteError
from tests.conftest import LETTER_ID


def _build(settings, encoder):
    return indexer.ensure_index(settings, encoder)


def test_build_writes_a_version_and_a_pointer(settings, fake_encoder):
    built = _build(settings, fake_encoder)
    version = store.current_version(settings.index_dir)
    assert version is not None and version.name == built.manifest.version
    assert {"manifest.json", "passages.jsonl", "documents.jsonl", "dense.faiss", "bm25"} <= {
        p.name for p in version.iterdir()
    }
    assert not list(settings.index_dir.glob(".tmp-*"))
    loaded = store.load(settings.index_dir)
    assert [p.id for p in loaded.passages] == [p.id for p in built.passages]
    assert loaded.dense.count == len(built.passages) == loaded.manifest.passages


def test_current_index_is_reused_not_rebuilt(settings, fake_encoder):
    first = _build(settings, fake_encoder)
    second = _build(settings, fake_encoder)
    assert second.manifest.version == first.manifest.version


def test_corpus_change_triggers_rebuild(settings, fake_encoder):
    first = _build(settings, fake_encoder)
    path = settings.corpus_dir / f"{LETTER_ID}.txt"
    # Into the body: the letter ends with sign-off and web navigation, which the chunker treats apart.
    path.write_text(path.read_text("utf-8").replace("经研究，", "经研究，新增一段正文。", 1), "utf-8")
    second = _build(settings, fake_encoder)
    assert second.manifest.version != first.manifest.version
    assert any("新增一段正文" in p.text for p in second.passages)


def test_settings_change_triggers_rebuild(settings, fake_encoder):
    first = _build(settings, fake_encoder)
    smaller = settings.updated(**{"chunk_max_chars": 80})
    second = _build(smaller, fake_encoder)
    assert second.manifest.version != first.manifest.version
    assert len(second.passages) > len(first.passages)


def test_truncated_file_is_detected_and_rebuilt(settings, fake_encoder, caplog):
    first = _build(settings, fake_encoder)
    faiss_file = store.current_version(settings.index_dir) / "dense.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match="dense.faiss is truncated"):
        store.load(settings.index_dir)
    second = _build(settings, fake_encoder)
    assert second.manifest.version != first.manifest.version
    assert "unusable" in caplog.text
    store.load(settings.index_dir)  # the rebuilt index loads cleanly


def test_manifest_refuses_parts_that_disagree(settings, fake_encoder):
    _build(settings, fake_encoder)
    manifest_path = store.current_version(settings.index_dir) / "manifest.json"
    data = json.loads(manifest_path.read_text("utf-8"))
    data["dim"] = 999
    manifest_path.write_text(json.dumps(data), "utf-8")
    with pytest.raises(IndexCorruptError, match="dimension"):
        store.load(settings.index_dir)


def test_garbage_pointer_and_unwritable_directory(settings, fake_encoder, tmp_path):
    settings.index_dir.mkdir(parents=True)
    (settings.index_dir / "CURRENT").write_text("../../etc\n")
    with pytest.raises(IndexCorruptError, match="does not name a version"):
        store.load(settings.index_dir)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(IndexWriteError, match="cannot write the index directory"):
        indexer.rebuild(settings.updated(**{"index_dir": blocker}), fake_encoder)


def test_old_versions_are_collected(settings, fake_encoder):
    for n in range(4):
        path = settings.corpus_dir / f"{LETTER_ID}.txt"
        path.write_text(path.read_text("utf-8") + f"\n第{n}次修改。\n", "utf-8")
        _build(settings, fake_encoder)
    versions = [p for p in settings.index_dir.iterdir() if p.is_dir() and p.name != indexer.EMBEDDINGS_DIR]
    assert len(versions) == store.KEEP_VERSIONS
