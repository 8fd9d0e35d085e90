"""The FastAPI application factory. The model and index load once, in the lifespan."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from qa.api import collection, docs, errors, widget
from qa.api.headers import SecurityHeadersMiddleware, page_csp
from qa.api.middleware import BodyLimitMiddleware, RequestLogMiddleware
from qa.api.overload import ConcurrencyLimitMiddleware
from qa.api.routes import router
from qa.api.security import LIMITED_PATHS, AccessMiddleware
from qa.config import Settings, get_settings
from qa.errors import QAError
from qa.logs import configure_logging
from qa.service import QAService

log = logging.getLogger(__name__)
# How often a server checks `index/CURRENT` for a version published by another process (a read of a few bytes).
FOLLOW_SECONDS = 0.5

DESCRIPTION = """
中文文档检索问答服务：向量检索（FAISS）+ BM25（jieba 分词）融合，返回带精确引用（文档、章节路径、
原文字符位置）的抽取式答案，完全离线运行。

* `POST /ask` 提问，返回答案、引用段落与答案句子在原文中的位置；可附 `history`（此前的问题及其引用段落）以理解追问；
* `POST /ask/stream` 同上，以 Server-Sent Events 先返回段落，再（配置大模型时）逐段返回生成的答案，
  最后返回逐句核对后的完整结果；
* `GET /search` 只检索段落；
* `GET /documents/{doc_id}` 原文全文，`text[start:end]` 即引用内容。

错误统一返回 `{"error", "message", "details": [{"field", "reason"}], "request_id"}`。
"""


def _reindex_in_background(service: QAService) -> None:
    def run() -> None:
        try:
            service.reindex()
        except QAError as exc:
            log.error("reindex on SIGHUP failed, the previous index keeps serving: %s", exc)

    threading.Thread(target=run, name="reindex", daemon=True).start()


def _install_reload_signal(app: FastAPI) -> bool:
    """`kill -HUP <pid>` rebuilds the index from the corpus and swaps it in."""
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, _reindex_in_background, app.state.service)
        return True
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (test clients)
        return False


async def _follow_index(service: QAService) -> None:
    """Keep serving the version in `index/CURRENT` when another worker or a `qa add` / `qa build` publishes one."""
    while True:
        await asyncio.sleep(FOLLOW_SECONDS)
        try:
            await asyncio.to_thread(service.follow)  # loading takes a while: off the event loop
        except Exception:  # a surprise here must not end following for the life of the process
            log.exception("checking for a newly published index failed")


def create_app(settings: Settings | None = None, service: QAService | None = None, *, worker: bool = False) -> FastAPI:
    """Build the app. Pass `service` to serve an already-loaded index (tests do).

    `worker`: one of several `qa serve --workers` processes; the parent made the index current, so
    the lifespan only loads it (`QAService.attach`) instead of checking it against the corpus.
    """
    settings = settings or (service.settings if service else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "service", None) is None:
            try:
                app.state.service = await run_in_threadpool(QAService.attach if worker else QAService.start, settings)
            except QAError as exc:
                log.error("cannot start: %s", exc)  # one clear line before uvicorn's own report
                raise
        hangup = _install_reload_signal(app)
        follower = asyncio.create_task(_follow_index(app.state.service))
        yield
        follower.cancel()
        if hangup:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)

    app = FastAPI(
        title="中文文档问答服务 QA Service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local files by qa.api.docs, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.docs_csp = page_csp(settings, docs=True)
    errors.install(app)
    app.include_router(router)
    app.include_router(collection.router)
    app.include_router(widget.router)
    app.include_router(docs.router)
    # Starlette runs the last added middleware first. Order, outermost first: request id + access
    # log, security headers, CORS (so 401/413/429/503 replies carry CORS headers too), body limit
    # (the body is read before a slot is taken), keys + rate limit, then load shedding.
    app.add_middleware(
        ConcurrencyLimitMiddleware, paths=LIMITED_PATHS, limit=settings.max_concurrent,
        queue=settings.max_queue, timeout=settings.queue_timeout, streams=frozenset({"/ask/stream"}),
    )
    app.add_middleware(
        AccessMiddleware, api_keys=settings.api_keys, admin_keys=settings.admin_keys, rate_limit=settings.rate_limit,
        trust_forwarded=bool(settings.trusted_proxies),
    )
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes, upload_limit=settings.max_upload_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            allow_credentials=False,
        )
    app.add_middleware(SecurityHeadersMiddleware, page_policy=page_csp(settings))
    app.add_middleware(RequestLogMiddleware, log_questions=settings.log_questions)
    return app


def worker_app() -> FastAPI:
    """The app of one `qa serve --workers N` process (a uvicorn factory: settings from QA_* and .env)."""
    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings, worker=True)
