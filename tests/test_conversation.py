"""Follow-up questions: rewriting rules (library) and `history` in /ask (HTTP, real model on the letter)."""

from __future__ import annotations

import pytest

from qa.conversation import Turn, resolve, strength
from qa.text import Terms
from tests.conftest import make_client


@pytest.fixture(scope="module")
def terms() -> Terms:
    return Terms()


@pytest.mark.parametrize(("first", "follow_up", "resolved", "rule"), [
    ("5G覆盖哪些区域", "那4G呢？", "4G覆盖哪些区域", "substitute"),
    ("上海市2019年的GDP是多少", "那2018年呢", "上海市2018年的GDP是多少", "substitute"),
    ("徐汇区有什么项目", "那虹口区呢", "虹口区有什么项目", "substitute"),
    ("4G用户占全市移动电话的比例是多少", "那光纤用户呢", "光纤用户占全市移动电话的比例是多少", "swap-modifier"),
    ("《战国无双3》是由哪两个公司合作开发的？", "它是哪年发行的？", "《战国无双3》是哪年发行的？", "pronoun"),
    ("5G覆盖哪些区域", "还有呢？", "5G覆盖哪些区域", "repeat"),
])
def test_follow_ups_are_rewritten_from_the_previous_question(terms, first, follow_up, resolved, rule):
    r = resolve(follow_up, [Turn(first, ("p1",))], terms)
    assert (r.question, r.rule, r.strength) == (resolved, rule, "strong")
    assert r.prior == ("p1",)


@pytest.mark.parametrize("question", ["4G用户占全市移动电话的比例是多少", "智慧城市顶层设计有什么安排",
                                      "沪经信建〔2019〕15号是答复哪位代表的"])
def test_questions_that_stand_alone_are_left_alone(terms, question):
    r = resolve(question, [Turn("5G覆盖哪些区域", ("p1",))], terms)
    assert (r.question, r.strength, r.rule, r.prior) == (question, "none", "", ())


def test_a_demonstrative_is_weak_evidence_and_only_rewritten_when_asked(terms):
    history = [Turn("5G覆盖哪些区域")]
    assert strength("这封信是写给谁的", terms) == "weak"
    assert resolve("这封信是写给谁的", history, terms).question == "这封信是写给谁的"
    assert resolve("这封信是写给谁的", history, terms, weak=True).rewritten


def test_a_short_question_is_weak_evidence_rewritten_with_the_previous_topic(terms):
    history = [Turn("智慧城市顶层设计有什么安排", ("p1",))]
    assert resolve("由谁负责？", history, terms).question == "由谁负责？"
    r = resolve("由谁负责？", history, terms, weak=True)
    assert (r.question, r.rule, r.strength, r.prior) == ("智慧城市顶层设计由谁负责？", "prepend-topic", "weak", ("p1",))


def test_a_chain_of_follow_ups_keeps_its_topic(terms):
    history = [Turn("5G覆盖哪些区域"), Turn("那4G呢？")]
    assert resolve("它的用户有多少？", history, terms).question.startswith("4G")


def test_no_history_means_no_rewrite(terms):
    assert resolve("那4G呢？", [], terms).question == "那4G呢？"


@pytest.fixture(scope="module")
def client(real_service):
    return make_client(real_service)


def _cited(body: dict) -> list[str]:
    return [c["passage_id"] for c in body["answer_citations"]]


def test_a_follow_up_over_http_uses_the_conversation(client):
    first = client.post("/ask", json={"question": "5G覆盖哪些区域"}).json()
    assert first["resolved_question"] == "5G覆盖哪些区域"
    body = client.post("/ask", json={"question": "那4G呢？", "history": [
        {"question": "5G覆盖哪些区域", "passage_ids": _cited(first)}]}).json()
    assert body["resolved_question"] == "4G覆盖哪些区域"
    assert "4G网络已基本全市覆盖" in body["passages"][0]["text"]
    assert body["answerable"] and "4G" in body["answer"]


def test_a_question_that_stands_alone_answers_the_same_with_any_history(client):
    alone = client.post("/ask", json={"question": "4G用户占全市移动电话的比例是多少"}).json()
    after = client.post("/ask", json={"question": "4G用户占全市移动电话的比例是多少", "history": [
        {"question": "智慧城市顶层设计有什么安排", "passage_ids": ["sheitc-2019-15-p1-1", "no-such-passage"]}]}).json()
    assert after["resolved_question"] == alone["question"]
    assert [p["id"] for p in after["passages"]] == [p["id"] for p in alone["passages"]]
    assert after["answer"] == alone["answer"]


@pytest.mark.parametrize(("history", "field"), [
    ([{"question": "5G覆盖哪些区域"}] * 11, "history"),
    ([{"question": "   "}], "history.0.question"),
    ([{"question": "5G覆盖哪些区域", "passage_ids": ["x"] * 21}], "history.0.passage_ids"),
    ([{"question": "5G覆盖哪些区域", "answer": "..."}], "history.0.answer"),
    ("5G覆盖哪些区域", "history"),
])
def test_a_bad_history_is_a_422_naming_the_field(client, history, field):
    response = client.post("/ask", json={"question": "那4G呢？", "history": history})
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json()["details"]]


def test_a_turn_carries_the_services_own_rewrite_forward(terms):
    history = [Turn("智慧城市顶层设计有什么安排"), Turn("由谁负责？", (), "智慧城市顶层设计由谁负责？")]
    assert resolve("它什么时候完成？", history, terms).question.startswith("智慧城市顶层设计")


def test_resolved_question_in_a_turn_is_validated(client):
    response = client.post("/ask", json={"question": "那4G呢？", "history": [
        {"question": "5G覆盖哪些区域", "resolved_question": "x" * 600}]})
    assert response.status_code == 422
    assert "history.0.resolved_question" in [d["field"] for d in response.json()["details"]]
