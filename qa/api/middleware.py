"""ASGI middleware: body-size limit (413) and request id + structured access log.

Access control is in `security.py`, load shedding in `overload.py`, response
headers in `headers.py`.
"""

from __future__ import annotations

import json
import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qa.logs import json_line

access_log = logging.getLogger("qa.access")


async def send_error(
    send: Send,
    status: int,
    error: str,
    message: str,
    request_id: str | None,
    extra_headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """Reply with the API's JSON error shape from inside ASGI middleware."""
    body: dict[str, object] = {"error": error, "message": message, "details": [], "request_id": request_id}
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
               *extra_headers]
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class BodyLimitMiddleware:
    """Reject bodies over `limit` bytes with 413, with or without Content-Length.

    The body is read (up to the limit) before the app runs and then replayed,
    so a chunked upload is cut off as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int | None = None) -> None:
        self.app = app
        self.limit = limit
        self.upload_limit = upload_limit or limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id")
        limit = self.upload_limit if is_document_write(scope) else self.limit
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _drain(receive, 0)
            await self._reject(send, request_id, limit)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > limit:
                if more:
                    await _drain(receive, size)
                await self._reject(send, request_id, limit)
                return
            chunks.append(chunk)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, send: Send, request_id: str | None, limit: int) -> None:
        await send_error(send, 413, "payload_too_large", f"request body is larger than {limit} bytes", request_id)


# Past this much, a rejected body is no longer read: the connection is closed on the sender instead.
MAX_DRAIN_BYTES = 1024 * 1024


async def _drain(receive: Receive, seen: int) -> None:
    """Read and drop the rest of a rejected body (up to MAX_DRAIN_BYTES in all), so the connection ends
    cleanly after the 413: closing a socket whose unread data is still queued makes the kernel send a
    reset, which can destroy the 413 on its way and show the client a dropped connection instead."""
    while seen <= MAX_DRAIN_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def is_document_write(scope: Scope) -> bool:
    """An upload, replacement or deletion of a document (admin only, larger body limit)."""
    path = scope.get("path", "")
    return scope.get("method") in ("POST", "PUT", "DELETE") and (path == "/documents" or path.startswith("/documents/"))


class RequestLogMiddleware:
    """Give each request an id (X-Request-ID, echoed back) and log one JSON line for it.

    The question text is not logged unless `log_questions` is set; then the route puts it
    in `request.state.question` and it goes into this same line, JSON-escaped, so a
    question with line breaks cannot forge a log entry.
    """

    def __init__(self, app: ASGIApp, log_questions: bool = False) -> None:
        self.app = app
        self.log_questions = log_questions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            record = {
                "request_id": request_id,
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            }
            question = scope["state"].get("question")
            if self.log_questions and question is not None:
                record["question"] = question
            access_log.info(json_line(record))
