"""Map every failure to one JSON error shape and one status; never leak a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.errors import (
    ConfigError,
    CorpusError,
    DocumentConflictError,
    DocumentRejectedError,
    IndexCorruptError,
    IndexWriteError,
    ModelError,
    NotFoundError,
    QAError,
)

log = logging.getLogger(__name__)

_STATUS = {
    NotFoundError: (404, "not_found"),
    DocumentRejectedError: (422, "invalid_document"),
    DocumentConflictError: (409, "document_exists"),
    # A reindex found a bad corpus file; the previous index keeps serving.
    CorpusError: (409, "corpus_invalid"),
    IndexWriteError: (503, "index_unavailable"),
    IndexCorruptError: (503, "index_unavailable"),
    ModelError: (503, "model_unavailable"),
    ConfigError: (503, "misconfigured"),
}
_HTTP_CODES = {
    401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    413: "payload_too_large", 415: "unsupported_media_type", 429: "rate_limited", 503: "overloaded",
}


def error_body(request: Request, error: str, message: str, details: list[dict] | None = None) -> dict:
    return {
        "error": error,
        "message": message,
        "details": details or [],
        "request_id": getattr(request.state, "request_id", None),
    }


def _field(loc: tuple) -> str | None:
    # FastAPI locations look like ("body", "question") or ("query", "k"); a bare
    # ("body",) means the body as a whole (invalid JSON, wrong type).
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path", "header") else list(map(str, loc))
    return ".".join(parts) or (str(loc[0]) if loc else None)


def _reason(err: dict) -> str:
    if err.get("type") == "json_invalid":
        return f"request body is not valid JSON ({err.get('ctx', {}).get('error', 'parse error')})"
    message = str(err.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def validation_details(exc: RequestValidationError) -> list[dict]:
    return [{"field": _field(tuple(err.get("loc", ()))), "reason": _reason(err)} for err in exc.errors()]


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(exc)
        message = "; ".join(f"{d['field']}: {d['reason']}" if d["field"] else d["reason"] for d in details)
        return JSONResponse(error_body(request, "invalid_request", message, details), status_code=422)

    @app.exception_handler(QAError)
    async def _qa_error(request: Request, exc: QAError) -> JSONResponse:
        status, code = next(((s, c) for cls, (s, c) in _STATUS.items() if isinstance(exc, cls)), (500, "error"))
        if status >= 500:
            log.error("%s: %s", type(exc).__name__, exc)
        # Name the bad file relative to the corpus folder: clients need not learn the server's paths.
        message = str(exc.within(request.app.state.settings.corpus_dir)) if isinstance(exc, CorpusError) else str(exc)
        details = [{"field": "file", "reason": message}] if isinstance(exc, DocumentRejectedError) else None
        return JSONResponse(error_body(request, code, message, details), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI's only 400 is a body it cannot decode (e.g. invalid UTF-8): invalid input, like bad JSON.
            details = [{"field": "body", "reason": f"request body is not valid UTF-8 JSON ({exc.detail})"}]
            return JSONResponse(
                error_body(request, "invalid_request", details[0]["reason"], details), status_code=422
            )
        code = _HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(
            error_body(request, code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Last resort: the client gets an id to report, the log gets the traceback.
        log.exception("unhandled error")
        body = error_body(request, "internal_error", "internal error; report the request_id")
        # This handler runs outside the request-id middleware, so it sets the header itself.
        headers = {"X-Request-ID": body["request_id"]} if body["request_id"] else None
        return JSONResponse(body, status_code=500, headers=headers)
