"""The optional LLM answer against a scripted OpenAI-compatible server on 127.0.0.1 (real HTTP and SSE).

Each scripted reply gives its specified outcome: a faithful answer is kept, an uncited sentence or
one citing the wrong passage is dropped and listed, and a timeout, a 500 or malformed JSON falls back
to the extractive answer with a reason. The request itself never fails.
"""

from __future__ import annotations

import json

import pytest

from qa.config import Settings
from qa.evaluation.scripted_llm import Script, ScriptedLLM
from qa.generation import split_sentences
from qa.service import QAService
from tests.conftest import make_client

QUESTION = "5G覆盖哪些区域"
FAITHFUL = "本市已建成5G百站规模试验网，覆盖虹桥商务区、虹口北外滩、徐汇滨江等区域[1]。"


@pytest.fixture(scope="module")
def llm():
    with ScriptedLLM() as server:
        yield server


def _client(real_service, llm, **overrides):
    settings = real_service.settings.updated(**{"llm_base_url": llm.base_url, "llm_model": "scripted",
                                                "llm_retries": 0, "llm_timeout": 1.0, **overrides})
    return make_client(QAService(settings, real_service.encoder, real_service.state.built))


@pytest.fixture
def client(real_service, llm):
    llm.queue()
    return _client(real_service, llm)


def _ask(client, llm, reply: str | Script, question: str = QUESTION) -> dict:
    llm.script = reply if isinstance(reply, Script) else Script(reply=reply)
    response = client.post("/ask", json={"question": question})
    assert response.status_code == 200
    return response.json()


def _statuses(body: dict) -> list[str]:
    return [c["status"] for c in body["verification"]]


def test_a_faithful_answer_is_kept_with_its_citation(client, llm):
    body = _ask(client, llm, FAITHFUL)
    assert (body["generator"], body["answer"], _statuses(body)) == ("llm", FAITHFUL, ["supported"])
    top = body["passages"][0]
    assert [(c["marker"], c["passage_id"]) for c in body["answer_citations"]] == [(1, top["id"])]
    # The citation is the passage's sentence that supports the generated one, by document offsets.
    cited = body["answer_citations"][0]
    text = client.get(f"/documents/{cited['doc_id']}").json()["text"]
    assert text[cited["start"]:cited["end"]] == cited["text"]
    assert "虹桥商务区" in cited["text"] and len(cited["text"]) < len(top["text"])
    prompt = llm.requests[-1]["messages"][-1]["content"]
    assert "[1]" in prompt and top["text"] in prompt and QUESTION in prompt


def test_an_answer_in_the_other_script_is_verified_as_in_the_corpus_script(client, llm):
    import opencc

    simplified = _ask(client, llm, FAITHFUL)["verification"][0]
    traditional = _ask(client, llm, opencc.OpenCC("s2t").convert(FAITHFUL))["verification"][0]
    assert traditional["status"] == "supported"
    assert traditional["similarity"] == pytest.approx(simplified["similarity"], abs=1e-6)


def test_an_uncited_sentence_is_dropped_and_listed(client, llm):
    body = _ask(client, llm, FAITHFUL + "这些区域是全国首批5G覆盖区域。")
    assert body["generator"] == "llm" and body["answer"] == FAITHFUL
    assert _statuses(body) == ["supported", "uncited"]


def test_a_sentence_citing_the_wrong_passage_is_dropped(client, llm):
    passages = client.get("/search", params={"q": QUESTION}).json()["passages"]
    assert "虹桥商务区" not in passages[1]["text"]
    body = _ask(client, llm, FAITHFUL + "5G试验网覆盖虹桥商务区、虹口北外滩、徐汇滨江[2]。")
    assert body["answer"] == FAITHFUL and _statuses(body) == ["supported", "unsupported"]


def test_a_wrong_figure_is_unsupported_even_with_the_right_citation(client, llm):
    body = _ask(client, llm, FAITHFUL + "本市已经建成5G千站规模试验网，共建成1000个基站[1]。")
    assert _statuses(body) == ["supported", "unsupported"]
    assert "1000" in body["verification"][1]["note"]


def test_a_citation_to_no_passage_is_listed(client, llm):
    body = _ask(client, llm, FAITHFUL + "详见附件[9]。")
    assert _statuses(body) == ["supported", "bad_citation"]


def test_nothing_verified_falls_back_to_the_extractive_answer(client, llm, real_service):
    extractive = real_service.ask(QUESTION, 5).answer
    body = _ask(client, llm, "上海的GDP超过3万亿元。")
    assert body["generator"] == "extractive" and body["answer"] == extractive.text
    assert "核对" in body["generator_note"] and _statuses(body) == ["uncited"]


@pytest.mark.parametrize(("script", "reason"), [
    (Script(hang=3), "超时"),
    (Script(status=500), "HTTP 500"),
    (Script(malformed=True), "无法解析"),
    (Script(reply=""), "空答案"),
])
def test_a_failing_llm_falls_back_to_the_extractive_answer(client, llm, real_service, script, reason):
    body = _ask(client, llm, script)
    assert body["generator"] == "extractive" and body["answerable"]
    assert body["answer"] == real_service.ask(QUESTION, 5).answer.text
    assert reason in body["generator_note"]


def test_retries_with_backoff_recover_from_one_500(real_service, llm):
    client = _client(real_service, llm, llm_retries=1)
    llm.queue(Script(status=500), Script(reply=FAITHFUL))
    calls = llm.calls
    body = client.post("/ask", json={"question": QUESTION}).json()
    assert body["generator"] == "llm" and llm.calls == calls + 2


def test_the_circuit_opens_after_repeated_failures_and_stops_calling(real_service, llm):
    client = _client(real_service, llm, llm_breaker_failures=2, llm_breaker_reset=60)
    llm.script = Script(status=500)
    for _ in range(2):
        assert client.post("/ask", json={"question": QUESTION}).json()["generator"] == "extractive"
    calls = llm.calls
    body = client.post("/ask", json={"question": QUESTION}).json()
    assert llm.calls == calls, "an open circuit must not call the LLM"
    assert client.get("/health").json()["llm"] == "open"
    assert body["generator"] == "extractive" and "暂时不可用" in body["generator_note"]


def test_a_declined_question_never_reaches_the_llm(client, llm):
    calls = llm.calls
    body = _ask(client, llm, FAITHFUL, question="上海出租车的起步价是多少")
    assert not body["answerable"] and body["generator"] == "extractive" and llm.calls == calls


def _events(response) -> list[tuple[str, dict]]:
    events = []
    for block in response.text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_the_stream_sends_passages_then_tokens_then_the_verified_answer(client, llm):
    llm.script = Script(reply=FAITHFUL + "这些区域是全国首批5G覆盖区域。", chunks=5)
    events = _events(client.post("/ask/stream", json={"question": QUESTION}))
    names = [name for name, _ in events]
    assert names == ["passages", *["token"] * 5, "answer"]
    assert events[0][1]["passages"][0]["citation"]["doc_id"] == "sheitc-2019-15"
    assert "".join(data["text"] for name, data in events if name == "token").endswith("首批5G覆盖区域。")
    answer = events[-1][1]
    assert answer["answer"] == FAITHFUL and _statuses(answer) == ["supported", "uncited"]
    assert 0 < answer["timings"]["first_token"] <= answer["took_ms"]


def test_the_extractive_stream_is_passages_then_one_answer(real_service):
    client = make_client(real_service)
    events = _events(client.post("/ask/stream", json={"question": QUESTION}))
    assert [name for name, _ in events] == ["passages", "answer"]
    assert events[1][1] == {**client.post("/ask", json={"question": QUESTION}).json(),
                            "took_ms": events[1][1]["took_ms"], "timings": events[1][1]["timings"]}


def test_a_bad_stream_request_is_a_plain_422(real_service):
    response = make_client(real_service).post("/ask/stream", json={"question": ""})
    assert response.status_code == 422 and response.json()["details"][0]["field"] == "question"


def test_llm_settings_go_together():
    with pytest.raises(ValueError, match="QA_LLM_MODEL"):
        Settings(llm_base_url="http://127.0.0.1:1/v1")


@pytest.mark.parametrize(("text", "expected"), [
    ("甲[1]。乙[2][3]。", [("甲[1]。", [1]), ("乙[2][3]。", [2, 3])]),
    ("甲。[1]乙[1,2]", [("甲。[1]", [1]), ("乙[1,2]", [1, 2])]),
    ("甲【1】；乙", [("甲【1】；", [1]), ("乙", [])]),
    ("甲。\n[2]", [("甲。[2]", [2])]),
])
def test_sentences_and_their_markers(text, expected):
    assert split_sentences(text) == expected


def test_a_stream_waiting_on_the_llm_does_not_hold_a_slot(real_service, llm):
    """With one slot and no queue, /search still answers while a stream waits on a slow LLM."""
    import threading

    import httpx

    from qa.api import create_app
    from tests.conftest import serving

    settings = real_service.settings.updated(llm_base_url=llm.base_url, llm_model="scripted", max_concurrent=1,
                                             max_queue=0, queue_timeout=0.1)
    app = create_app(service=QAService(settings, real_service.encoder, real_service.state.built))
    llm.script = Script(reply=FAITHFUL, chunks=5, chunk_delay=0.4)
    with serving(app) as base:
        events: list[str] = []

        def read_stream() -> None:
            with httpx.stream("POST", f"{base}/ask/stream", json={"question": QUESTION}, timeout=30) as response:
                events.extend(line for line in response.iter_lines() if line.startswith("event: "))

        calls = llm.calls
        reader = threading.Thread(target=read_stream)
        reader.start()
        while llm.calls == calls and reader.is_alive():  # the stream has its passages and waits on the LLM
            threading.Event().wait(0.02)
        search = httpx.get(f"{base}/search", params={"q": QUESTION}, timeout=30)
        still_streaming = reader.is_alive()
        reader.join(timeout=30)
    assert search.status_code == 200 and still_streaming
    assert events[0] == "event: passages" and events[-1] == "event: answer"


def _finishes(fn, seconds: float = 10.0) -> bool:
    """Whether `fn` returns: a regex that backtracks exponentially never does on these inputs."""
    import threading

    done = threading.Event()
    threading.Thread(target=lambda: (fn(), done.set()), daemon=True).start()
    return done.wait(seconds)


def test_an_unclosed_or_huge_marker_neither_hangs_nor_fails(client, llm):
    assert _finishes(lambda: split_sentences("甲[" + "1" * 40 + "。乙[1]。"))
    body = _ask(client, llm, FAITHFUL + "乙[" + "9" * 5000 + "]。")
    assert body["generator"] == "llm" and body["answer"] == FAITHFUL


def test_a_crafted_history_question_does_not_hang_resolution(real_service):
    from qa.conversation import Turn, resolve

    assert _finishes(lambda: resolve("它是哪年建的？", [Turn("总共" * 250 + "甲是什么")], real_service.state.terms))


def test_generations_in_flight_are_bounded(real_service, llm):
    """Beyond llm_concurrency a question gets the extractive answer at once, saying why."""
    import threading

    client = _client(real_service, llm, llm_concurrency=1)
    llm.script = Script(reply=FAITHFUL, chunks=4, chunk_delay=1.0)
    calls = llm.calls
    slow = threading.Thread(target=lambda: client.post("/ask", json={"question": QUESTION}))
    slow.start()
    while llm.calls == calls and slow.is_alive():
        threading.Event().wait(0.02)
    body = client.post("/ask", json={"question": QUESTION}).json()
    slow.join()
    assert body["generator"] == "extractive" and "上限" in body["generator_note"]


def test_a_client_leaving_a_stream_ends_its_generation(real_service, llm):
    """Closing the connection mid-stream frees the generation slot: the next question gets an LLM answer."""
    import time

    import httpx

    from qa.api import create_app
    from tests.conftest import serving

    settings = real_service.settings.updated(llm_base_url=llm.base_url, llm_model="scripted", llm_concurrency=1)
    app = create_app(service=QAService(settings, real_service.encoder, real_service.state.built))
    with serving(app) as base:
        llm.script = Script(reply=FAITHFUL * 20, chunks=200, chunk_delay=0.2)  # 40 s if read to the end
        with httpx.stream("POST", f"{base}/ask/stream", json={"question": QUESTION}, timeout=30) as response:
            assert any(line == "event: token" for line in response.iter_lines())
        llm.script = Script(reply=FAITHFUL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            body = httpx.post(f"{base}/ask", json={"question": QUESTION}, timeout=30).json()
            if body["generator"] == "llm":
                break
            time.sleep(0.2)
    assert body["generator"] == "llm", body["generator_note"]


def test_a_failure_after_the_passages_is_an_error_event(real_service, monkeypatch):
    service = QAService(real_service.settings, real_service.encoder, real_service.state.built)

    def broken(retrieved):
        raise RuntimeError("boom")
        yield  # a generator, like the real one

    monkeypatch.setattr(service, "answer_stream", broken)
    events = _events(make_client(service).post("/ask/stream", json={"question": QUESTION}))
    assert [name for name, _ in events] == ["passages", "error"]
    assert events[1][1]["error"] == "internal_error" and "boom" not in json.dumps(events[1][1])


def test_the_circuit_breaker_half_opens_for_one_trial_call():
    from qa.generation.breaker import CircuitBreaker

    now = [0.0]
    breaker = CircuitBreaker(failures=2, reset=30, clock=lambda: now[0])
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 31
    assert breaker.state == "half-open" and breaker.allow() and not breaker.allow()  # one trial at a time
    breaker.abandon()  # its client left: no verdict, another trial may go
    assert breaker.allow()
    breaker.failure()  # a failed trial reopens at once
    assert breaker.state == "open"
    now[0] = 62
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()
