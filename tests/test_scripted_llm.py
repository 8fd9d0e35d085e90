"""The scripted OpenAI-compatible server, driven by the real `openai` client over real HTTP.

These pin the wire format and the exception each script provokes in the client, which is what the
service's LLM client tests and the benchmark rely on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from qa.evaluation.scripted_llm import Script, ScriptedLLM, split_reply

openai = pytest.importorskip("openai")

MESSAGES = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "你好吗?"}]


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def client(llm: ScriptedLLM, *, max_retries: int = 0, timeout: float = 5.0):
    return openai.OpenAI(base_url=llm.base_url, api_key="test", timeout=timeout, max_retries=max_retries)


def test_non_streaming_reply_round_trips(llm: ScriptedLLM) -> None:
    llm.script = Script(reply="上海市 2019 年第 15 号文件。")
    response = client(llm).chat.completions.create(model="m-1", messages=MESSAGES)
    assert response.object == "chat.completion"
    assert response.model == "m-1"
    assert response.choices[0].message.role == "assistant"
    assert response.choices[0].message.content == "上海市 2019 年第 15 号文件。"
    assert response.choices[0].finish_reason == "stop"
    assert response.usage is not None and response.usage.total_tokens > 0


@pytest.mark.parametrize("chunks", [1, 3, 7])
def test_streaming_reply_reassembles_in_requested_chunks(llm: ScriptedLLM, chunks: int) -> None:
    llm.script = Script(reply="The answer is forty-two.", chunks=chunks)
    events = list(client(llm).chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert all(e.object == "chat.completion.chunk" for e in events)
    assert events[0].choices[0].delta.role == "assistant"
    assert events[-1].choices[0].finish_reason == "stop" and events[-1].choices[0].delta.content is None
    content = [e.choices[0].delta.content for e in events[1:-1]]
    assert len(content) == chunks
    assert "".join(c or "" for c in content) == "The answer is forty-two."


def test_streaming_defaults_to_one_chunk_per_four_characters(llm: ScriptedLLM) -> None:
    llm.script = Script(reply="abcdefghij")  # 10 characters: 3 pieces
    events = list(client(llm).chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert len(events) == 3 + 2
    assert split_reply("abcdefghij", None) == ["abc", "def", "ghij"]
    assert split_reply("ab", 4) == ["", "a", "", "b"]


def test_status_500_raises_internal_server_error(llm: ScriptedLLM) -> None:
    llm.script = Script(status=500)
    with pytest.raises(openai.InternalServerError) as info:
        client(llm).chat.completions.create(model="m", messages=MESSAGES)
    assert info.value.status_code == 500
    assert info.value.body["type"] == "server_error"
    assert llm.calls == 1


def test_queued_failure_then_success_is_retried(llm: ScriptedLLM) -> None:
    llm.script = Script(reply="fallback")
    llm.queue(Script(status=500), Script(reply="ok"))
    response = client(llm, max_retries=1).chat.completions.create(model="m", messages=MESSAGES)
    assert response.choices[0].message.content == "ok"
    assert llm.calls == 2
    again = client(llm).chat.completions.create(model="m", messages=MESSAGES)
    assert again.choices[0].message.content == "fallback"  # queue exhausted: back to `script`


@pytest.mark.parametrize("stream", [False, True])
def test_hang_beyond_timeout_raises_api_timeout_error(stream: bool) -> None:
    with ScriptedLLM(Script(reply="late", hang=30)) as llm:
        with pytest.raises(openai.APITimeoutError):
            client(llm, timeout=0.3).chat.completions.create(model="m", messages=MESSAGES, stream=stream)
        assert llm.calls == 1
        started = time.monotonic()
    assert time.monotonic() - started < 3  # the hanging handler does not hold up shutdown


def test_hang_within_timeout_still_answers(llm: ScriptedLLM) -> None:
    llm.script = Script(reply="slow", hang=0.2, delay=0.1)
    started = time.monotonic()
    response = client(llm).chat.completions.create(model="m", messages=MESSAGES)
    assert response.choices[0].message.content == "slow"
    assert time.monotonic() - started >= 0.3


def test_chunk_delay_spaces_streamed_events(llm: ScriptedLLM) -> None:
    llm.script = Script(reply="abcd", chunks=2, chunk_delay=0.1)
    started = time.monotonic()
    text = "".join(e.choices[0].delta.content or ""
                   for e in client(llm).chat.completions.create(model="m", messages=MESSAGES, stream=True))
    assert text == "abcd"
    assert time.monotonic() - started >= 0.3  # four events, three gaps


def test_malformed_body_raises_json_decode_error(llm: ScriptedLLM) -> None:
    llm.script = Script(reply="x", malformed=True)
    with pytest.raises(json.JSONDecodeError):
        client(llm).chat.completions.create(model="m", messages=MESSAGES)
    stream = client(llm).chat.completions.create(model="m", messages=MESSAGES, stream=True)
    with pytest.raises(json.JSONDecodeError):
        list(stream)


def test_requests_records_every_body(llm: ScriptedLLM) -> None:
    c = client(llm)
    c.chat.completions.create(model="m-a", messages=MESSAGES, temperature=0.2, max_tokens=64)
    list(c.chat.completions.create(model="m-b", messages=MESSAGES[1:], stream=True))
    assert llm.calls == 2
    first, second = llm.requests
    assert first["model"] == "m-a" and first["messages"] == MESSAGES
    assert first["temperature"] == 0.2 and first["max_tokens"] == 64 and not first.get("stream")
    assert second["model"] == "m-b" and second["messages"] == MESSAGES[1:] and second["stream"] is True


def test_models_lists_one_model(llm: ScriptedLLM) -> None:
    models = list(client(llm).models.list())
    assert [m.id for m in models] == ["scripted"]
