"""Document writes over HTTP (admin key): upload, replace, delete. Each returns the new index version.

The handlers are plain `def`: a change rebuilds the index (embedding only new passages) in the thread
pool while readers keep using the previous index until the new one is switched in (qa.service).
"""

from __future__ import annotations

import json
import time
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile
from fastapi.exceptions import RequestValidationError

from qa.api.routes import ERRORS, NOT_FOUND, ServiceDep
from qa.api.schemas import DocumentChange, ErrorResponse
from qa.collection import Upload
from qa.corpus import DOC_ID
from qa.store import BuiltIndex

router = APIRouter(tags=["文档管理"])
DOC_ID_PATTERN = DOC_ID.pattern
WRITE_ERRORS = {
    **ERRORS,
    401: {"model": ErrorResponse, "description": "需要管理密钥"},
    403: {"model": ErrorResponse, "description": "未配置管理密钥（QA_ADMIN_KEYS），文档管理已关闭"},
    409: {"model": ErrorResponse, "description": "文档 id 已存在（替换请用 PUT）"},
    422: {"model": ErrorResponse, "description": "文件无法使用（空文件、格式不支持、扫描件无文字层、加密等），索引不变"},
}
FileField = Annotated[UploadFile, File(description="PDF、Word（.docx）、HTML、文本或 Markdown；类型按内容判断")]
MetadataField = Annotated[
    str | None,
    Form(description='可选的元数据 JSON（同 .meta.json），如 {"title": "…", "doc_number": "…", "date": "2019-06-03"}；'
                     "缺省时从正文提取文号、收件人、发文单位和日期"),
]


def _metadata(raw: str | None) -> dict | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise RequestValidationError([{"loc": ("body", "metadata"), "msg": f"not valid JSON ({exc})",
                                       "type": "value_error"}]) from None
    if not isinstance(value, dict):
        raise RequestValidationError([{"loc": ("body", "metadata"), "msg": "must be a JSON object",
                                       "type": "value_error"}])
    return value


def _upload(file: UploadFile, metadata: str | None, doc_id: str | None = None) -> Upload:
    return Upload(file.filename or "upload", file.file.read(), doc_id, _metadata(metadata))


def _result(built: BuiltIndex, doc_ids: list[str], started: float) -> DocumentChange:
    m = built.manifest
    return DocumentChange(index_version=m.version, doc_ids=doc_ids, documents=m.documents, passages=m.passages,
                          embedded=m.embedded, took_ms=round((time.perf_counter() - started) * 1000, 1))


@router.post("/documents", response_model=DocumentChange, status_code=201, responses=WRITE_ERRORS,
             summary="上传新文档并更新索引（需要管理密钥）")
def add_document(
    service: ServiceDep,
    file: FileField,
    metadata: MetadataField = None,
    doc_id: Annotated[str | None, Form(description="文档 id；缺省时取元数据中的 doc_id 或文件名",
                                       pattern=DOC_ID_PATTERN)] = None,
) -> DocumentChange:
    started = time.perf_counter()
    built, changed = service.change_documents(add=[_upload(file, metadata, doc_id)])
    return _result(built, changed, started)


@router.put("/documents/{doc_id}", response_model=DocumentChange, responses={**WRITE_ERRORS, **NOT_FOUND},
            summary="用新文件替换文档并更新索引（需要管理密钥；未给元数据时沿用原元数据）")
def replace_document(
    service: ServiceDep,
    doc_id: Annotated[str, Path(max_length=300)],
    file: FileField,
    metadata: MetadataField = None,
) -> DocumentChange:
    started = time.perf_counter()
    built, changed = service.change_documents(replace={doc_id: _upload(file, metadata, doc_id)})
    return _result(built, changed, started)


@router.delete("/documents/{doc_id}", response_model=DocumentChange, responses={**WRITE_ERRORS, **NOT_FOUND},
               summary="删除文档并更新索引（需要管理密钥）")
def delete_document(service: ServiceDep, doc_id: Annotated[str, Path(max_length=300)]) -> DocumentChange:
    started = time.perf_counter()
    built, changed = service.change_documents(remove=[doc_id])
    return _result(built, changed, started)
