"""The LLM behind the optional generated answer: any OpenAI-compatible chat-completions server.

The `openai` package does the HTTP, the SSE parsing, the timeouts and the retries with exponential
backoff (on connection errors, timeouts, 408/409/429 and 5xx). Around it:
- a circuit breaker (qa.generation.breaker): after `llm_breaker_failures` failed generations in a
  row the LLM is not called for `llm_breaker_reset` seconds, so a dead or overloaded endpoint costs
  each request nothing instead of a timeout;
- a bound on generations in flight (`llm_concurrency`): each waits on the network in a worker
  thread, and a slow LLM must not take every thread the API has.
Every failure becomes one `LLMUnavailable` with a reason the user can read; callers fall back to
the extractive answer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import cast

import openai
from openai import Stream
from openai.types.chat import ChatCompletionChunk

from qa.config import Settings
from qa.generation.breaker import CircuitBreaker

log = logging.getLogger(__name__)


class LLMUnavailable(Exception):
    """The LLM gave no usable reply; `reason` says why, in Chinese, for the response."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reason(exc: Exception) -> str:
    if isinstance(exc, LLMUnavailable):
        return exc.reason
    if isinstance(exc, openai.APITimeoutError):
        return "大模型响应超时"
    if isinstance(exc, openai.APIStatusError):
        return f"大模型服务返回错误（HTTP {exc.status_code}）"
    if isinstance(exc, openai.APIConnectionError):
        return "无法连接大模型服务"
    if isinstance(exc, (json.JSONDecodeError, ValueError, TypeError, KeyError, AttributeError)):
        return "大模型返回了无法解析的内容"
    return f"大模型调用失败（{type(exc).__name__}）"


class ChatClient:
    """Streams a chat completion's text; thread-safe (one client, breaker and bound per service)."""

    def __init__(self, settings: Settings) -> None:
        if not (settings.llm_base_url and settings.llm_model):
            raise ValueError("the LLM client needs QA_LLM_BASE_URL and QA_LLM_MODEL")
        self.model = settings.llm_model
        self.max_tokens = settings.llm_max_tokens
        self.deadline = settings.llm_deadline
        self._client = openai.OpenAI(
            base_url=settings.llm_base_url,
            # Local servers (llama.cpp, vLLM, Ollama) accept any key; the package insists on one.
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed",
            timeout=settings.llm_timeout,  # for the connection and for each read of the stream
            max_retries=settings.llm_retries,
        )
        self.breaker = CircuitBreaker(settings.llm_breaker_failures, settings.llm_breaker_reset)
        self._slots = threading.BoundedSemaphore(settings.llm_concurrency)

    @property
    def state(self) -> str:
        """The circuit: closed (calls go through), open (refused), half-open (one trial call)."""
        return self.breaker.state

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """The reply's text as it arrives. Raises LLMUnavailable (before or during the stream).
        Closing the iterator early (the client went away) closes the connection to the LLM."""
        if not self._slots.acquire(blocking=False):
            raise LLMUnavailable("大模型同时处理的请求已达上限")
        try:
            if not self.breaker.allow():
                raise LLMUnavailable("大模型服务暂时不可用（连续失败后暂停调用）")
            finished = False
            try:
                yield from self._stream(messages)
                finished = True
            except GeneratorExit:
                raise
            except Exception as exc:
                self.breaker.failure()
                log.warning("LLM generation failed: %s", _reason(exc))
                raise LLMUnavailable(_reason(exc)) from exc
            finally:
                if finished:
                    self.breaker.success()
                else:
                    self.breaker.abandon()  # a no-op after failure(); else the client left
        finally:
            self._slots.release()

    def _stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        started = time.monotonic()
        chunks = cast(Stream[ChatCompletionChunk], self._client.chat.completions.create(
            model=self.model, messages=messages, stream=True,  # type: ignore[arg-type]
            temperature=0, max_tokens=self.max_tokens,
        ))
        with chunks:
            got_text = False
            for chunk in chunks:
                if time.monotonic() - started > self.deadline:
                    raise LLMUnavailable("大模型生成超过时限")
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        got_text = True
                        yield choice.delta.content
            if not got_text:
                raise LLMUnavailable("大模型返回了空答案")
