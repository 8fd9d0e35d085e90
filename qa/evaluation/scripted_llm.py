"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

The service's optional LLM client talks to an OpenAI-compatible endpoint through the `openai`
package. To test its behaviour under success, streaming, server errors, slowness, timeouts and
garbage, we need a server that answers exactly what a test asks for, over real HTTP, so the real
client code (retries, timeouts, SSE parsing) runs unchanged. No network, no model, no API key.

    with ScriptedLLM() as llm:
        llm.queue(Script(status=500), Script(reply="ok"))   # first attempt fails, the retry succeeds
        client = OpenAI(base_url=llm.base_url, api_key="x", max_retries=1)
        ...
        assert llm.calls == 2
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MODEL = "scripted"


@dataclass
class Script:
    """What the server does for one request (fields combine: e.g. a delay before a 500)."""

    reply: str = ""  # the assistant message content
    chunks: int | None = None  # streamed in this many content pieces; None: one piece per 4 characters
    status: int = 200  # non-200: that status with an OpenAI-style JSON error body
    delay: float = 0.0  # seconds before the response starts (time to first byte)
    chunk_delay: float = 0.0  # seconds between streamed events
    malformed: bool = False  # invalid JSON body (non-streaming) or an invalid SSE data line (streaming)
    hang: float = 0.0  # seconds of silence before anything else, to exceed a client timeout


def split_reply(text: str, pieces: int | None) -> list[str]:
    """`text` in `pieces` consecutive parts of near-equal length (some empty if pieces > len(text))."""
    n = max(1, -(-len(text) // 4)) if pieces is None else max(1, pieces)
    return [text[i * len(text) // n:(i + 1) * len(text) // n] for i in range(n)]


class ScriptedLLM:
    """Context manager: a uvicorn server in a background thread playing `script` (or the queued scripts)."""

    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self._queue: deque[Script] = deque()
        self._requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))  # bound here, so the port is known and nobody can take it meanwhile
        self.port: int = self._sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"]),
                                Route("/v1/models", self._models, methods=["GET"])])
        # A short graceful timeout bounds shutdown even if a handler is still sleeping.
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="scripted-llm", daemon=True)

    def queue(self, *scripts: Script) -> None:
        """Replace the FIFO of scripts, consumed one per request before falling back to `script`."""
        with self._lock:
            self._queue = deque(scripts)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """A snapshot of every JSON body received, in order (including requests that hung or failed)."""
        with self._lock:
            return list(self._requests)

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self._requests)

    def __enter__(self) -> ScriptedLLM:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._stop()
                raise RuntimeError("scripted LLM server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop()

    def _stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake early when the server is stopping, so a hung request never delays shutdown."""
        end = time.monotonic() + seconds
        while not self._server.should_exit and (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.05))

    async def _models(self, request: Request) -> Response:
        return JSONResponse({"object": "list",
                             "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "scripted"}]})

    async def _chat(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict):
                raise ValueError("request body is not a JSON object")
        except ValueError as exc:
            return self._error(400, f"invalid request: {exc}", "invalid_request_error")
        with self._lock:
            script = self._queue.popleft() if self._queue else self.script
            self._requests.append(body)
        await self._sleep(script.hang)
        await self._sleep(script.delay)
        if script.status != 200:
            return self._error(script.status, f"scripted status {script.status}", "server_error")
        model = str(body.get("model") or MODEL)
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if body.get("stream"):
            return StreamingResponse(self._events(script, ident, created, model), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        if script.malformed:
            return Response('{"choices": [', media_type="application/json")
        prompt_chars = sum(len(str(m.get("content") or "")) for m in body.get("messages") or [] if isinstance(m, dict))
        usage = {"prompt_tokens": -(-prompt_chars // 4), "completion_tokens": -(-len(script.reply) // 4)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return JSONResponse({
            "id": ident, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": script.reply},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": usage,
        })

    async def _events(self, script: Script, ident: str, created: int, model: str) -> AsyncIterator[str]:
        """SSE as OpenAI sends it: a role delta, the content deltas, an empty stop delta, then [DONE]."""
        if script.malformed:
            yield "data: {not json\n\n"
            yield "data: [DONE]\n\n"
            return
        deltas: list[tuple[dict[str, str], str | None]] = [({"role": "assistant", "content": ""}, None)]
        deltas += [({"content": piece}, None) for piece in split_reply(script.reply, script.chunks)]
        deltas.append(({}, "stop"))
        for i, (delta, finish) in enumerate(deltas):
            if i:
                await self._sleep(script.chunk_delay)
            chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"

    @staticmethod
    def _error(status: int, message: str, kind: str) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": None}},
                            status_code=status)
