"""API keys, admin routes, rate limits, CORS, hostile input and error hygiene."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import ValidationError

from qa.config import Settings
from tests.conftest import make_client

KEY = "k" * 20
ADMIN = "a" * 24


def test_keys_guard_everything_but_health_and_widget(fake_service):
    client = make_client(fake_service, api_keys=[KEY], admin_keys=[ADMIN])
    r = client.post("/ask", json={"question": "5G覆盖哪些区域"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert client.post("/ask", json={"question": "5G"}, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert client.get("/search", params={"q": "5G"}, headers={"X-API-Key": KEY}).status_code == 200
    assert client.get("/search", params={"q": "5G"}, headers={"X-API-Key": KEY + "x"}).status_code == 401
    for path in ("/health", "/", "/widget.js", "/embed-example.html"):
        assert client.get(path).status_code == 200, path
    for path in ("/documents", "/ready", "/openapi.json", "/docs", "/suggestions"):
        assert client.get(path).status_code == 401, path


def test_admin_reindex_needs_an_admin_key(fake_service, settings):
    no_admin = make_client(fake_service)
    assert no_admin.post("/admin/reindex").status_code == 403
    client = make_client(fake_service, api_keys=[KEY], admin_keys=[ADMIN])
    assert client.post("/admin/reindex", headers={"X-API-Key": KEY}).status_code == 401
    before = client.get("/health").json()["index_version"]
    path = settings.corpus_dir / "extra.txt"
    path.write_text("新增文件的正文：城市大脑建设取得进展。", "utf-8")
    (settings.corpus_dir / "extra.meta.json").write_text(json.dumps({"title": "新增"}), "utf-8")
    r = client.post("/admin/reindex", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 200 and r.json()["documents"] == 2
    after = client.get("/health").json()
    assert after["index_version"] != before and after["documents"] == 2


def test_reindex_with_a_bad_corpus_file_keeps_serving(fake_service, settings):
    client = make_client(fake_service, admin_keys=[ADMIN])
    version = client.get("/health").json()["index_version"]
    (settings.corpus_dir / "broken.txt").write_bytes("坏".encode("gbk"))
    (settings.corpus_dir / "broken.meta.json").write_text(json.dumps({"title": "坏"}), "utf-8")
    r = client.post("/admin/reindex", headers={"X-API-Key": ADMIN})
    assert r.status_code == 409 and "broken.txt" in r.json()["message"]
    assert client.get("/health").json()["index_version"] == version
    assert client.get("/search", params={"q": "5G"}).status_code == 200


def test_rate_limit_gives_429_with_retry_after(fake_service):
    client = make_client(fake_service, rate_limit="3/minute", api_keys=[KEY, "m" * 20])
    ok = [client.get("/search", params={"q": "5G"}, headers={"X-API-Key": KEY}).status_code for _ in range(3)]
    assert ok == [200, 200, 200]
    r = client.get("/search", params={"q": "5G"}, headers={"X-API-Key": KEY})
    assert r.status_code == 429 and r.json()["error"] == "rate_limited"
    assert 0 < int(r.headers["retry-after"]) <= 60
    # Another client has its own budget; health is never limited.
    assert client.get("/search", params={"q": "5G"}, headers={"X-API-Key": "m" * 20}).status_code == 200
    assert all(client.get("/health").status_code == 200 for _ in range(5))


def test_cors_allowlist(fake_service):
    client = make_client(fake_service, cors_origins=["https://portal.example.gov.cn"])
    good = client.get("/health", headers={"Origin": "https://portal.example.gov.cn"})
    assert good.headers["access-control-allow-origin"] == "https://portal.example.gov.cn"
    bad = client.get("/health", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in bad.headers
    preflight = client.options("/ask", headers={"Origin": "https://portal.example.gov.cn",
                                                "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cors_origins": ["*"], "api_keys": [KEY]}, "wildcard"),
        ({"api_keys": ["short"]}, "16 characters"),
        ({"rate_limit": "lots"}, "QA_RATE_LIMIT"),
        ({"chunk_max_chars": 5}, "chunk_max_chars"),
    ],
)
def test_unsafe_or_invalid_settings_fail_at_start(overrides, message):
    with pytest.raises(ValidationError, match=message.replace("wildcard", r"'\*'")):
        Settings(**overrides)


@pytest.mark.parametrize(
    "question", ["？！。，、", "😀🎉👍", "的了吗呢", "\u200b\u200b", "a" * 512, "<script>alert(1)</script>"]
)
def test_odd_but_valid_questions_get_a_valid_response(fake_service, question):
    client = make_client(fake_service)
    r = client.post("/ask", json={"question": question})
    assert r.status_code == 200, r.text
    assert set(r.json()) >= {"answer", "answerable", "passages"}


def test_invalid_utf8_and_control_characters_are_422(fake_service):
    client = make_client(fake_service)
    r = client.post("/ask", content=b'{"question": "\xff\xfe\xfd"}', headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/ask", json={"question": "问\x07题"})
    assert r.status_code == 422 and r.json()["details"][0]["field"] == "question"
    r = client.post("/ask", content="question=x", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422


def test_internal_errors_leak_no_trace_or_path(fake_service, monkeypatch):
    client = make_client(fake_service)

    def boom(*args, **kwargs):
        raise RuntimeError("secret detail at /work/main/qa/retriever.py line 99")

    monkeypatch.setattr(fake_service.state.retriever, "search", boom)
    r = client.get("/search", params={"q": "5G"})
    assert r.status_code == 500
    body = r.text
    assert "Traceback" not in body and "/work" not in body and "secret" not in body
    assert r.json()["request_id"] == r.headers["x-request-id"]


def test_access_log_is_json_without_question_text(fake_service, caplog):
    client = make_client(fake_service)
    with caplog.at_level(logging.INFO, logger="qa.access"):
        client.post("/ask", json={"question": "机密问题内容"}, headers={"X-Request-ID": "req-42"})
    records = [json.loads(r.getMessage()) for r in caplog.records if r.name == "qa.access"]
    assert records and records[-1]["request_id"] == "req-42" and records[-1]["status"] == 200
    assert "latency_ms" in records[-1]
    assert "机密问题内容" not in caplog.text
