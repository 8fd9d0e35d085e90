"""The chat widget's files and the demo page, served by the app itself (no CDN)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel

from qa.api.routes import ServiceDep

STATIC = Path(__file__).parent / "static"
router = APIRouter()


class Suggestions(BaseModel):
    questions: list[str]


@router.get("/", include_in_schema=False)
def demo_page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")


@router.get("/embed-example.html", include_in_schema=False)
def embed_example() -> FileResponse:
    return FileResponse(STATIC / "embed-example.html", media_type="text/html; charset=utf-8")


@router.get("/widget.js", include_in_schema=False)
def widget_js() -> FileResponse:
    return FileResponse(STATIC / "widget.js", media_type="text/javascript; charset=utf-8")


@router.get("/suggestions", response_model=Suggestions, tags=["问答"], summary="示例问题（来自文档元数据或章节标题）")
def suggestions(service: ServiceDep, n: Annotated[int, Query(ge=1, le=20)] = 4) -> Suggestions:
    return Suggestions(questions=service.suggestions(n))
