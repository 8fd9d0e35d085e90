"""The chat widget's files and the demo pages, served by the app itself (no CDN).

Static routes are `async def` and answer from memory: they never wait for the
thread pool that the expensive routes use. With API keys required, the demo
pages get the public demo key (QA_DEMO_API_KEY) in their widget tag, or say
that one is needed.
"""

from __future__ import annotations

import functools
import html
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from qa.api.routes import ServiceDep
from qa.config import Settings

STATIC = Path(__file__).parent / "static"
JS = "text/javascript; charset=utf-8"
CSS = "text/css; charset=utf-8"
# Filled in by `_demo_page`; the files stay valid HTML when opened as they are.
KEY_SLOT = 'data-api-key=""'
NOTICE_SLOT = "<!--qa:notice-->"
NOTICE = ('<p class="qa-notice" role="status">此服务要求 API 密钥，而演示页没有配置公开密钥（QA_DEMO_API_KEY），'
          "所以这里无法提问。请在您的网页中用 <code>data-api-key</code> 提供密钥。</p>")
router = APIRouter()


class Suggestions(BaseModel):
    questions: list[str]


@functools.cache
def _static(name: str) -> bytes:
    return (STATIC / name).read_bytes()


def _demo_page(settings: Settings, name: str) -> HTMLResponse:
    page = _static(name).decode("utf-8")
    if settings.demo_api_key:
        page = page.replace(KEY_SLOT, f'data-api-key="{html.escape(settings.demo_api_key)}"')
    elif settings.api_keys:
        page = page.replace(NOTICE_SLOT, NOTICE)
    return HTMLResponse(page)


@router.get("/", include_in_schema=False)
async def demo_page(request: Request) -> HTMLResponse:
    return _demo_page(request.app.state.settings, "index.html")


@router.get("/embed-example.html", include_in_schema=False)
async def embed_example(request: Request) -> HTMLResponse:
    return _demo_page(request.app.state.settings, "embed-example.html")


@router.get("/widget.js", include_in_schema=False)
async def widget_js() -> Response:
    return Response(_static("widget.js"), media_type=JS)


@router.get("/demo.js", include_in_schema=False)
async def demo_js() -> Response:
    return Response(_static("demo.js"), media_type=JS)


@router.get("/demo.css", include_in_schema=False)
async def demo_css() -> Response:
    return Response(_static("demo.css"), media_type=CSS)


@router.get("/suggestions", response_model=Suggestions, tags=["问答"], summary="示例问题（来自文档元数据或章节标题）")
def suggestions(service: ServiceDep, n: Annotated[int, Query(ge=1, le=20)] = 4) -> Suggestions:
    return Suggestions(questions=service.suggestions(n))
