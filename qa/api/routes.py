"""HTTP routes.

The expensive handlers (/ask, /search) are plain `def`: FastAPI runs them in its thread
pool, so CPU-bound retrieval never blocks the event loop, and `overload.py` bounds how
many run at once. Cheap handlers (health, readiness, documents, passages) are
`async def`: they never wait behind a busy pool, so /health answers under any load.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Generator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.sse import EventSourceResponse, format_sse_event
from pydantic import BaseModel, ValidationError

from qa.api.schemas import (
    MAX_FILTER_IDS,
    MAX_QUESTION_CHARS,
    MAX_TOP_K,
    QUESTION_PATTERN,
    AnswerCitation,
    AskRequest,
    AskResponse,
    Citation,
    DocIdFilter,
    DocumentMeta,
    DocumentOut,
    ErrorResponse,
    FiltersIn,
    Health,
    ModeField,
    PassageDetail,
    PassageOut,
    Ready,
    ReindexResult,
    SearchResponse,
    SentenceCheckOut,
    ShortAnswerOut,
    StreamPassages,
    StreamToken,
    clean_question,
)
from qa.schema import Document, Hit
from qa.service import AskResult, QAService, Retrieved

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorResponse, "description": "请求参数无效（指明字段和原因）"},
    413: {"model": ErrorResponse, "description": "请求体过大"},
    429: {"model": ErrorResponse, "description": "超过频率限制（见 Retry-After）"},
    503: {"model": ErrorResponse, "description": "服务繁忙，请在 Retry-After 秒后重试"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "不存在的 id"}}

router = APIRouter()
log = logging.getLogger(__name__)


async def get_service(request: Request) -> QAService:
    # async: a plain-def dependency costs a thread-pool hop per request
    return request.app.state.service


ServiceDep = Annotated[QAService, Depends(get_service)]


def _passages(documents: dict[str, Document], hits: list[Hit]) -> list[PassageOut]:
    """`documents`: of the index the hits came from (a reload may have replaced the service's since)."""
    return [PassageOut.of(hit, documents[hit.passage.doc_id]) for hit in hits]


@router.post("/ask", response_model=AskResponse, responses=ERRORS, tags=["问答"], summary="提问并获得带引用的答案")
def ask(body: AskRequest, service: ServiceDep, request: Request) -> AskResponse:
    started = time.perf_counter()
    request.state.question = body.question  # for the access log line, escaped, when QA_LOG_QUESTIONS is on
    filters = body.filters.to_filters() if body.filters else None
    result = service.ask(body.question, body.top_k, body.mode, filters, [t.to_turn() for t in body.history])
    return ask_response(body.question, result, started)


STREAM_EVENTS = (
    "事件依次为：`passages`（检索到的段落，JSON 同 /ask 的 passages 及 resolved_question），"
    "若配置了大模型则有若干 `token`（`{\"text\": 片段}`），最后一个 `answer`（JSON 同 /ask 的响应，"
    "含逐句核对结果）。处理中出错时发送 `error`（JSON 同错误响应）后结束。未配置大模型时 `answer` 紧随 `passages`。"
)


STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "text/event-stream：事件 passages（StreamPassages）、token（StreamToken）、answer（AskResponse）"
                         "或 error（ErrorResponse），data 为 JSON",
          # itemSchema: the shape of each event, as FastAPI documents its own event streams (OpenAPI 3.2).
          "content": {"text/event-stream": {"itemSchema": {
              "type": "object",
              "properties": {"event": {"type": "string", "enum": ["passages", "token", "answer", "error"]},
                             "data": {"type": "string", "contentMediaType": "application/json"}},
              "required": ["event", "data"]}}}},
    **ERRORS,
}


# Returns the event stream itself rather than yielding events (FastAPI's SSE mode, chosen by
# response_class=EventSourceResponse): that mode sends the 200 before the handler runs, so a retrieval
# error could no longer get its own status.
@router.post("/ask/stream", response_class=StreamingResponse, response_model=None, responses=STREAM_RESPONSES,
             tags=["问答"], summary="提问，以 Server-Sent Events 流式返回段落、答案片段和核对结果",
             description=STREAM_EVENTS)
def ask_stream(body: AskRequest, service: ServiceDep, request: Request) -> EventSourceResponse:
    started = time.perf_counter()
    request.state.question = body.question
    filters = body.filters.to_filters() if body.filters else None
    # Retrieval runs before the response starts, so its errors get their own status like /ask's.
    retrieved = service.retrieve(body.question, body.top_k, body.mode, filters, [t.to_turn() for t in body.history])
    events = _answer_events(service, body.question, retrieved, started, getattr(request.state, "request_id", None))
    return EventSourceResponse(_in_threads(events))


def _event(name: str, data: BaseModel) -> bytes:
    return format_sse_event(event=name, data_str=data.model_dump_json())


def _answer_events(service: QAService, question: str, retrieved: Retrieved, started: float,
                   request_id: str | None) -> Generator[bytes]:
    """passages, then token pieces while an LLM writes, then the answer; an error event if anything fails
    (the 200 and its headers are sent by then)."""
    yield _event("passages", StreamPassages(
        question=question, resolved_question=retrieved.resolution.question, index_version=retrieved.index_version,
        passages=_passages(retrieved.state.documents_by_id, retrieved.search.hits),
        took_ms=round((time.perf_counter() - started) * 1000, 3)))
    try:
        first_token: float | None = None
        for item in service.answer_stream(retrieved):
            if isinstance(item, str):
                if first_token is None:
                    first_token = round((time.perf_counter() - started) * 1000, 3)
                yield _event("token", StreamToken(text=item))
                continue
            if first_token is not None:
                item.search.timings["first_token"] = first_token
            yield _event("answer", ask_response(question, item, started))
    except Exception:
        log.exception("/ask/stream failed after its passages")
        yield _event("error", ErrorResponse(error="internal_error", message="处理问题时出错，请稍后重试",
                                            request_id=request_id))


async def _in_threads(events: Generator[bytes]) -> AsyncIterator[bytes]:
    """Iterate a blocking generator in worker threads and close it when the response ends, also when the
    client goes away: left to the garbage collector (as FastAPI's own iterate_in_threadpool leaves it), an
    LLM generation would run on for nobody, holding a thread and an LLM slot."""
    try:
        while (chunk := await anyio.to_thread.run_sync(next, events, None)) is not None:
            yield chunk
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(events.close)


def ask_response(question: str, result: AskResult, started: float) -> AskResponse:
    """The /ask body; `qa ask --json` prints the same."""
    return AskResponse(
        question=question,
        resolved_question=result.resolved_question,
        index_version=result.index_version,
        answer=result.answer.text,
        short_answer=ShortAnswerOut.of(result.answer.short),
        answerable=result.answer.answerable,
        confidence=result.answer.confidence,
        reason=result.answer.reason,
        passages=_passages(result.documents, result.search.hits),
        answer_citations=[AnswerCitation.of(s) for s in result.answer.spans],
        generator=result.answer.generator,
        generator_note=result.answer.generator_note,
        verification=[SentenceCheckOut.of(c) for c in result.answer.checks],
        timings=result.search.timings,
        took_ms=round((time.perf_counter() - started) * 1000, 3),
    )


@router.get("/search", response_model=SearchResponse, responses=ERRORS, tags=["检索"], summary="检索相关段落（不生成答案）")
def search(
    service: ServiceDep,
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS, description="查询", examples=["5G覆盖哪些区域"],
                            json_schema_extra={"pattern": QUESTION_PATTERN})],
    k: Annotated[int, Query(ge=1, le=MAX_TOP_K, description="返回的段落数")] = 5,
    mode: Annotated[ModeField, Query(description="dense | bm25 | hybrid")] = "hybrid",
    doc_id: Annotated[list[DocIdFilter], Query(max_length=MAX_FILTER_IDS, description="只在这些文档中检索（可重复）")] = [],  # noqa: B006
    doc_number: Annotated[str | None, Query(max_length=64, description="文号")] = None,
    issuer: Annotated[str | None, Query(min_length=1, max_length=64, description="发文单位名称中的一段")] = None,
    date_from: Annotated[dt.date | None, Query(description="发文日期不早于（含），如 2019-01-01")] = None,
    date_to: Annotated[dt.date | None, Query(description="发文日期不晚于（含）")] = None,
) -> SearchResponse:
    started = time.perf_counter()
    try:
        query = clean_question(q)
        filters = FiltersIn(doc_ids=doc_id, doc_number=doc_number, issuer=issuer, date_from=date_from, date_to=date_to)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]) from None
    except ValueError as exc:
        raise RequestValidationError([{"loc": ("query", "q"), "msg": str(exc), "type": "value_error"}]) from None
    request.state.question = query
    state = service.state
    result = state.retriever.search(query, k, mode, filters.to_filters())
    return SearchResponse(
        query=query,
        index_version=state.built.manifest.version,
        passages=_passages(state.documents_by_id, result.hits),
        timings=result.timings,
        took_ms=round((time.perf_counter() - started) * 1000, 3),
    )


@router.get("/passages/{passage_id}", response_model=PassageDetail, responses=NOT_FOUND, tags=["原文"])
async def passage(service: ServiceDep, passage_id: Annotated[str, Path(max_length=300)]) -> PassageDetail:
    p = service.passage(passage_id)
    doc = service.document(p.doc_id)
    return PassageDetail(
        id=p.id,
        text=p.text,
        citation=Citation.of(p, doc),
    )


@router.get("/documents", response_model=list[DocumentMeta], tags=["原文"], summary="文档列表")
async def documents(service: ServiceDep) -> list[DocumentMeta]:
    return [DocumentMeta.of(d) for d in service.documents()]


@router.get("/documents/{doc_id}", response_model=DocumentOut, responses=NOT_FOUND, tags=["原文"],
            summary="文档全文（逐字，用于核对和高亮引用）")
async def document(service: ServiceDep, doc_id: Annotated[str, Path(max_length=300)]) -> DocumentOut:
    doc = service.document(doc_id)
    return DocumentOut(**DocumentMeta.of(doc).model_dump(), text=doc.text)


@router.get("/ready", response_model=Ready, responses={503: {"model": Ready}}, tags=["运维"],
            summary="索引已加载且各部分一致")
async def ready(service: ServiceDep) -> JSONResponse:
    built = service.state.built
    m = built.manifest
    checks = {
        "passages_match_vectors": built.dense.count == len(built.passages) == m.passages,
        "passages_match_bm25": built.sparse.size == len(built.passages),
        "dimension_matches_model": built.dense.dim == m.dim == service.encoder.dim,
        "documents_loaded": len(built.documents) == m.documents > 0,
    }
    body = Ready(ready=all(checks.values()), index_version=m.version, checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@router.post("/admin/reindex", response_model=ReindexResult, tags=["运维"],
             responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}, 409: {"model": ErrorResponse}},
             summary="从语料目录重建索引并无缝切换（需要管理密钥）")
def reindex(service: ServiceDep) -> ReindexResult:
    started = time.perf_counter()
    built = service.reindex()
    return ReindexResult(index_version=built.manifest.version, documents=len(built.documents),
                         passages=len(built.passages), took_ms=round((time.perf_counter() - started) * 1000, 1))


@router.get("/health", response_model=Health, tags=["运维"], summary="进程存活与索引概况")
async def health(service: ServiceDep) -> Health:
    state = service.state
    manifest = state.built.manifest
    return Health(
        status="ok",
        documents=len(state.built.documents),
        passages=len(state.built.passages),
        model=manifest.model_id,
        inference=service.encoder.backend,
        backend=state.built.dense.backend,
        vector_index=state.built.dense.kind,
        llm=service.llm.state if service.llm else "off",
        index_version=manifest.version,
        index_built_at=dt.datetime.fromtimestamp(manifest.built_at, dt.UTC).isoformat(timespec="seconds"),
    )
