"""Document collections: the embedding cache, add/replace/delete (library, HTTP, CLI) and filters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from qa.collection import Upload
from qa.config import PROJECT_ROOT
from qa.errors import DocumentConflictError, DocumentRejectedError, NotFoundError
from qa.service import QAService
from tests.conftest import LETTER_ID, FakeEncoder, make_client

ADMIN = "admin-key-for-tests-0001"
NEW_LETTER = (
    "沪科函〔2021〕8号\n王五代表：\n"
    "您提出的关于加快人工智能产业发展的建议收悉。现答复如下：\n"
    "一、工作进展\n本市已建成人工智能创新中心三家，集聚企业一千余家，张江人工智能岛已投入使用。\n"
    "二、下一步工作\n我们将继续推进算力基础设施建设，支持大模型在政务服务中的应用。\n"
    "上海市科学技术委员会\n2021年4月9日\n"
)


@pytest.fixture(params=["faiss", "milvus"])
def settings(request, settings):
    """Every test here runs against both vector stores: FAISS in the process and Milvus (milvus-lite)."""
    return settings.updated(backend=request.param)


def _corpus_files(service: QAService) -> list[str]:
    return sorted(p.name for p in service.settings.corpus_dir.iterdir() if not p.name.startswith("."))


def test_a_rebuild_embeds_only_passages_and_sentences_it_has_not_seen(settings, fake_encoder):
    from qa.sentence_vectors import sentence_texts

    def texts(passages):  # what a build embeds: the passages and their sentences (qa.sentence_vectors)
        return {p.indexed_text(settings.heading_in_dense) for p in passages} | set(sentence_texts(passages)[0])

    service = QAService.start(settings, encoder=fake_encoder)
    first = service.state.built
    assert first.manifest.embedded == len(texts(first.passages)) > first.manifest.passages > 0
    built, changed = service.change_documents(add=[Upload("ai-reply.txt", NEW_LETTER.encode())])
    new_texts = texts([p for p in built.passages if p.doc_id == "ai-reply"]) - texts(first.passages)
    assert changed == ["ai-reply"] and built.manifest.embedded == len(new_texts) > 0
    # A rebuild for another reason (an index setting changed), in a new process, takes every vector from the cache.
    rebuilt = QAService.start(settings.updated(faiss_index="hnsw"), encoder=FakeEncoder()).state.built.manifest
    assert rebuilt.vector_kind == "hnsw" and rebuilt.embedded == 0


def test_cached_vectors_are_the_vectors_the_model_gives(settings, fake_encoder):
    import numpy as np

    from qa import indexer

    settings = settings.updated(heading_in_dense=True)  # the passage vectors carry the heading; sentences never
    QAService.start(settings, encoder=fake_encoder)
    rebuilt = indexer.rebuild(settings, fake_encoder)
    assert rebuilt.manifest.embedded == 0
    passage_texts = [p.indexed_text(settings.heading_in_dense) for p in rebuilt.passages]
    stored = rebuilt.dense.vectors(np.arange(rebuilt.dense.count))
    assert np.allclose(stored, fake_encoder.encode_passages(passage_texts), atol=1e-6)
    # The sentences' too, as the published index stores them (float16).
    from qa import store
    from qa.answering.features import analyse_passage
    from qa.indexer import make_terms

    sentences = store.load(settings.index_dir, settings).sentences
    terms = make_terms(settings)
    # Row by row, the sentences the answerer scores (its candidates), passage by passage.
    candidates = [[s.text for s in analyse_passage(p, terms).sentences] for p in rebuilt.passages]
    assert any(p.context for p in rebuilt.passages)
    for i, texts_of_passage in enumerate(candidates):
        rows = sentences.vectors[sentences.offsets[i]:sentences.offsets[i + 1]]
        assert np.allclose(rows, fake_encoder.encode_passages(texts_of_passage), atol=2e-3)
    assert len(sentences.vectors) == sum(map(len, candidates)) > len(rebuilt.passages)
    p = len(rebuilt.passages) // 2
    query = fake_encoder.encode_queries(["5G覆盖哪些区域"])[0]
    expected = fake_encoder.encode_passages(candidates[p]) @ query
    assert np.allclose(sentences.similarities(query, p), expected, atol=1e-2)


def test_add_metadata_from_the_text_then_replace_then_remove(settings, fake_encoder):
    service = QAService.start(settings, encoder=fake_encoder)
    service.change_documents(add=[Upload("ai-reply.txt", NEW_LETTER.encode())])
    doc = service.document("ai-reply")
    assert (doc.doc_number, doc.recipient, doc.issuer, doc.date) == (
        "沪科函〔2021〕8号", "王五代表", "上海市科学技术委员会", "2021-04-09")
    top = service.search("张江人工智能岛", 1).hits[0].passage
    assert top.doc_id == "ai-reply"

    service.change_documents(replace={"ai-reply": Upload("v2.txt", NEW_LETTER.replace("三家", "五家").encode())})
    assert "五家" in service.document("ai-reply").text and "ai-reply.txt" in _corpus_files(service)
    # The documents the change built from are the ones `qa build` reads from the folder: the index is current.
    from qa import indexer

    assert indexer.ensure_index(settings, fake_encoder).manifest.version == service.state.built.manifest.version

    built, _ = service.change_documents(remove=["ai-reply"])
    assert [d.doc_id for d in built.documents] == [LETTER_ID]
    assert "ai-reply.txt" not in _corpus_files(service)
    with pytest.raises(NotFoundError):
        service.document("ai-reply")


def test_originals_are_kept_as_received_when_configured(settings, fake_encoder, tmp_path):
    service = QAService.start(settings.updated(originals_dir=tmp_path / "originals"), encoder=fake_encoder)
    service.change_documents(add=[Upload("人工智能答复.txt", NEW_LETTER.encode(), doc_id="ai")])
    service.change_documents(replace={"ai": Upload("v2.txt", b"\xef\xbb\xbf" + NEW_LETTER.encode())})
    service.change_documents(remove=["ai"])
    kept = sorted((tmp_path / "originals" / "ai").iterdir())
    assert sorted(p.name.split("-", 1)[1] for p in kept) == ["v2.txt", "人工智能答复.txt"]
    assert {p.read_bytes() for p in kept} == {NEW_LETTER.encode(), b"\xef\xbb\xbf" + NEW_LETTER.encode()}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"add": [Upload("empty.pdf", b"")]}, DocumentRejectedError),
        ({"add": [Upload("blob.bin", bytes(range(256)))]}, DocumentRejectedError),
        ({"add": [Upload("renamed.docx", b"%PDF-1.4 not really")]}, DocumentRejectedError),
        ({"add": [Upload("x.txt", b"text", doc_id=LETTER_ID)]}, DocumentConflictError),
        ({"add": [Upload("x.txt", b"text", doc_id="../../etc")]}, DocumentRejectedError),
        ({"remove": ["no-such-document"]}, NotFoundError),
        ({"replace": {"no-such-document": Upload("x.txt", b"text")}}, NotFoundError),
        # One bad file in a batch: the good one is not added either.
        ({"add": [Upload("good.txt", NEW_LETTER.encode()), Upload("bad.txt", b"")]}, DocumentRejectedError),
    ],
)
def test_a_failed_change_changes_nothing(settings, fake_encoder, change, error):
    service = QAService.start(settings, encoder=fake_encoder)
    files, version = _corpus_files(service), service.state.built.manifest.version
    with pytest.raises(error):
        service.change_documents(**change)
    assert _corpus_files(service) == files and service.state.built.manifest.version == version
    assert not [p for p in settings.corpus_dir.iterdir() if p.name.startswith(".qa-change-")]


class BrokenEncoder(FakeEncoder):
    def encode_passages(self, texts, *, show_progress=False):
        raise RuntimeError("the model crashed")


def test_a_build_that_fails_after_the_files_moved_puts_them_back(settings, fake_encoder):
    service = QAService.start(settings, encoder=fake_encoder)
    files, version = _corpus_files(service), service.state.built.manifest.version
    service.encoder = BrokenEncoder()
    with pytest.raises(RuntimeError):
        service.change_documents(add=[Upload("ai-reply.txt", NEW_LETTER.encode())], remove=[LETTER_ID])
    assert _corpus_files(service) == files and service.state.built.manifest.version == version
    assert (settings.index_dir / "CURRENT").read_text().strip() == version


class SlowEncoder(FakeEncoder):
    def encode_passages(self, texts, *, show_progress=False):
        time.sleep(1.0)
        return super().encode_passages(texts)


def test_readers_keep_the_old_index_until_the_new_one_is_switched_in(settings):
    service = QAService.start(settings, encoder=FakeEncoder())
    old = service.state.built.manifest.version
    service.encoder = SlowEncoder()
    worker = threading.Thread(target=service.change_documents, kwargs={"add": [Upload("ai.txt", NEW_LETTER.encode())]})
    worker.start()
    seen = []
    while worker.is_alive():
        state = service.state  # what a request takes once
        hits = state.retriever.search("张江人工智能岛", 3, "hybrid").hits
        seen.append((state.built.manifest.version, {h.passage.doc_id for h in hits}))
        time.sleep(0.05)
    worker.join()
    new = service.state.built.manifest.version
    assert new != old
    # The worker may still be finishing (lock release, log) after the switch: a read then sees the
    # new index. Before the switch every read sees the old one whole; the version never goes back.
    before = [ids for v, ids in seen if v == old]
    assert len(before) >= 5 and all(ids == {LETTER_ID} for ids in before)
    assert [v for v, _ in seen] == [old] * len(before) + [new] * (len(seen) - len(before))
    assert service.search("张江人工智能岛", 1).hits[0].passage.doc_id == "ai"


# --- over HTTP -----------------------------------------------------------------------------------


def test_http_upload_replace_delete(fake_service):
    client = make_client(fake_service, admin_keys=[ADMIN])
    admin = {"X-API-Key": ADMIN}
    version = client.get("/health").json()["index_version"]
    meta = json.dumps({"title": "关于人工智能产业发展建议的答复"}, ensure_ascii=False)
    r = client.post("/documents", files={"file": ("答复.txt", NEW_LETTER.encode(), "text/plain")},
                    data={"doc_id": "ai-2021", "metadata": meta}, headers=admin)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["doc_ids"] == ["ai-2021"] and body["documents"] == 2 and body["index_version"] != version
    assert client.get("/health").json()["index_version"] == body["index_version"]
    doc = client.get("/documents/ai-2021").json()
    assert doc["title"] == "关于人工智能产业发展建议的答复" and doc["doc_number"] == "沪科函〔2021〕8号"
    hit = client.get("/search", params={"q": "张江人工智能岛", "k": 1}).json()["passages"][0]
    assert hit["citation"]["doc_id"] == "ai-2021"
    assert doc["text"][hit["citation"]["start"]:hit["citation"]["end"]] == hit["text"]

    again = client.post("/documents", files={"file": ("a.txt", NEW_LETTER.encode())}, data={"doc_id": "ai-2021"},
                        headers=admin)
    assert again.status_code == 409 and "PUT" in again.json()["message"]

    r = client.put("/documents/ai-2021", files={"file": ("v2.md", ("# 新版\n" + NEW_LETTER).encode())}, headers=admin)
    assert r.status_code == 200 and r.json()["doc_ids"] == ["ai-2021"]
    doc = client.get("/documents/ai-2021").json()
    assert doc["text"].startswith("# 新版") and doc["title"] == "关于人工智能产业发展建议的答复"  # metadata kept

    assert client.delete("/documents/ai-2021", headers=admin).json()["documents"] == 1
    assert client.get("/documents/ai-2021").status_code == 404
    assert client.delete("/documents/ai-2021", headers=admin).status_code == 404


def test_http_document_writes_need_an_admin_key(fake_service):
    upload = {"file": ("a.txt", NEW_LETTER.encode())}
    assert make_client(fake_service).post("/documents", files=upload).status_code == 403  # no admin keys configured
    client = make_client(fake_service, admin_keys=[ADMIN], api_keys=["reader-key-000000001"])
    reader = {"X-API-Key": "reader-key-000000001"}
    assert client.post("/documents", files=upload, headers=reader).status_code == 401
    assert client.delete(f"/documents/{LETTER_ID}", headers=reader).status_code == 401
    assert client.get(f"/documents/{LETTER_ID}", headers=reader).status_code == 200  # reading stays open to readers


@pytest.mark.parametrize(
    ("files", "data", "status", "field"),
    [
        ({"file": ("empty.txt", b"")}, {}, 422, "file"),
        ({"file": ("x.exe", b"MZ\x90\x00\x03\x00\x00\x00")}, {}, 422, "file"),
        ({"file": ("x.txt", b"text")}, {"metadata": "{not json"}, 422, "metadata"),
        ({"file": ("x.txt", b"text")}, {"metadata": "[1, 2]"}, 422, "metadata"),
        ({"file": ("x.txt", b"text")}, {"doc_id": "../secret"}, 422, "doc_id"),
        ({}, {}, 422, "file"),
    ],
)
def test_http_bad_uploads_get_422_and_change_nothing(fake_service, files, data, status, field):
    client = make_client(fake_service, admin_keys=[ADMIN])
    version = client.get("/health").json()["index_version"]
    r = client.post("/documents", files=files or None, data=data, headers={"X-API-Key": ADMIN})
    assert r.status_code == status, r.text
    assert field in {d["field"] for d in r.json()["details"]}
    assert client.get("/health").json()["index_version"] == version


def test_http_oversized_upload_gets_413(fake_service):
    client = make_client(fake_service, admin_keys=[ADMIN], max_upload_bytes=64 * 1024)
    r = client.post("/documents", files={"file": ("big.txt", ("字" * 40_000).encode())}, headers={"X-API-Key": ADMIN})
    assert r.status_code == 413
    # A question body keeps its own, smaller limit.
    assert client.post("/ask", json={"question": "问" * 300, "pad": "x" * 20_000}).status_code == 413


# --- filters -------------------------------------------------------------------------------------


@pytest.fixture
def two_documents(fake_service):
    fake_service.change_documents(add=[Upload("ai-reply.txt", NEW_LETTER.encode())])
    return make_client(fake_service)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_filters_restrict_retrieval_and_still_fill_k(two_documents, mode):
    client = two_documents
    unfiltered = client.get("/search", params={"q": "人工智能创新中心", "k": 3, "mode": mode}).json()["passages"]
    assert unfiltered[0]["citation"]["doc_id"] == "ai-reply"
    letter_only = client.get("/search", params={"q": "人工智能创新中心", "k": 8, "mode": mode,
                                                "doc_id": LETTER_ID}).json()["passages"]
    # Filtering inside retrieval: k passages of the letter, not "top-k, then drop the other document's".
    expected = 8 if mode != "bm25" else len(letter_only)
    assert len(letter_only) == expected >= 1 and {p["citation"]["doc_id"] for p in letter_only} == {LETTER_ID}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"date_from": "2021-01-01"}, {"ai-reply"}),
        ({"date_to": "2019-12-31"}, {LETTER_ID}),
        ({"date_from": "2019-06-03", "date_to": "2019-06-03"}, {LETTER_ID}),
        ({"issuer": "科学技术委员会"}, {"ai-reply"}),
        ({"doc_number": "沪经信建 〔2019〕15号"}, {LETTER_ID}),
        ({"date_from": "2030-01-01"}, set()),
    ],
)
def test_search_filters_by_metadata(two_documents, params, expected):
    r = two_documents.get("/search", params={"q": "建设", "k": 10, **params})
    assert r.status_code == 200
    assert {p["citation"]["doc_id"] for p in r.json()["passages"]} == expected


def test_ask_with_filters_and_bad_filters(two_documents):
    client = two_documents
    r = client.post("/ask", json={"question": "5G覆盖哪些区域", "filters": {"doc_ids": ["ai-reply"]}})
    assert r.status_code == 200 and {p["citation"]["doc_id"] for p in r.json()["passages"]} <= {"ai-reply"}
    r = client.post("/ask", json={"question": "5G覆盖哪些区域", "filters": {"doc_ids": [LETTER_ID]}})
    assert "虹桥商务区" in r.json()["passages"][0]["text"]
    bad = client.post("/ask", json={"question": "5G", "filters": {"date_from": "2020-01-01", "date_to": "2019-01-01"}})
    assert bad.status_code == 422 and "date_from" in bad.json()["message"]
    bad = client.post("/ask", json={"question": "5G", "filters": {"date_from": "2019-13-01"}})
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "filters.date_from"
    bad = client.post("/ask", json={"question": "5G", "filters": {"colour": "red"}})
    assert bad.status_code == 422
    bad = client.get("/search", params={"q": "5G", "date_from": "yesterday"})
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "date_from"


# --- command line (real model) -------------------------------------------------------------------


@pytest.mark.slow
def test_cli_add_list_ask_with_filter_remove(tmp_path, corpus_dir):
    env = {**os.environ, "QA_CORPUS_DIR": str(corpus_dir), "QA_INDEX_DIR": str(tmp_path / "index")}

    def qa(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "qa.cli", *args], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=600)

    source = tmp_path / "incoming"
    source.mkdir()
    (source / "ai-reply.txt").write_text(NEW_LETTER, "utf-8")
    added = qa("add", str(source))
    assert added.returncode == 0, added.stderr
    assert "2 documents" in added.stdout and (corpus_dir / "ai-reply.txt").is_file()
    listed = [json.loads(line) for line in qa("list", "--json").stdout.splitlines()]
    assert {row["doc_id"]: row["date"] for row in listed} == {LETTER_ID: "2019-06-03", "ai-reply": "2021-04-09"}
    answer = json.loads(qa("ask", "人工智能创新中心有几家", "--json", "--from", "2021-01-01").stdout)
    assert {p["citation"]["doc_id"] for p in answer["passages"]} == {"ai-reply"}
    assert qa("add", str(source / "ai-reply.txt")).returncode == 1  # exists: refused without --replace
    assert qa("add", "--replace", str(source / "ai-reply.txt")).returncode == 0
    removed = qa("remove", "ai-reply")
    assert removed.returncode == 0 and "1 documents" in removed.stdout and not (corpus_dir / "ai-reply.txt").exists()
    assert qa("remove", "ai-reply").returncode == 1
