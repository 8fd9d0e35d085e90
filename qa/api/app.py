"""The FastAPI application factory. The model and index load once, in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from qa.api import errors
from qa.api.middleware import BodyLimitMiddleware, RequestLogMiddleware
from qa.api.routes import router
from qa.config import Settings, get_settings
from qa.service import QAService

log = logging.getLogger(__name__)

DESCRIPTION = """
中文文档检索问答服务：向量检索（FAISS）+ BM25（jieba 分词）融合，返回带精确引用（文档、章节路径、
原文字符位置）的抽取式答案，完全离线运行。

* `POST /ask` 提问，返回答案、引用段落与答案句子在原文中的位置；
* `GET /search` 只检索段落；
* `GET /documents/{doc_id}` 原文全文，`text[start:end]` 即引用内容。

错误统一返回 `{"error", "message", "details": [{"field", "reason"}], "request_id"}`。
"""


def create_app(settings: Settings | None = None, service: QAService | None = None) -> FastAPI:
    """Build the app. Pass `service` to serve an already-loaded index (tests do)."""
    settings = settings or (service.settings if service else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "service", None) is None:
            app.state.service = await run_in_threadpool(QAService.start, settings)
        yield

    app = FastAPI(
        title="中文文档问答服务 QA Service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    errors.install(app)
    app.include_router(router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization", "X-API-Key", "X-Request-ID"],
            allow_credentials=False,
        )
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    # Outermost, so even a 413 from the body limit is logged with a request id.
    app.add_middleware(RequestLogMiddleware, log_questions=settings.log_questions)
    return app
