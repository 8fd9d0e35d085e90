"""Several processes on one index: each follows `index/CURRENT` (`QAService.follow`), and
`qa serve --workers 2` answers every request, during a document upload, from one whole version."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from qa import indexer
from qa import service as service_module
from qa.collection import Upload
from qa.evaluation.server import server_process
from qa.service import QAService
from tests.conftest import LETTER_ID, make_client

ADMIN = "admin-key-for-tests-0001"
PHRASE = "量子通信示范网"  # only in the new document
NEW_DOC = (
    "沪科函〔2022〕3号\n赵六代表：\n您提出的关于建设量子通信示范网的建议收悉。现答复如下：\n"
    "本市已建成量子通信示范网一期，连接十二个政务节点，下一步将扩展到金融机构。\n"
    "上海市科学技术委员会\n2022年3月1日\n"
)


def _version(service: QAService) -> str:
    return service.state.built.manifest.version


def test_follow_loads_what_another_process_published_and_only_that(settings, fake_encoder, monkeypatch):
    writer = QAService.start(settings, encoder=fake_encoder)
    reader = QAService.attach(settings, encoder=fake_encoder)  # a second worker: loads, does not rebuild
    assert _version(reader) == _version(writer) and reader.follow() is False
    terms = reader.state.terms
    loads = []
    load = service_module.load_published
    monkeypatch.setattr(service_module, "load_published", lambda s: loads.append(1) or load(s))

    writer.change_documents(add=[Upload("quantum.txt", NEW_DOC.encode())])
    assert writer.follow() is False and loads == []  # the process that published it already serves it
    assert reader.follow() is True and len(loads) == 1
    assert _version(reader) == _version(writer)
    assert reader.state.terms is terms  # same dictionaries: the loaded analyser is kept
    assert PHRASE in reader.search(PHRASE, 1, "bm25").hits[0].passage.text
    assert reader.follow() is False and len(loads) == 1


def test_changed_dictionaries_get_a_new_analyser(settings, fake_encoder):
    writer = QAService.start(settings, encoder=fake_encoder)
    reader = QAService.attach(settings, encoder=fake_encoder)
    before = reader.state.terms
    old_fingerprint = reader.state.built.manifest.settings["terms"]
    user_dict = settings.corpus_dir / "domain.dict"  # edited: the loaded analyser's files now read differently
    user_dict.write_text(user_dict.read_text("utf-8") + "量子通信示范网 50 n\n", "utf-8")
    writer.reindex()
    assert reader.follow() is True
    assert reader.state.terms is not before
    assert reader.state.built.manifest.settings["terms"] != old_fingerprint
    assert "量子通信示范网" in reader.state.terms(NEW_DOC)


def test_a_version_that_fails_to_load_is_logged_once_and_the_old_one_keeps_serving(settings, fake_encoder, caplog):
    writer = QAService.start(settings, encoder=fake_encoder)
    reader = QAService.attach(settings, encoder=fake_encoder)
    old = _version(reader)
    letter = settings.corpus_dir / f"{LETTER_ID}.txt"
    letter.write_text(letter.read_text("utf-8") + "\n补充：城市大脑。\n", "utf-8")
    broken = writer.reindex().manifest.version
    (settings.index_dir / broken / "passages.jsonl").write_text('{"broken": ', "utf-8")
    assert reader.follow() is False and _version(reader) == old
    assert reader.follow() is False  # not retried every tick
    assert sum("cannot load index" in r.message and broken in r.message for r in caplog.records) == 1
    assert reader.search("城市大脑", 1).hits  # still serving
    fixed = writer.reindex().manifest.version
    assert reader.follow() is True and _version(reader) == fixed


def test_an_index_served_from_memory_does_not_follow_back_to_the_stale_one(settings, fake_encoder):
    QAService.start(settings, encoder=fake_encoder)  # publishes a version
    letter = settings.corpus_dir / f"{LETTER_ID}.txt"
    letter.write_text(letter.read_text("utf-8") + "\n补充：城市大脑。\n", "utf-8")
    terms = indexer.make_terms(settings)
    from qa.corpus import load_corpus

    unsaved = indexer.build_index(settings, fake_encoder, load_corpus(settings.corpus_dir), terms)  # never published
    in_memory = QAService(settings, fake_encoder, unsaved, terms)
    assert in_memory.follow() is False and _version(in_memory) == unsaved.manifest.version


def test_a_running_app_follows_within_a_second(settings, fake_encoder):
    writer = QAService.start(settings, encoder=fake_encoder)
    reader = QAService.attach(settings, encoder=fake_encoder)
    with make_client(reader) as client:  # `with`: runs the lifespan and its follower task
        writer.change_documents(add=[Upload("quantum.txt", NEW_DOC.encode())])
        deadline = time.time() + 5
        while client.get("/health").json()["index_version"] != _version(writer) and time.time() < deadline:
            time.sleep(0.1)
        assert client.get("/health").json()["index_version"] == _version(writer)


@pytest.mark.slow
def test_two_workers_follow_a_document_upload_without_failing_or_mixing(settings, tmp_path):
    env = {
        "QA_CORPUS_DIR": str(settings.corpus_dir),
        "QA_INDEX_DIR": str(settings.index_dir),
        "QA_ADMIN_KEYS": f'["{ADMIN}"]',
        "QA_LOG_LEVEL": "INFO",
        "HF_HUB_OFFLINE": "1",
    }
    # Both workers up: uvicorn starts them together, but the first can answer /health first.
    with server_process(["qa.cli", "serve", "--workers", "2"], env, timeout_s=240, workers=2) as (base, _, log):
        old = _versions_seen(base, 1).pop()
        statuses, versions, stop = [], [], threading.Event()

        def hammer() -> None:
            with httpx.Client(base_url=base, timeout=30) as client:
                for i in range(2000):  # bounded; normally stopped long before
                    if stop.is_set():
                        return
                    r = client.get("/search", params={"q": ["5G覆盖哪些区域", "4G用户比例"][i % 2], "k": 3})
                    statuses.append(r.status_code)
                    if r.status_code == 200:
                        versions.append(r.json()["index_version"])

        clients = [threading.Thread(target=hammer) for _ in range(2)]
        for t in clients:
            t.start()
        time.sleep(1.0)
        r = httpx.post(
            f"{base}/documents",
            files={"file": ("quantum.txt", NEW_DOC.encode(), "text/plain")},
            headers={"X-API-Key": ADMIN},
            timeout=120,
        )
        assert r.status_code == 201, r.text
        new = r.json()["index_version"]
        deadline = time.time() + 10
        while _versions_seen(base, 40) != {new} and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)
        stop.set()
        for t in clients:
            t.join(timeout=60)

        assert statuses and set(statuses) == {200}
        assert set(versions) <= {old, new} and old in versions and new in versions
        assert _versions_seen(base, 40) == {new}  # 40 fresh connections, whichever worker takes each
        for _ in range(10):
            top = httpx.get(f"{base}/search", params={"q": PHRASE, "k": 1, "mode": "bm25"}).json()["passages"]
            assert PHRASE in top[0]["text"]
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
        # The other worker loaded the new version exactly once; the uploading one did not reload it.
        assert text.count(f"now serves index {new}") == 1, text[-3000:]


def _versions_seen(base: str, n: int) -> set[str]:
    """`index_version` from `n` /health calls, each on a new connection (so the workers share them)."""
    return {httpx.get(f"{base}/health", timeout=10).json()["index_version"] for _ in range(n)}

